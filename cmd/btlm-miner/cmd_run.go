package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/btlm-miner/btlm-miner/miner"
	"github.com/btlm-miner/btlm-miner/miner/config"
)

func init() {
	register(command{name: "run", summary: "run the miner: serve Prompting/StreamPrompting with BTLM (default command)", run: runRun})
}

// runRun implements `btlm-miner run [flags]` (also the default command): parse and
// validate the configuration once (package miner/config), then run the miner until
// SIGINT or SIGTERM. The first signal stops accepting requests and drains in-flight
// ones within --miner.shutdown_timeout, then exits 0; a second signal exits at once.
func runRun(args []string, stdout, stderr io.Writer) (code int) {
	const name = "run"
	defer recoverCommandPanic(name, stderr, &code)
	cfg, warnings, err := config.Parse(args, os.Getenv)
	if errors.Is(err, config.ErrHelp) {
		config.PrintUsage(stdout)
		return 0
	}
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	logger, closer, err := miner.NewLogger(cfg, stderr)
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	defer closer.Close()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // restore the default handlers: a second signal ends the process
	}()
	err = miner.Run(ctx, cfg, miner.Options{Logger: logger, Stderr: stderr, Warnings: warnings})
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	return 0
}
