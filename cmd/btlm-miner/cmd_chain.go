package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/btlm-miner/btlm-miner/bittensor/subtensor"
	"github.com/btlm-miner/btlm-miner/bittensor/wallet"
)

func init() {
	register(command{name: "chain", summary: "inspect and act on the subtensor chain (block, metagraph, serve-axon)", run: runChain})
}

const chainUsage = `usage: btlm-miner chain SUBCOMMAND [flags]

subcommands:
  block        print the current block number
  metagraph    print a subnet's metagraph (--netuid N [--json])
  serve-axon   publish this hotkey's axon endpoint (serve_axon) if it differs from the chain's

Every subcommand takes --subtensor.network (finney|test|local|mock|ws://...),
--subtensor.chain_endpoint URL and --subtensor.timeout.
`

func runChain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stdout, chainUsage)
		return 0
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "block":
		return chainBlock(args, stdout, stderr)
	case "metagraph":
		return chainMetagraph(args, stdout, stderr)
	case "serve-axon":
		return chainServeAxon(args, stdout, stderr)
	}
	fmt.Fprintf(stderr, "btlm-miner chain: unknown subcommand %q\n%s", sub, chainUsage)
	return 2
}

// chainFlags are the flags every chain subcommand shares.
type chainFlags struct {
	cfg     subtensor.Config
	timeout time.Duration
}

func newChainFlagSet(name string, stderr io.Writer) (*pflag.FlagSet, *chainFlags) {
	fs := pflag.NewFlagSet("chain "+name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := &chainFlags{}
	cf.cfg.AddFlags(fs)
	fs.DurationVar(&cf.timeout, "subtensor.timeout", 60*time.Second, "deadline for the whole command")
	return fs, cf
}

// parseChainFlags parses args; done is true when the command must return code (0
// after --help, 2 after a flag error or a stray argument).
func parseChainFlags(fs *pflag.FlagSet, args []string, stderr io.Writer) (code int, done bool) {
	switch err := parseNoArgs(fs, args); {
	case errors.Is(err, pflag.ErrHelp):
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "btlm-miner %s: %v\n", fs.Name(), err)
		return 2, true
	}
	return 0, false
}

// chainFail prints err as the one line "btlm-miner chain NAME: message" and returns 1.
func chainFail(stderr io.Writer, name string, err error) int {
	return printCommandError(stderr, "chain "+name, err)
}

