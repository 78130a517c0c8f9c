// Command gonode starts a named node that finds its peers by multicast
// gossip, connects to them over an authenticated transport, and opens an
// iex-like shell:
//
//	gonode --sname hoge --cookie genki
//
// Run "gonode --help" for the flags and "gonode epmd --help" for the port
// mapper.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/gonode/gonode/discovery"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/epmd"
	"github.com/gonode/gonode/shell"
	"github.com/gonode/gonode/transport"
)

// options are the parsed command-line flags.
type options struct {
	sname, name    string
	cookie         string
	port           int
	noShell        bool
	discovery      string
	gossipGroup    string
	gossipPort     int
	gossipIf       string
	gossipTTL      int
	gossipSecret   string
	gossipInterval time.Duration
	logLevel       string
	noColor        bool
	remsh          string
	script         shell.ScriptOptions // --eval, --no-halt, --script, --format
	netTicktime    secondsFlag
	distEncrypt    bool
	busyPoll       time.Duration
	hidden         bool
	connectAll     bool
	disc           discoveryOptions
}

// defaultNetTicktime is --net-ticktime's default in seconds. A silent peer
// is noticed between 4 and 5 s after its last frame, where Erlang's
// default of 60 takes 60 to 75 s.
const defaultNetTicktime = 4

