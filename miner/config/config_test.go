package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	hkAlice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY" // //Alice
	hkBob   = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty" // //Bob
)

func noEnv(string) string { return "" }

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func mustParse(t *testing.T, args []string, env func(string) string) (*Config, []string) {
	t.Helper()
	c, warns, err := Parse(args, env)
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return c, warns
}

// effective maps flag name → value text.
func effective(c *Config) map[string]string {
	out := map[string]string{}
	for _, line := range c.Effective() {
		kv, _, _ := strings.Cut(line, " (")
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// TestSeedDefaults checks every flag of the seed (prompting/baseminer/config.py,
// bittensorLM/miner.py and bittensor 6.1.0's add_args) with its default. The two
// documented deviations are marked.
func TestSeedDefaults(t *testing.T) {
	c, warns := mustParse(t, nil, noEnv)
	if len(warns) != 0 {
		t.Errorf("warnings with no arguments: %q", warns)
	}
	eff := effective(c)
	for _, tc := range []struct{ flag, want string }{
		{"netuid", "1"},
		{"btlm.device", "cpu"}, // seed: cuda (no GPU path in Go; cuda is refused)
		{"btlm.max_length", "100"},
		{"btlm.do_sample", "false"},
		{"btlm.no_repeat_ngram_size", "2"},
		{"btlm.do_prompt_injection", "false"},
		{"btlm.system_prompt", DefaultSystemPrompt},
		{"btlm.use_deepspeed", "false"},
		{"btlm.temperature", "0.7"},
		{"btlm.model", "cerebras/btlm-3b-8k-base"},
		{"btlm.revision", "main"},
		{"btlm.top_k", "50"},
		{"btlm.top_p", "1"},
		{"btlm.seed", "0"},
		{"btlm.completion_format", "seed"},
		{"btlm.quant", "none"},
		{"btlm.max_batch", "8"},
		{"miner.root", "~/.bittensor/miners/"},
		{"miner.name", "Bittensor Miner"},
		{"miner.blocks_per_epoch", "100"},
		{"miner.blacklist.blacklist", "[]"},
		{"miner.blacklist.whitelist", "[]"},
		{"miner.blacklist.force_validator_permit", "false"},
		{"miner.blacklist.allow_non_registered", "false"},
		{"miner.blacklist.minimum_stake_requirement", "0"},
		{"miner.blacklist.prompt_cache_block_span", "7200"},
		{"miner.blacklist.use_prompt_cache", "false"},
		{"miner.blacklist.min_request_period", "5"},
		{"miner.priority.default", "0"},
		{"miner.priority.time_stake_multiplicate", "10"},
		{"miner.priority.len_request_timestamps", "50"},
		{"miner.no_set_weights", "false"},
		{"miner.no_serve", "false"},
		{"miner.no_start_axon", "false"},
		{"miner.mock_subtensor", "false"},
		{"wallet.name", "default"},
		{"wallet.hotkey", "default"},
		{"wallet.path", "~/.bittensor/wallets/"},
		{"axon.port", "8091"},
		{"axon.ip", "[::]"},
		{"axon.external_ip", ""},
		{"axon.external_port", "0"}, // seed: None
		{"axon.max_workers", "10"},
		{"subtensor.network", "finney"},
		{"subtensor.chain_endpoint", ""}, // seed: the finney URL, used only when set
		{"logging.debug", "false"},
		{"logging.trace", "false"},
		{"logging.record_log", "false"},
		{"logging.logging_dir", "~/.bittensor/miners"},
		{"wandb.on", "false"},
		{"wandb.project_name", ""},
		{"wandb.entity", ""},
		{"config", ""},
		{"strict", "false"},
		{"no_version_checking", "false"},
		{"no_prompt", "false"},
		{"metrics.port", "9091"},
		{"metrics.ip", "127.0.0.1"},
	} {
		got, ok := eff[tc.flag]
		if !ok {
			t.Errorf("--%s is not defined", tc.flag)
			continue
		}
		if got != tc.want {
			t.Errorf("--%s default = %q, want %q", tc.flag, got, tc.want)
		}
		if src := c.Sources[tc.flag]; src != FromDefault {
			t.Errorf("--%s source = %s, want default", tc.flag, src)
		}
	}
	if !reflect.DeepEqual(withoutSources(c), withoutSources(defaultsValidated())) {
		t.Errorf("parsed defaults differ from Default():\n got %+v\nwant %+v", *c, Default())
	}
}

func withoutSources(c *Config) Config { cp := *c; cp.Sources = nil; return cp }

func defaultsValidated() *Config {
	d := Default()
	if err := d.validate(); err != nil {
		panic(err)
	}
	return &d
}

// TestSeedFlagsParse sets every seed flag on the command line and checks the typed
// field, with the flag spellings operators use in pm2 lines.
func TestSeedFlagsParse(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		check func(*Config) bool
	}{
		{[]string{"--netuid", "21"}, func(c *Config) bool { return c.Netuid == 21 }},
		{[]string{"--btlm.device", "CPU"}, func(c *Config) bool { return c.BTLM.Device == "cpu" }},
		{[]string{"--btlm.max_length", "24"}, func(c *Config) bool { return c.BTLM.MaxLength == 24 }},
		{[]string{"--btlm.do_sample"}, func(c *Config) bool { return c.BTLM.DoSample }},
		{[]string{"--btlm.no_repeat_ngram_size=0"}, func(c *Config) bool { return c.BTLM.NoRepeatNGramSize == 0 }},
		{[]string{"--btlm.do_prompt_injection"}, func(c *Config) bool { return c.BTLM.DoPromptInjection }},
		{[]string{"--btlm.system_prompt", "Be brief."}, func(c *Config) bool { return c.BTLM.SystemPrompt == "Be brief." }},
		{[]string{"--btlm.temperature", "1.3"}, func(c *Config) bool { return c.BTLM.Temperature == 1.3 }},
		{[]string{"--btlm.top_k", "0", "--btlm.top_p", "0.9"}, func(c *Config) bool { return c.BTLM.TopK == 0 && c.BTLM.TopP == 0.9 }},
		{[]string{"--btlm.seed", "0"}, func(c *Config) bool { return c.BTLM.Seed == 0 && c.BTLM.SeedSet }},
		{[]string{"--btlm.model", "/models/btlm", "--btlm.revision", "refs/pr/24"}, func(c *Config) bool {
			return c.BTLM.Model == "/models/btlm" && c.BTLM.Revision == "refs/pr/24"
		}},
		{[]string{"--btlm.completion_format", "clean"}, func(c *Config) bool { return c.BTLM.CompletionFormat == "clean" }},
		{[]string{"--miner.root", "/r", "--miner.name", "m"}, func(c *Config) bool { return c.Miner.Root == "/r" && c.Miner.Name == "m" }},
		// The seed declared blocks_per_epoch type=str, so this crashed its loop.
		{[]string{"--miner.blocks_per_epoch", "7"}, func(c *Config) bool { return c.Miner.BlocksPerEpoch == 7 }},
		{[]string{"--miner.blacklist.blacklist", hkAlice, "--miner.blacklist.blacklist", hkBob}, func(c *Config) bool {
			return reflect.DeepEqual(c.Miner.Blacklist.Blacklist, []string{hkAlice, hkBob})
		}},
		{[]string{"--miner.blacklist.whitelist", hkAlice + "," + hkBob}, func(c *Config) bool {
			return reflect.DeepEqual(c.Miner.Blacklist.Whitelist, []string{hkAlice, hkBob})
		}},
		{[]string{"--miner.blacklist.force_validator_permit", "--miner.blacklist.allow_non_registered"}, func(c *Config) bool {
			return c.Miner.Blacklist.ForceValidatorPermit && c.Miner.Blacklist.AllowNonRegistered
		}},
		{[]string{"--miner.blacklist.minimum_stake_requirement", "1000.5"}, func(c *Config) bool { return c.Miner.Blacklist.MinimumStakeRequirement == 1000.5 }},
		{[]string{"--miner.blacklist.prompt_cache_block_span", "10", "--miner.blacklist.use_prompt_cache"}, func(c *Config) bool {
			return c.Miner.Blacklist.PromptCacheBlockSpan == 10 && c.Miner.Blacklist.UsePromptCache
		}},
		{[]string{"--miner.blacklist.min_request_period", "30"}, func(c *Config) bool { return c.Miner.Blacklist.MinRequestPeriod == 30 }},
		{[]string{"--miner.priority.default", "-1"}, func(c *Config) bool { return c.Miner.Priority.Default == -1 }},
		{[]string{"--miner.priority.time_stake_multiplicate", "3", "--miner.priority.len_request_timestamps", "20"}, func(c *Config) bool {
			return c.Miner.Priority.TimeStakeMultiplicate == 3 && c.Miner.Priority.LenRequestTimestamps == 20
		}},
		{[]string{"--miner.no_set_weights", "--miner.no_serve", "--miner.no_start_axon"}, func(c *Config) bool {
			return c.Miner.NoSetWeights && c.Miner.NoServe && c.Miner.NoStartAxon
		}},
		{[]string{"--miner.mock_subtensor"}, func(c *Config) bool { return c.IsMock() }},
		{[]string{"--miner.set_weights", "--miner.shutdown_timeout", "3s"}, func(c *Config) bool {
			return c.Miner.SetWeights && c.Miner.ShutdownTimeout == 3*time.Second
		}},
		{[]string{"--wallet.name", "w", "--wallet.hotkey", "h", "--wallet.path", "/tmp/w"}, func(c *Config) bool {
			return c.Wallet == Wallet{Name: "w", Hotkey: "h", Path: "/tmp/w"}
		}},
		{[]string{"--axon.port", "9000", "--axon.ip", "127.0.0.1", "--axon.external_ip", "1.2.3.4", "--axon.external_port", "9001", "--axon.max_workers", "2"}, func(c *Config) bool {
			a := c.Axon
			return a.Port == 9000 && a.IP == "127.0.0.1" && a.ExternalIP == "1.2.3.4" && a.ExternalPort == 9001 && a.MaxWorkers == 2
		}},
		{[]string{"--subtensor.network", "test"}, func(c *Config) bool { return c.Subtensor.Network == "test" }},
		{[]string{"--subtensor.chain_endpoint", "ws://127.0.0.1:9944"}, func(c *Config) bool { return c.Subtensor.ChainEndpoint == "ws://127.0.0.1:9944" }},
		{[]string{"--logging.trace"}, func(c *Config) bool { return c.Logging.Trace && c.Logging.Debug }},
		{[]string{"--logging.debug", "--logging.record_log", "--logging.logging_dir", "/l"}, func(c *Config) bool {
			return c.Logging.Debug && c.Logging.RecordLog && c.Logging.LoggingDir == "/l"
		}},
		{[]string{"--no_version_checking"}, func(c *Config) bool { return c.NoVersionChecking }},
		{[]string{"--metrics.port", "-1"}, func(c *Config) bool { return c.Metrics.Port == -1 }},
	} {
		c, _ := mustParse(t, tc.args, noEnv)
		if !tc.check(c) {
			t.Errorf("Parse(%q): field not set as expected: %+v", tc.args, *c)
		}
		if name := strings.TrimPrefix(strings.SplitN(tc.args[0], "=", 2)[0], "--"); c.Sources[name] != FromFlag {
			t.Errorf("Parse(%q): source of %s = %s, want flag", tc.args, name, c.Sources[name])
		}
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "miner.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence: flag > config file > environment > default, per option.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "axon.port: 7000\nnetuid: 5\nbtlm:\n  max_length: 30\n")
	env := envMap(map[string]string{
		"BT_AXON_PORT":                 "6000",
		"BT_NETUID":                    "4",
		"BT_BTLM_MAX_LENGTH":           "20",
		"BT_BTLM_TOP_K":                "7",
		"BT_CONFIG":                    "/nonexistent-overridden-by-flag",
		"BT_WALLET_HOTKEY":             "envhot",
		"BT_LOGGING_DEBUG":             "true",
		"BT_AXON_MAX_WORERS":           "3", // bittensor 6.1.0's spelling
		"BT_MINER_BLACKLIST_BLACKLIST": hkAlice + ", " + hkBob,
	})
	c, _ := mustParse(t, []string{"--config", file, "--axon.port", "8000"}, env)
	for _, tc := range []struct {
		name string
		got  any
		want any
		src  Source
	}{
		{"axon.port", c.Axon.Port, 8000, FromFlag},          // flag beats file and env
		{"netuid", c.Netuid, uint16(5), FromFile},           // file beats env
		{"btlm.max_length", c.BTLM.MaxLength, 30, FromFile}, // nested key in the file
		{"btlm.top_k", c.BTLM.TopK, 7, FromEnv},             // env beats default
		{"wallet.hotkey", c.Wallet.Hotkey, "envhot", FromEnv},
		{"logging.debug", c.Logging.Debug, true, FromEnv},
		{"axon.max_workers", c.Axon.MaxWorkers, 3, FromEnv},
		{"miner.blacklist.blacklist", c.Miner.Blacklist.Blacklist, []string{hkAlice, hkBob}, FromEnv},
		{"btlm.temperature", c.BTLM.Temperature, 0.7, FromDefault},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) || c.Sources[tc.name] != tc.src {
			t.Errorf("%s = %v from %s, want %v from %s", tc.name, tc.got, c.Sources[tc.name], tc.want, tc.src)
		}
	}
	// The config file itself may come from the environment.
	c, _ = mustParse(t, nil, envMap(map[string]string{"BT_CONFIG": file}))
	if c.Axon.Port != 7000 || c.File != file {
		t.Errorf("BT_CONFIG: axon.port = %d, file %q", c.Axon.Port, c.File)
	}
	if _, _, err := Parse(nil, envMap(map[string]string{"BT_AXON_PORT": "http"})); err == nil || !strings.Contains(err.Error(), "BT_AXON_PORT") {
		t.Errorf("invalid env value: err = %v, want one naming BT_AXON_PORT", err)
	}
}

func TestConfigFileForms(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		check      func(*Config) bool
	}{
		{"flat dotted", "miner.blacklist.whitelist: [" + hkAlice + "]\nminer.blacklist.force_validator_permit: true\n",
			func(c *Config) bool {
				return reflect.DeepEqual(c.Miner.Blacklist.Whitelist, []string{hkAlice}) && c.Miner.Blacklist.ForceValidatorPermit
			}},
		{"nested", "miner:\n  blacklist:\n    whitelist:\n      - " + hkAlice + "\n      - " + hkBob + "\n  blocks_per_epoch: 12\n",
			func(c *Config) bool {
				return len(c.Miner.Blacklist.Whitelist) == 2 && c.Miner.BlocksPerEpoch == 12
			}},
		{"mixed", "miner.blacklist:\n  min_request_period: 9\nbtlm: {temperature: 0.5, do_sample: true}\n",
			func(c *Config) bool {
				return c.Miner.Blacklist.MinRequestPeriod == 9 && c.BTLM.Temperature == 0.5 && c.BTLM.DoSample
			}},
		{"null keeps the default (bittensor dumps None as null)", "axon:\n  external_ip: null\n  port: 1234\n",
			func(c *Config) bool { return c.Axon.ExternalIP == "" && c.Axon.Port == 1234 }},
		{"strings for numbers", "netuid: '3'\nbtlm.system_prompt: \"multi\\nline \"\n",
			func(c *Config) bool { return c.Netuid == 3 && c.BTLM.SystemPrompt == "multi\nline " }},
		{"empty file", "", func(c *Config) bool { return c.Axon.Port == 8091 }},
	} {
		c, warns := mustParse(t, []string{"--config", writeFile(t, tc.yaml)}, noEnv)
		if !tc.check(c) {
			t.Errorf("%s: config not applied: %+v", tc.name, *c)
		}
		if len(warns) != 0 {
			t.Errorf("%s: warnings %q", tc.name, warns)
		}
	}
	for _, tc := range []struct{ name, yaml, wantErr string }{
		{"twice", "axon.port: 1\naxon:\n  port: 2\n", "given twice"},
		{"list for scalar", "axon.port: [1, 2]\n", "axon.port"},
		{"bad value", "btlm.max_length: many\n", "btlm.max_length"},
		{"not a mapping", "- a\n- b\n", "mapping"},
		{"bad yaml", "a: [\n", "invalid YAML"},
		{"mnemonic", "wallet:\n  mnemonic: abandon abandon\n", "secrets"},
	} {
		_, _, err := Parse([]string{"--config", writeFile(t, tc.yaml)}, noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.wantErr)
		}
	}
	if _, _, err := Parse([]string{"--config", "/nonexistent/x.yaml"}, noEnv); err == nil {
		t.Error("missing config file accepted")
	}
}