func chainBlock(args []string, stdout, stderr io.Writer) int {
	fs, cf := newChainFlagSet("block", stderr)
	if code, done := parseChainFlags(fs, args, stderr); done {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
	defer cancel()
	c, err := subtensor.Open(ctx, cf.cfg, subtensor.AccountID{})
	if err != nil {
		return chainFail(stderr, "block", err)
	}
	defer c.Close()
	b, err := c.Block(ctx)
	if err != nil {
		return chainFail(stderr, "block", err)
	}
	fmt.Fprintln(stdout, b)
	return 0
}

func chainMetagraph(args []string, stdout, stderr io.Writer) int {
	fs, cf := newChainFlagSet("metagraph", stderr)
	netuid := fs.Uint16("netuid", 1, "subnet id")
	asJSON := fs.Bool("json", false, "print JSON (the --subtensor.mock_metagraph file format)")
	if code, done := parseChainFlags(fs, args, stderr); done {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
	defer cancel()
	c, err := subtensor.Open(ctx, cf.cfg, subtensor.AccountID{})
	if err != nil {
		return chainFail(stderr, "metagraph", err)
	}
	defer c.Close()
	m, err := c.Metagraph(ctx, *netuid)
	if err != nil {
		return chainFail(stderr, "metagraph", err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(m); err != nil {
			return chainFail(stderr, "metagraph", err)
		}
		return 0
	}
	printMetagraph(stdout, m)
	return 0
}

// printMetagraph prints a table in the spirit of `btcli subnets metagraph`, with the
// SDK's normalised values (stake and emission in TAO, scores as fractions of 1).
func printMetagraph(w io.Writer, m *subtensor.Metagraph) {
	fmt.Fprintf(w, "netuid %d  block %d  neurons %d\n", m.Netuid, m.Block, m.N())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "UID\tSTAKE(τ)\tRANK\tTRUST\tCONSENSUS\tINCENTIVE\tDIVIDENDS\tEMISSION(τ)\tVPERMIT\tUPDATED\tACTIVE\tAXON\tHOTKEY\tCOLDKEY")
	for i := range m.Neurons {
		n := &m.Neurons[i]
		axon := "-"
		if n.Axon.Serving() {
			axon = n.Axon.String()
		}
		fmt.Fprintf(tw, "%d\t%.5f\t%.5f\t%.5f\t%.5f\t%.5f\t%.5f\t%.9f\t%v\t%d\t%v\t%s\t%s\t%s\n",
			n.UID, n.StakeTAO(), n.RankF(), n.TrustF(), n.ConsensusF(), n.IncentiveF(), n.DividendsF(),
			n.EmissionTAO(), n.ValidatorPermit, n.LastUpdate, n.Active, axon, n.Hotkey, n.Coldkey)
	}
	tw.Flush()
}

func chainServeAxon(args []string, stdout, stderr io.Writer) int {
	fs, cf := newChainFlagSet("serve-axon", stderr)
	netuid := fs.Uint16("netuid", 1, "subnet id")
	var wf walletFlags
	wf.register(fs)
	ip := fs.String("axon.ip", "", "the axon's address; published when --axon.external_ip is not given and it is a specific address")
	extIP := fs.String("axon.external_ip", "", "public IP address to publish")
	port := fs.Uint16("axon.port", 8091, "the axon's port; published when --axon.external_port is not given")
	extPort := fs.Uint16("axon.external_port", 0, "port to publish")
	version := fs.Uint32("axon.version", 610, "version to publish (bittensor 6.1.0 sends 610)")
	protocol := fs.Uint8("axon.protocol", 4, "protocol to publish")
	force := fs.Bool("force", false, "send serve_axon even when the chain already holds the same endpoint")
	if code, done := parseChainFlags(fs, args, stderr); done {
		return code
	}
	addr := *extIP
	if addr == "" {
		addr = strings.Trim(*ip, "[]")
	}
	if addr == "" {
		fmt.Fprintln(stderr, "btlm-miner chain serve-axon: --axon.external_ip (the public address to publish) is required")
		return 2
	}
	if parsed, err := netip.ParseAddr(addr); err != nil {
		return chainFail(stderr, "serve-axon", fmt.Errorf("address to publish %q is not an IP address", addr))
	} else if parsed.IsUnspecified() {
		return chainFail(stderr, "serve-axon", fmt.Errorf("%s is a bind-all address; give the public address with --axon.external_ip", addr))
	}
	if *extPort != 0 {
		*port = *extPort
	}
	if err := wf.check(); err != nil {
		return chainFail(stderr, "serve-axon", err)
	}
	kp, err := wallet.LoadHotkey(wallet.HotkeyPath(wf.path, wf.name, wf.hotkey))
	if err != nil {
		return chainFail(stderr, "serve-axon", err)
	}
	hotkey := subtensor.AccountID(kp.PublicKey())
	ctx, cancel := context.WithTimeout(context.Background(), cf.timeout)
	defer cancel()
	c, err := subtensor.Open(ctx, cf.cfg, hotkey)
	if err != nil {
		return chainFail(stderr, "serve-axon", err)
	}
	defer c.Close()
	want := subtensor.AxonInfo{IP: addr, Port: *port, Version: *version, Protocol: *protocol}
	if *force {
		registered, uid, err := c.IsRegistered(ctx, *netuid, hotkey)
		if err != nil {
			return chainFail(stderr, "serve-axon", err)
		}
		if !registered {
			return chainFail(stderr, "serve-axon", fmt.Errorf("%w: %s on netuid %d", subtensor.ErrNotRegistered, hotkey, *netuid))
		}
		if err := c.ServeAxon(ctx, kp, *netuid, want); err != nil {
			return chainFail(stderr, "serve-axon", err)
		}
		fmt.Fprintf(stdout, "uid %d on netuid %d now serves %s\n", uid, *netuid, want)
		return 0
	}
	uid, sent, err := subtensor.EnsureServed(ctx, c, kp, *netuid, want)
	if err != nil {
		return chainFail(stderr, "serve-axon", err)
	}
	if !sent {
		fmt.Fprintf(stdout, "uid %d on netuid %d already serves %s; nothing to do\n", uid, *netuid, want)
		return 0
	}
	fmt.Fprintf(stdout, "uid %d on netuid %d now serves %s\n", uid, *netuid, want)
	return 0
}
