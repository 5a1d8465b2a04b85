package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

func init() {
	register(command{name: "download", summary: "download a model into the Hugging Face cache and print its directory", run: runDownload})
}

// runDownload implements `btlm-miner download --btlm.model REPO [--btlm.revision REV]`:
// only the model-download step of the miner. It prints the snapshot directory.
func runDownload(args []string, stdout, stderr io.Writer) (code int) {
	const name = "download"
	defer recoverCommandPanic(name, stderr, &code)
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	model := fs.String("btlm.model", "cerebras/btlm-3b-8k-base", "Hugging Face repository id (or a local directory, which is left as is)")
	revision := fs.String("btlm.revision", "main", "branch, tag, refs/pr/N or commit sha")
	if done, code := parseCommandFlags(fs, args, stdout, stderr, name, "[--btlm.model REPO] [--btlm.revision REV]"); done {
		return code
	}
	if fs.NArg() != 0 {
		return usageError(stderr, name, fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	dir, err := resolveModelDir(ctx, *model, *revision, logger)
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	fmt.Fprintln(stdout, dir)
	return 0
}
