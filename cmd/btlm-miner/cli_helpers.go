package main

// Helpers shared by the commands: flag parsing with one-line errors, error printing,
// panic containment and JSON output.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
)

var lineBreaks = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ")

// printCommandError writes err as the single line "btlm-miner NAME: message" and
// returns exit code 1. Line breaks inside the message are folded so the error stays on
// one line.
func printCommandError(stderr io.Writer, name string, err error) int {
	msg := strings.TrimSpace(lineBreaks.Replace(err.Error()))
	fmt.Fprintf(stderr, "btlm-miner %s: %s\n", name, msg)
	return 1
}

// recoverCommandPanic turns a panic escaping a command into one error line and exit
// code 1, so users never see a Go trace. Use as: defer recoverCommandPanic(name, stderr, &code).
func recoverCommandPanic(name string, stderr io.Writer, code *int) {
	if r := recover(); r != nil {
		*code = printCommandError(stderr, name, fmt.Errorf("internal error (please report): %v", r))
	}
}

// writeJSON prints v as one line of JSON.
func writeJSON(stdout, stderr io.Writer, name string, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return printCommandError(stderr, name, fmt.Errorf("write output: %w", err))
	}
	return 0
}

// parseCommandFlags parses args into fs. done reports that the command must return
// code now: after --help (usage on stdout, 0) or a flag error (one line on stderr, 2).
func parseCommandFlags(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer, name, synopsis string) (done bool, code int) {
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "usage: btlm-miner %s %s\n\nflags:\n%s", name, synopsis, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return true, 0
		}
		return true, usageError(stderr, name, err.Error())
	}
	return false, 0
}

// usageError prints a command-line mistake as one line and returns exit code 2.
func usageError(stderr io.Writer, name, msg string) int {
	fmt.Fprintf(stderr, "btlm-miner %s: %s (see 'btlm-miner %s --help')\n", name, msg, name)
	return 2
}

// parseNoArgs parses args into fs and refuses positional arguments. It returns
// pflag.ErrHelp after --help.
func parseNoArgs(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
