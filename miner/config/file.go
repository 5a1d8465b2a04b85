package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// maxFileBytes bounds the --config file.
const maxFileBytes = 1 << 20

// readFile reads a YAML config file into flat dotted keys. Nested maps are flattened
// ("axon: {port: 9000}" → "axon.port"), so flat keys, nested maps and mixtures all
// work; a key given twice (in both forms) is an error. Keys that look like secrets
// (mnemonic, seed phrase, private key, password) are refused: the miner only reads
// its hotkey from the wallet directory. The second result lists non-fatal problems.
func readFile(path string) (map[string]any, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, nil, fmt.Errorf("config file %s: larger than %d bytes", path, maxFileBytes)
	}
	flat, problems, err := parseYAML(data)
	if err != nil {
		return nil, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return flat, problems, nil
}

// parseYAML decodes a YAML mapping into flat dotted keys (see readFile).
func parseYAML(data []byte) (map[string]any, []string, error) {
	var root any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return map[string]any{}, nil, nil // empty file
		}
		return nil, nil, fmt.Errorf("invalid YAML: %w", err)
	}
	flat := map[string]any{}
	var problems []string
	if root == nil {
		return flat, nil, nil
	}
	top, ok := asMap(root)
	if !ok {
		return nil, nil, fmt.Errorf("want a mapping of option names to values, got %T", root)
	}
	if err := flatten("", top, flat, &problems, 0); err != nil {
		return nil, nil, err
	}
	return flat, problems, nil
}

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, v := range m {
			out[fmt.Sprint(k)] = v
		}
		return out, true
	}
	return nil, false
}

var secretWords = []string{"mnemonic", "seed_phrase", "private_key", "secret", "password"}

func flatten(prefix string, m map[string]any, out map[string]any, problems *[]string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("key %s: nested too deeply", prefix)
	}
	for k, v := range m {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		lower := strings.ToLower(key)
		for _, w := range secretWords {
			if strings.Contains(lower, w) {
				return fmt.Errorf("key %s: secrets do not belong in the config file (the miner reads only its hotkey file from --wallet.path)", key)
			}
		}
		if sub, ok := asMap(v); ok {
			if err := flatten(key, sub, out, problems, depth+1); err != nil {
				return err
			}
			continue
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("key %s is given twice (as a dotted key and in a nested map)", key)
		}
		out[key] = v
	}
	return nil
}

// setValue sets flag f from a YAML value: scalars by their text form, lists only for
// list flags.
func setValue(f *pflag.Flag, v any) error {
	if list, ok := v.([]any); ok {
		sv, ok := f.Value.(pflag.SliceValue)
		if !ok {
			return fmt.Errorf("a list is not a valid %s value", f.Value.Type())
		}
		items := make([]string, 0, len(list))
		for _, item := range list {
			s, err := scalarText(item)
			if err != nil {
				return err
			}
			items = append(items, s)
		}
		return sv.Replace(items)
	}
	s, err := scalarText(v)
	if err != nil {
		return err
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.Replace(splitList(s))
	}
	return f.Value.Set(s)
}

func scalarText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("unsupported value %v (%T)", v, v)
}
