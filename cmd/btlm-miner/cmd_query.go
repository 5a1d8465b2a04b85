package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/bittensor/dendrite"
	"github.com/btlm-miner/btlm-miner/bittensor/synapse"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

func init() {
	register(command{name: "query", summary: "send a signed Prompting request to an axon and print the completion", run: runQuery})
}

const querySynopsis = `--wallet.name NAME --wallet.hotkey HOTKEY --axon HOST:PORT --axon.hotkey SS58 [--stream] "message" ...

Sends one Prompting (or, with --stream, StreamPrompting) synapse signed with the hotkey,
the way a bittensor dendrite does, and prints the completion on stdout and
"status: CODE MESSAGE" on stderr. Each argument is one message; --role gives the
roles (one role repeats for every message). Exit status 0 only for status 200.`

func runQuery(args []string, stdout, stderr io.Writer) (code int) {
	const name = "query"
	defer recoverCommandPanic(name, stderr, &code)
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	var wf walletFlags
	wf.register(fs)
	addr := fs.String("axon", "", "axon address HOST:PORT (required)")
	axonHotkey := fs.String("axon.hotkey", "", "the axon's hotkey ss58 (required; it is signed into the request)")
	stream := fs.Bool("stream", false, "send StreamPrompting and print chunks as they arrive")
	timeout := fs.Float64("timeout", synapse.DefaultTimeout, "timeout in seconds (sent to the axon)")
	styleName := fs.String("style", "v10", "dendrite header style: v10 (version 10002000, wall-clock nonce window) or v6 (6.1.0, version 610)")
	roles := fs.StringSlice("role", []string{"user"}, "message roles (one repeats for every message)")
	if done, c := parseCommandFlags(fs, args, stdout, stderr, name, querySynopsis); done {
		return c
	}
	messages := fs.Args()
	switch {
	case *addr == "":
		return usageError(stderr, name, "--axon HOST:PORT is required")
	case *axonHotkey == "":
		return usageError(stderr, name, "--axon.hotkey is required")
	case len(messages) == 0:
		return usageError(stderr, name, "give at least one message")
	case *timeout <= 0 || *timeout > 3600:
		return usageError(stderr, name, "--timeout must be in (0, 3600] seconds")
	case len(*roles) != 1 && len(*roles) != len(messages):
		return usageError(stderr, name, fmt.Sprintf("%d roles for %d messages", len(*roles), len(messages)))
	}
	style, err := dendrite.ParseStyle(*styleName)
	if err != nil {
		return usageError(stderr, name, err.Error())
	}
	if err := wf.check(); err != nil {
		return printCommandError(stderr, name, err)
	}
	target, err := dendrite.ParseTarget(*addr, *axonHotkey)
	if err != nil {
		return printCommandError(stderr, name, err)
	}
	kp, err := wallet.LoadHotkey(wallet.HotkeyPath(wf.path, wf.name, wf.hotkey))
	if err != nil {
		return printCommandError(stderr, name, fmt.Errorf("load hotkey: %w", err))
	}
	rs := *roles
	if len(rs) == 1 {
		rs = make([]string, len(messages))
		for i := range rs {
			rs[i] = (*roles)[0]
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d := dendrite.New(kp, dendrite.WithStyle(style))
	defer d.CloseIdleConnections()
	wait := time.Duration(*timeout * float64(time.Second))
	var res *dendrite.Result
	if *stream {
		sp := synapse.NewStreamPrompting(rs, messages)
		wrote := false
		res = d.CallStream(ctx, target, sp, wait, func(chunk []byte) error {
			wrote = true
			_, err := stdout.Write(chunk)
			return err
		})
		// End stdout with a newline as the unary path does, so that the status line
		// on stderr never runs into the completion.
		if wrote || res.OK() {
			fmt.Fprintln(stdout)
		}
	} else {
		p := synapse.NewPrompting(rs, messages)
		res = d.Call(ctx, target, p, wait)
		if res.OK() {
			fmt.Fprintln(stdout, p.Completion)
		}
	}
	msg := strings.TrimSpace(lineBreaks.Replace(res.StatusMessage))
	fmt.Fprintf(stderr, "status: %d %s (process_time %.3fs, elapsed %s)\n", res.StatusCode, msg, res.ProcessTime, res.Elapsed.Round(time.Millisecond))
	if !res.OK() {
		if res.Err != nil && !errors.Is(res.Err, context.Canceled) && res.HTTPStatus == 0 {
			return printCommandError(stderr, name, res.Err)
		}
		return 1
	}
	return 0
}
