package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// ErrHelp is returned by Parse for --help / -h; print PrintUsage and exit 0.
var ErrHelp = pflag.ErrHelp

// Parse builds the configuration from command-line args (without the command name),
// the environment (getenv; nil means os.Getenv) and the --config file, then validates
// it. Warnings are returned for the caller to log once logging is set up: unknown
// flags and file keys (errors with --strict), --wandb.* and --btlm.use_deepspeed.
func Parse(args []string, getenv func(string) string) (*Config, []string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := Default()
	fs := newFlagSet(&c)
	fs.ParseErrorsWhitelist.UnknownFlags = true
	fs.SetOutput(discard{})
	fs.Usage = func() {}

	unknown := unknownFlags(fs, args)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, nil, ErrHelp
		}
		return nil, nil, err
	}
	c.Sources = map[string]Source{}
	fs.Visit(func(f *pflag.Flag) { c.Sources[f.Name] = FromFlag })

	var warnings []string
	var problems []string // unknown flags or keys: warnings, or errors with --strict
	for _, u := range unknown {
		if strings.HasPrefix(u, "--wandb.") || strings.HasPrefix(u, "--wandb=") {
			continue // reported with the known wandb flags below
		}
		problems = append(problems, "unknown flag "+u)
	}
	for _, a := range fs.Args() {
		problems = append(problems, fmt.Sprintf("unexpected argument %q (boolean flags take no separate value: write --flag or --flag=false)", a))
	}

	// The file and --strict themselves may come from the environment.
	for _, name := range []string{"config", "strict"} {
		if _, set := c.Sources[name]; !set {
			if err := setFromEnv(fs, &c, name, getenv); err != nil {
				return nil, nil, err
			}
		}
	}
	var file map[string]any
	if c.File != "" {
		var fileProblems []string
		var err error
		file, fileProblems, err = readFile(c.File)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range sortedKeys(file) {
			if f := fs.Lookup(k); f == nil || k == "config" {
				if strings.HasPrefix(k, "wandb.") {
					warnings = append(warnings, fmt.Sprintf("config file key %s ignored: Weights & Biases is replaced by Prometheus metrics (--metrics.port)", k))
					continue
				}
				fileProblems = append(fileProblems, fmt.Sprintf("unknown key %q in config file %s", k, c.File))
			}
		}
		problems = append(problems, fileProblems...)
	}
	if c.Strict && len(problems) > 0 {
		return nil, nil, fmt.Errorf("%s (--strict)", strings.Join(problems, "; "))
	}
	warnings = append(warnings, problems...)

	// Precedence for everything not given on the command line: file, then environment.
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Name == "config" {
			return
		}
		if _, set := c.Sources[f.Name]; set {
			return
		}
		if v, ok := file[f.Name]; ok && v != nil {
			if e := setValue(f, v); e != nil {
				err = fmt.Errorf("config file %s: key %s: %w", c.File, f.Name, e)
				return
			}
			c.Sources[f.Name] = FromFile
			return
		}
		err = setFromEnv(fs, &c, f.Name, getenv)
	})
	if err != nil {
		return nil, nil, err
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if _, set := c.Sources[f.Name]; !set {
			c.Sources[f.Name] = FromDefault
		}
	})
	c.BTLM.SeedSet = c.Sources["btlm.seed"] != FromDefault

	if c.Wandb != (Wandb{}) || hasPrefix(unknown, "--wandb.") {
		warnings = append(warnings, "--wandb.* flags are ignored: Weights & Biases is replaced by Prometheus metrics (--metrics.port)")
	}
	if c.BTLM.UseDeepspeed {
		warnings = append(warnings, "--btlm.use_deepspeed has no effect: the model runs natively in Go")
	}
	if c.Miner.NoSetWeights && c.Miner.SetWeights {
		warnings = append(warnings, "--miner.no_set_weights wins over --miner.set_weights: no weights will be set")
	}
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return &c, warnings, nil
}

// setFromEnv applies the flag's environment variable, if set.
func setFromEnv(fs *pflag.FlagSet, c *Config, name string, getenv func(string) string) error {
	f := fs.Lookup(name)
	for _, env := range append([]string{EnvName(name)}, envAliases[name]...) {
		v := getenv(env)
		if v == "" {
			continue
		}
		var err error
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			err = sv.Replace(splitList(v))
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			return fmt.Errorf("environment %s=%q: %w", env, v, err)
		}
		c.Sources[name] = FromEnv
		return nil
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// unknownFlags lists the flags in args that fs does not define (as written, without
// their value), stopping at "--".
func unknownFlags(fs *pflag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name, _, hasValue := strings.Cut(a[2:], "=")
			if name == "help" {
				continue
			}
			f := fs.Lookup(name)
			if f == nil {
				out = append(out, "--"+name)
			} else if !hasValue && f.NoOptDefVal == "" {
				i++ // the next argument is this flag's value, even when it starts with "-"
			}
		case strings.HasPrefix(a, "-") && len(a) > 1 && a != "-h":
			name, _, _ := strings.Cut(a[1:], "=")
			out = append(out, "-"+name)
		}
	}
	return out
}

func hasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