func TestStrictAndWarnings(t *testing.T) {
	file := writeFile(t, "axon.prot: 1\nwandb:\n  on: true\n")
	lenient := []string{"--config", file, "--no.such.flag", "x", "--wandb.on", "--wandb.run_name=y", "--btlm.use_deepspeed", "--logging.debug", "true"}
	_, warns := mustParse(t, lenient, noEnv)
	joined := strings.Join(warns, "\n")
	for _, want := range []string{"unknown flag --no.such.flag", `unknown key "axon.prot"`, "Prometheus", "use_deepspeed", `unexpected argument "true"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings %q lack %q", warns, want)
		}
	}
	if strings.Contains(joined, "--wandb.run_name") && strings.Contains(joined, "unknown flag --wandb") {
		t.Errorf("--wandb.* reported as unknown: %q", warns)
	}

	for _, args := range [][]string{
		{"--strict", "--no.such.flag"},
		{"--strict", "--config", writeFile(t, "axon.prot: 1\n")},
		{"--strict", "--logging.debug", "true"},
		{"--strict", "-axon.port", "1"},
	} {
		if _, _, err := Parse(args, noEnv); err == nil || !strings.Contains(err.Error(), "--strict") {
			t.Errorf("Parse(%q) err = %v, want a --strict error", args, err)
		}
	}
	// --wandb.* stays a warning under --strict; --strict may come from the env.
	_, warns, err := Parse([]string{"--wandb.on", "--wandb.notes", "n"}, envMap(map[string]string{"BT_STRICT": "1"}))
	if err != nil || len(warns) != 1 {
		t.Errorf("strict with --wandb.*: err %v, warnings %q", err, warns)
	}
	if _, _, err := Parse([]string{"--no.such.flag"}, envMap(map[string]string{"BT_STRICT": "true"})); err == nil {
		t.Error("BT_STRICT=true did not make unknown flags errors")
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--btlm.device", "cuda"}, "CPU only"},
		{[]string{"--btlm.device", "cuda:1"}, "CPU only"},
		{[]string{"--btlm.device", "tpu"}, "want cpu"},
		{[]string{"--btlm.max_length", "0"}, "btlm.max_length"},
		{[]string{"--btlm.temperature", "0"}, "btlm.temperature"},
		{[]string{"--btlm.top_p", "1.5"}, "btlm.top_p"},
		{[]string{"--btlm.completion_format", "raw"}, "completion_format"},
		{[]string{"--btlm.quant", "q4"}, "btlm.quant"},
		{[]string{"--btlm.max_batch", "0"}, "btlm.max_batch"},
		{[]string{"--miner.blocks_per_epoch", "0"}, "blocks_per_epoch"},
		{[]string{"--miner.blocks_per_epoch", "ten"}, "blocks_per_epoch"},
		{[]string{"--miner.blacklist.whitelist", "not-a-hotkey"}, "SS58"},
		{[]string{"--miner.blacklist.minimum_stake_requirement", "-1"}, "minimum_stake"},
		{[]string{"--miner.priority.len_request_timestamps", "0"}, "len_request_timestamps"},
		{[]string{"--wallet.name", "../x"}, "wallet.name"},
		{[]string{"--axon.port", "70000"}, "axon.port"},
		{[]string{"--axon.external_ip", "example.com"}, "external_ip"},
		{[]string{"--subtensor.chain_endpoint", "http://x"}, "chain_endpoint"},
		{[]string{"--netuid", "70000"}, "netuid"},
		{[]string{"--metrics.port", "-2"}, "metrics.port"},
		{[]string{"--logging.format", "xml"}, "logging.format"},
	} {
		_, _, err := Parse(tc.args, noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%q) err = %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}
	if _, _, err := Parse([]string{"--help"}, noEnv); !errors.Is(err, ErrHelp) {
		t.Errorf("--help: err = %v, want ErrHelp", err)
	}
}

func TestUsageGroupsEveryFlag(t *testing.T) {
	var b strings.Builder
	PrintUsage(&b)
	out := b.String()
	for name := range effective(defaultsValidated()) {
		if !strings.Contains(out, "--"+name+" ") && !strings.Contains(out, "--"+name+"[=") {
			t.Errorf("usage lacks --%s", name)
		}
	}
	for _, g := range groups {
		if !strings.Contains(out, g.title+":") {
			t.Errorf("usage lacks group %q", g.title)
		}
	}
	if i, j := strings.Index(out, "--btlm.model"), strings.Index(out, "--axon.port"); i < 0 || j < 0 || i > j {
		t.Error("usage is not grouped in the documented order")
	}
}

func TestEnvName(t *testing.T) {
	for flag, want := range map[string]string{
		"axon.port":                          "BT_AXON_PORT",
		"miner.blacklist.min_request_period": "BT_MINER_BLACKLIST_MIN_REQUEST_PERIOD",
		"netuid":                             "BT_NETUID",
	} {
		if got := EnvName(flag); got != want {
			t.Errorf("EnvName(%s) = %s, want %s", flag, got, want)
		}
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("axon.port: 1\nminer:\n  blacklist:\n    whitelist: [a, b]\n"))
	f.Add([]byte("a: {b: {c: {d: 1}}}"))
	f.Add([]byte("? [a]\n: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		flat, _, err := parseYAML(data)
		if err != nil {
			return
		}
		// Applying any decoded value to the flags must fail cleanly, never panic.
		c := Default()
		fs := newFlagSet(&c)
		for k, v := range flat {
			if strings.Contains(k, "..") && len(flat) == 0 {
				t.Fatalf("impossible: key %q in empty map", k)
			}
			if fl := fs.Lookup(k); fl != nil && v != nil {
				_ = setValue(fl, v)
			}
		}
	})
}