func main() {
	node.LimitProcs()
	if len(os.Args) > 1 && os.Args[1] == "epmd" {
		os.Exit(epmd.RunCommand(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// maxBusyPoll bounds --busy-poll. A wake-up that polling saves costs tens
// of microseconds, so a longer poll would only spend CPU.
const maxBusyPoll = time.Millisecond

// busyPollConfig returns node.Config.BusyPoll for the --busy-poll value,
// where 0 turns polling off.
func busyPollConfig(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func newFlagSet(opts *options, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("gonode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.sname, "sname", "", "start a node with the short name `NAME` (NAME@short-host-name)")
	fs.StringVar(&opts.name, "name", "", "start a node with the long name `NAME@HOST` (HOST: a full host name or an IP address)")
	fs.StringVar(&opts.cookie, "cookie", "", "the `COOKIE` peers must share; else $GONODE_COOKIE, else ~/.gonode.cookie")
	fs.IntVar(&opts.port, "port", 0, "TCP `PORT` to listen on for other nodes (0: any free port)")
	fs.BoolVar(&opts.noShell, "no-shell", false, "run the node without a shell until SIGINT or SIGTERM, logging to standard error")
	fs.StringVar(&opts.discovery, "discovery", "", "how to find peers: comma-separated `LIST` of gossip (UDP multicast), hosts, hosts-file, dns and swim, or none (default: the strategies whose flags are given, else gossip)")
	fs.StringVar(&opts.gossipGroup, "gossip-group", discovery.DefaultGossipGroup.String(), "multicast `ADDRESS` for gossip heartbeats: IPv4, or IPv6 (ff02::/16, ff05::/16 and so on) with --gossip-if")
	fs.IntVar(&opts.gossipPort, "gossip-port", discovery.DefaultGossipPort, "UDP `PORT` for gossip heartbeats")
	fs.StringVar(&opts.gossipIf, "gossip-if", "", "network interface `NAME|ADDRESS` for gossip (default: chosen by the routing table)")
	fs.IntVar(&opts.gossipTTL, "gossip-ttl", discovery.DefaultGossipTTL, "multicast `TTL` (hops) of gossip heartbeats")
	fs.StringVar(&opts.gossipSecret, "gossip-secret", "", "seal heartbeats with AES-256-GCM keyed from `SECRET`; only nodes with the same secret see each other")
	durationVar(fs, &opts.gossipInterval, "gossip-interval", discovery.DefaultGossipInterval, "mean `DURATION` between gossip heartbeats")
	opts.netTicktime = secondsFlag{seconds: defaultNetTicktime, valid: true}
	fs.Var(&opts.netTicktime, "net-ticktime", "`SECONDS` of silence after which a peer is down, as in Erlang; a tick is sent every SECONDS/4")
	fs.BoolVar(&opts.distEncrypt, "dist-encrypt", true, "seal every frame between nodes with AES-256-GCM; every node of a cluster must agree")
	durationVar(fs, &opts.busyPoll, "busy-poll", transport.DefaultBusyPoll, "poll for the next frame for `DURATION` before sleeping, as erl +sbwt busy-waits; spends CPU to cut latency (0: off)")
	fs.BoolVar(&opts.hidden, "hidden", false, "run as a hidden node, as erl -hidden: peers list it only in Node.list(:hidden), do not pass it on to others, and it connects to no peer's peers")
	fs.BoolVar(&opts.connectAll, "connect-all", true, "connect to the peers of each peer, so connected nodes form a full mesh, as Erlang's connect_all; false sends and follows no peer lists")
	addDiscoveryFlags(fs, &opts.disc)
	fs.StringVar(&opts.logLevel, "log-level", "info", "least `LEVEL` of log lines shown: debug, info, warning or error")
	fs.BoolVar(&opts.noColor, "no-color", false, "print without color (also when NO_COLOR is set)")
	fs.StringVar(&opts.remsh, "remsh", "", "run the shell's commands on the node `NODE` (name@host) in place of this one, as iex --remsh does; discovery defaults to none")
	opts.script.AddFlags(fs)
	// The flag package calls Usage for --help and after any parse error.
	// run prints the full text only for --help, and a hint otherwise.
	fs.Usage = func() {}
	return fs
}

// printUsage prints the usage text and every flag.
func printUsage(fs *flag.FlagSet, stderr io.Writer) {
	fmt.Fprint(stderr, `Usage:
  gonode --sname NAME [flags]              start node NAME@short-host-name and a shell
  gonode --name NAME@HOST [flags]          start a node with a long name
  gonode --sname NAME --eval EXPR          start a node, print EXPR's value and exit
  gonode --sname NAME --remsh NODE         open a shell whose commands run on NODE
  gonode epmd [--names|--kill] [--port N]  run, query or stop the port mapper

Flags (one or two dashes: -sname works like --sname):
`)
	fs.PrintDefaults()
}

// printBanner prints the line that names the node and where it listens,
// to stdout for an interactive shell and else to stderr.
func printBanner(n *node.Node, interactive bool, stdout, stderr io.Writer) {
	banner := stderr
	if interactive {
		banner = stdout
	}
	fmt.Fprintf(banner, "gonode: node %s listening on %s", n.Name(), listenDescription(n.Addr()))
	if addr := n.EPMDAddr(); addr != "" {
		fmt.Fprintf(banner, ", registered with the port mapper at %s", addr)
	}
	fmt.Fprintln(banner)
}

// run is gonode's main program; it returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var opts options
	fs := newFlagSet(&opts, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, stderr)
			return 0
		}
		// The flag package has printed the error.
		fmt.Fprintln(stderr, "run gonode --help for the flags")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gonode: unexpected argument %q; run gonode --help\n", fs.Arg(0))
		return 2
	}
	if err := opts.script.Check(); err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 2
	}
	if opts.noShell && opts.script.Scripted() {
		fmt.Fprintln(stderr, "gonode: --no-shell cannot be combined with --eval, --script or --format json")
		return 2
	}
	if opts.noShell && opts.remsh != "" {
		fmt.Fprintln(stderr, "gonode: --no-shell cannot be combined with --remsh, which needs a shell")
		return 2
	}
	name, err := nodeName(opts)
	if err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 2
	}
	level, err := shell.ParseLevel(opts.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "gonode: --log-level: %v\n", err)
		return 2
	}
	if err := checkEmptyFlags(fs, opts); err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 2
	}
	if !opts.netTicktime.valid || opts.netTicktime.seconds < 1 || opts.netTicktime.seconds > 3600 {
		fmt.Fprintf(stderr, "gonode: invalid --net-ticktime %q: want whole seconds from 1 to 3600, such as %d\n", opts.netTicktime.String(), defaultNetTicktime)
		return 2
	}
	if opts.port < 0 || opts.port > 65535 {
		fmt.Fprintf(stderr, "gonode: invalid --port %d: want 0 (any free port) to 65535\n", opts.port)
		return 2
	}
	if opts.busyPoll < 0 || opts.busyPoll > maxBusyPoll {
		fmt.Fprintf(stderr, "gonode: invalid --busy-poll %v: want 0 (off) to %v, such as %v\n", opts.busyPoll, maxBusyPoll, transport.DefaultBusyPoll)
		return 2
	}
	if err := checkDiscoveryFlags(fs, &opts); err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 2
	}
	gossip, err := gossipConfig(opts)
	if err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 2
	}

	if gossip != nil {
		// Check the interface and the rest of the gossip set-up before
		// the node starts, so a typo fails before anything listens.
		// Because the transport port is not known yet, 1 is a placeholder.
		check := *gossip
		check.NodeName, check.TransportPort = "check@localhost", 1
		if _, err := discovery.NewGossip(check); err != nil {
			fmt.Fprintf(stderr, "gonode: gossip: %v\n", err)
			return 2
		}
	}

	home, _ := os.UserHomeDir()
	cookie, _, err := node.LoadCookie(opts.cookie, home)
	if err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 1
	}

	interactive := !opts.noShell && !opts.script.Scripted() && isTerminal(stdin) && isTerminal(stdout)
	useColor := interactive && !opts.noColor && os.Getenv("NO_COLOR") == ""
	logs := shell.NewSwitchWriter(stderr)
	logger := slog.New(shell.NewLogHandler(logs, shell.LogOptions{
		Level:     level,
		Color:     useColor,
		Timestamp: opts.noShell,
	}))
	strategies, err := otherStrategies(opts, logger)
	if err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if !interactive {
		// The interactive shell reads Ctrl-C itself.
		var stopInt context.CancelFunc
		ctx, stopInt = signal.NotifyContext(ctx, os.Interrupt)
		defer stopInt()
	}

	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	n, err := node.Start(startCtx, node.Config{
		Name:       name,
		Cookie:     cookie,
		ListenAddr: fmt.Sprintf(":%d", opts.port),
		StartEPMD:  true,
		// As in Erlang, ticks go out four times per tick time.
		TickInterval: time.Duration(opts.netTicktime.seconds) * time.Second / 4,
		TickTimeout:  time.Duration(opts.netTicktime.seconds) * time.Second,
		NoEncrypt:    !opts.distEncrypt,
		BusyPoll:     busyPollConfig(opts.busyPoll),
		// A remote shell node is hidden, as iex --remsh makes it.
		Hidden:       opts.hidden || opts.remsh != "",
		NoConnectAll: !opts.connectAll,
		Logger:       logger,
	})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "gonode: %v\n", err)
		return 1
	}
	defer n.Close()
	remoteShells := shell.ServeRemote(n)
	defer remoteShells.Close()

	var remote *shell.RemoteShell
	if opts.remsh != "" {
		// Before the banner, so that an unreachable node gives one line.
		// The log lines of the open, such as the connection to the
		// target, are held until the banner is out.
		var held bytes.Buffer
		logDest := logs.Set(&held)
		openCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		remote, err = shell.OpenRemote(openCtx, n, opts.remsh)
		cancel()
		logs.Set(logDest)
		if err != nil {
			logDest.Write(held.Bytes())
			fmt.Fprintf(stderr, "gonode: %v\n", err)
			return 1
		}
		defer remote.Close()
		printBanner(n, interactive, stdout, stderr)
		logDest.Write(held.Bytes())
	} else {
		printBanner(n, interactive, stdout, stderr)
	}
	banner := stderr
	if interactive {
		banner = stdout
	}
	if remote != nil {
		fmt.Fprintf(banner, "gonode: remote shell on %s: commands run there\n", remote.NodeName())
	}

	if gossip != nil {
		gossip.NodeName = n.Name()
		gossip.TransportPort = n.Port()
		gossip.Logger = logger
		g, err := discovery.NewGossip(*gossip)
		if err != nil {
			fmt.Fprintf(stderr, "gonode: gossip: %v\n", err)
			return 1
		}
		fmt.Fprintf(banner, "gonode: discovery: %s\n", describeGossip(*gossip))
		n.RunStrategy(g)
	}
	for _, s := range strategies {
		if err := s.start(n); err != nil {
			fmt.Fprintf(stderr, "gonode: %v\n", err)
			return 1
		}
		fmt.Fprintf(banner, "gonode: discovery: %s\n", s.description)
	}
	if gossip == nil && len(strategies) == 0 {
		fmt.Fprintln(banner, "gonode: discovery: none (connect with Node.connect or Node.ping)")
	}

	if opts.noShell {
		<-ctx.Done()
		logger.Info("shutting down", "component", "node")
		return 0
	}
	mailbox := n.Register(shell.MailboxName)
	history := ""
	if home != "" {
		history = filepath.Join(home, ".gonode_history")
	}
	return shell.Run(ctx, shell.Options{
		Node:        n,
		Mailbox:     mailbox,
		In:          stdin,
		Out:         stdout,
		Err:         stderr,
		Interactive: interactive,
		Color:       useColor,
		HistoryFile: history,
		Logs:        logs,
		Script:      opts.script,
		Remote:      remote,
	})
}

