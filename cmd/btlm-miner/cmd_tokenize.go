package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/tokenizer"
)

func init() {
	register(command{name: "tokenize", summary: "print the token ids of a text, or the text of ids (--decode)", run: runTokenize})
}

// decodeFromArgs is --decode's value when given without "=": the ids are then the
// positional argument, so both `--decode 1,2,3` and `--decode=1,2,3` work.
const decodeFromArgs = "ARG"

// runTokenize implements `btlm-miner tokenize --btlm.model DIR [--json] TEXT` and
// `btlm-miner tokenize --btlm.model DIR [--json] --decode IDS`. It needs only the
// tokenizer files of the model directory, not the weights.
func runTokenize(args []string, stdout, stderr io.Writer) (code int) {
	const name = "tokenize"
	defer recoverCommandPanic(name, stderr, &code)
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	model := fs.String("btlm.model", "", "model directory or Hugging Face repository id (tokenizer files: vocab.json + merges.txt, or tokenizer.json)")
	revision := fs.String("btlm.revision", "main", "model revision when --btlm.model is a repository id")
	asJSON := fs.Bool("json", false, `print JSON: {"ids":[...]} or, with --decode, {"text":"..."}`)
	decode := fs.String("decode", "", `decode comma-separated token ids ("1,2,3") into text instead of encoding`)
	fs.Lookup("decode").NoOptDefVal = decodeFromArgs
	if done, code := parseCommandFlags(fs, args, stdout, stderr, name, "--btlm.model DIR [--json] (TEXT | --decode IDS)"); done {
		return code
	}
	rest := fs.Args()
	idList, decoding := "", fs.Changed("decode")
	switch {
	case decoding && *decode != decodeFromArgs:
		if len(rest) != 0 {
			return usageError(stderr, name, "--decode=IDS takes no further arguments")
		}
		idList = *decode
	case len(rest) != 1:
		return usageError(stderr, name, fmt.Sprintf("expected exactly one argument (quote the text), got %d", len(rest)))
	case decoding:
		idList = rest[0]
	}

	dir, err := resolveModelDir(context.Background(), *model, *revision, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		return printCommandError(stderr, name, fmt.Errorf("load tokenizer: %w", err))
	}

	if decoding {
		ids, err := parseIDList(idList, tok.VocabSize())
		if err != nil {
			return printCommandError(stderr, name, err)
		}
		text := tok.Decode(ids)
		if *asJSON {
			return writeJSON(stdout, stderr, name, struct {
				Text string `json:"text"`
			}{text})
		}
		fmt.Fprintln(stdout, text)
		return 0
	}
	ids := tok.Encode(rest[0])
	if *asJSON {
		return writeJSON(stdout, stderr, name, struct {
			IDs []int `json:"ids"`
		}{nonNil(ids)})
	}
	fmt.Fprintln(stdout, formatIDList(ids))
	return 0
}

// maxIDListLength bounds the --decode argument (about 100,000 ids).
const maxIDListLength = 1 << 20

// parseIDList parses token ids written as "1,2,3": decimal integers separated by
// commas and/or white space, optionally inside one pair of brackets (a JSON array).
// Every id must be in [0, vocab). An empty list is valid.
func parseIDList(s string, vocab int) ([]int, error) {
	if len(s) > maxIDListLength {
		return nil, fmt.Errorf("id list is %d bytes, more than the %d allowed", len(s), maxIDListLength)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		if !strings.HasSuffix(s, "]") {
			return nil, errors.New("id list starts with '[' but does not end with ']'")
		}
		s = s[1 : len(s)-1]
	}
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(fields) == 0 && strings.Contains(s, ",") {
		return nil, errors.New("id list has commas but no ids")
	}
	ids := make([]int, 0, len(fields))
	for i, f := range fields {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("id %d (%.20q) is not a decimal integer", i+1, f)
		}
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("id %d (%d) is outside the vocabulary [0, %d)", i+1, id, vocab)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// formatIDList writes ids as "1,2,3", the form --decode reads.
func formatIDList(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return b.String()
}

// nonNil makes an empty id list marshal as [] rather than null.
func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}