// secondsFlag is a flag value in whole seconds. Its Set accepts any text,
// so that run can reject a bad value with the valid range in place of
// the flag package's bare parse error and usage text.
// durationFlag is a time.Duration flag whose parse error, for a value
// without a unit such as 50, asks for a unit.
type durationFlag struct{ d *time.Duration }

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

func (f durationFlag) String() string {
	// flag.PrintDefaults calls String on a zero durationFlag.
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration with a unit, such as 50us, 250ms or 5s")
	}
	*f.d = d
	return nil
}

type secondsFlag struct {
	seconds int
	text    string // the value as given, when it is not a whole number
	valid   bool
}

func (f *secondsFlag) String() string {
	if f.text != "" {
		return f.text
	}
	return strconv.Itoa(f.seconds)
}

func (f *secondsFlag) Set(s string) error {
	n, err := strconv.Atoi(s)
	f.seconds, f.valid = n, err == nil
	f.text = ""
	if !f.valid {
		f.text = s
	}
	return nil
}

// checkEmptyFlags rejects --cookie and --remsh given as empty strings,
// which would otherwise read as not given: an empty --cookie would fall
// back to $GONODE_COOKIE or ~/.gonode.cookie.
func checkEmptyFlags(fs *flag.FlagSet, opts options) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case err != nil:
		case f.Name == "cookie" && opts.cookie == "":
			err = errors.New("--cookie is empty: give a non-empty COOKIE, or leave the flag out to use $GONODE_COOKIE or ~/.gonode.cookie")
		case f.Name == "remsh" && strings.TrimSpace(opts.remsh) == "":
			err = errors.New("--remsh is empty: give the node to run commands on, such as --remsh name@host")
		}
	})
	return err
}

// nodeName returns the full node name that --sname or --name requests.
func nodeName(opts options) (string, error) {
	switch {
	case opts.sname != "" && opts.name != "":
		return "", errors.New("--sname and --name are mutually exclusive: give one")
	case opts.sname != "":
		return node.ShortName(opts.sname)
	case opts.name != "":
		return node.LongName(opts.name)
	}
	return "", errors.New("missing node name: give --sname NAME or --name NAME@HOST (see gonode --help)")
}

// gossipConfig checks the discovery flags and returns the gossip
// configuration, or nil when gossip is off.
func gossipConfig(opts options) (*discovery.GossipConfig, error) {
	if !usesStrategy(opts.discovery, "gossip") {
		return nil, nil
	}
	group := net.ParseIP(opts.gossipGroup)
	if group == nil || !group.IsMulticast() {
		return nil, fmt.Errorf("invalid --gossip-group %q: want a multicast address such as %s, or ff02::4a47 with --gossip-if", opts.gossipGroup, discovery.DefaultGossipGroup)
	}
	if group.To4() == nil && strings.TrimSpace(opts.gossipIf) == "" {
		return nil, fmt.Errorf("--gossip-group %s is an IPv6 group, which needs --gossip-if NAME|ADDRESS: IPv6 multicast has no default interface", opts.gossipGroup)
	}
	if opts.gossipPort < 1 || opts.gossipPort > 65535 {
		return nil, fmt.Errorf("invalid --gossip-port %d: want 1 to 65535", opts.gossipPort)
	}
	if opts.gossipTTL < 0 || opts.gossipTTL > 255 {
		return nil, fmt.Errorf("invalid --gossip-ttl %d: want 0 to 255", opts.gossipTTL)
	}
	if opts.gossipInterval < 10*time.Millisecond {
		return nil, fmt.Errorf("invalid --gossip-interval %s: want at least 10ms", opts.gossipInterval)
	}
	cfg := &discovery.GossipConfig{
		Group:     group,
		Port:      opts.gossipPort,
		TTL:       opts.gossipTTL,
		Interface: strings.TrimSpace(opts.gossipIf),
		Interval:  opts.gossipInterval,
	}
	if opts.gossipSecret != "" {
		cfg.Secret = []byte(opts.gossipSecret)
	}
	return cfg, nil
}

func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && (isatty.IsTerminal(file.Fd()) || isatty.IsCygwinTerminal(file.Fd()))
}

// describeGossip describes how gossip finds peers, for the start-up message.
func describeGossip(cfg discovery.GossipConfig) string {
	ifc := cfg.Interface
	if ifc == "" {
		ifc = "chosen by the routing table"
	}
	s := fmt.Sprintf("gossip, UDP multicast to %s:%d every %s (ttl %d, interface %s", cfg.Group, cfg.Port, cfg.Interval, cfg.TTL, ifc)
	if len(cfg.Secret) > 0 {
		s += ", sealed with --gossip-secret"
	}
	return s + ")"
}

// listenDescription describes where the node listens, in words for a
// listener on every interface.
func listenDescription(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("TCP port %d on all interfaces", tcp.Port)
	}
	return "TCP " + addr.String()
}
