package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/gonode/gonode/discovery"
	"github.com/gonode/gonode/node"
)

// strategyNames are the values that --discovery takes, in the order the
// strategies start.
var strategyNames = []string{"gossip", "hosts", "hosts-file", "dns", "swim"}

// discoveryOptions are the flags of the strategies other than gossip.
type discoveryOptions struct {
	hosts       string
	hostsFile   string
	dnsQuery    string
	dnsSRV      string
	dnsBasename string
	dnsServer   string
	dnsInterval time.Duration
	join        string
	swimPort    int
}

func addDiscoveryFlags(fs *flag.FlagSet, d *discoveryOptions) {
	fs.StringVar(&d.hosts, "hosts", "", "hosts strategy: comma-separated `NODES` (name@host) to connect to and keep connected")
	fs.StringVar(&d.hostsFile, "hosts-file", "", "hosts-file strategy: `PATH` of a file of host names ('host'. or one per line) whose port mappers are asked for nodes")
	fs.StringVar(&d.dnsQuery, "dns-query", "", "dns strategy: `NAME` whose A and AAAA records are the nodes' addresses")
	fs.StringVar(&d.dnsSRV, "dns-srv", "", "dns strategy: `NAME` whose SRV records name the nodes' hosts (such as a Kubernetes headless service)")
	fs.StringVar(&d.dnsBasename, "dns-basename", "", "dns strategy: node `NAME` before @ of every node found by DNS")
	fs.StringVar(&d.dnsServer, "dns-server", "", "dns strategy: DNS server `HOST[:PORT]` to ask (default: the system's resolver)")
	durationVar(fs, &d.dnsInterval, "dns-interval", discovery.DefaultDNSInterval, "dns strategy: `DURATION` between two lookups")
	fs.StringVar(&d.join, "join", "", "swim strategy: comma-separated seeds `HOST:PORT` to join, and to join again while one is not a member")
	fs.IntVar(&d.swimPort, "swim-port", discovery.DefaultSWIMPort, "swim strategy: UDP and TCP `PORT` of the membership protocol")
}

// checkDiscoveryFlags checks --discovery against the strategy flags and
// rewrites opts.discovery as a clean comma-separated list. When
// --discovery is not given, the strategies whose flags are given run
// (gossip when there are none, and none with --remsh).
func checkDiscoveryFlags(fs *flag.FlagSet, opts *options) error {
	d := &opts.disc
	implied := map[string]bool{
		"hosts":      d.hosts != "",
		"hosts-file": d.hostsFile != "",
		"dns":        d.dnsQuery != "" || d.dnsSRV != "" || d.dnsBasename != "" || d.dnsServer != "",
		"swim":       d.join != "",
	}
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "discovery" })

	var list []string
	if explicit {
		parsed, err := parseStrategyList(opts.discovery)
		if err != nil {
			return err
		}
		list = parsed
		for _, name := range strategyNames {
			if implied[name] && !slices.Contains(list, name) {
				return fmt.Errorf("%s flags given, but --discovery %q lacks %s: add it, such as --discovery %s", name, opts.discovery, name, strings.Join(append(list, name), ","))
			}
		}
	} else {
		for _, name := range strategyNames {
			if implied[name] {
				list = append(list, name)
			}
		}
		// A remote shell node only talks to its target, as iex's
		// hidden remote shell node does.
		if len(list) == 0 && opts.remsh == "" {
			list = []string{"gossip"}
		}
	}

	if slices.Contains(list, "hosts") && len(discovery.ParseNodeList(d.hosts)) == 0 {
		return errors.New("--discovery hosts needs --hosts NODES, such as --hosts a@10.0.0.1,b@10.0.0.2")
	}
	if slices.Contains(list, "hosts-file") && d.hostsFile == "" {
		return errors.New("--discovery hosts-file needs --hosts-file PATH")
	}
	if slices.Contains(list, "dns") {
		if d.dnsQuery == "" && d.dnsSRV == "" {
			return errors.New("--discovery dns needs --dns-query NAME or --dns-srv NAME")
		}
		if d.dnsBasename == "" {
			return errors.New("--discovery dns needs --dns-basename NAME, the node name before @")
		}
		if d.dnsInterval < 10*time.Millisecond {
			return fmt.Errorf("invalid --dns-interval %s: want at least 10ms", d.dnsInterval)
		}
	}
	if slices.Contains(list, "swim") {
		// The transport port is not known yet, so 1 is a placeholder.
		_, err := discovery.NewSWIM(discovery.SWIMConfig{TransportPort: 1, Port: d.swimPort, Join: discovery.ParseNodeList(d.join)})
		if err != nil {
			return fmt.Errorf("--discovery swim: %w", err)
		}
	}
	opts.discovery = strings.Join(list, ",")
	if opts.discovery == "" {
		opts.discovery = "none"
	}
	return nil
}

// parseStrategyList parses the value of --discovery.
func parseStrategyList(s string) ([]string, error) {
	if strings.TrimSpace(s) == "none" {
		return nil, nil
	}
	var list []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		switch {
		case item == "":
			continue
		case !slices.Contains(strategyNames, item):
			return nil, fmt.Errorf("invalid --discovery %q: unknown strategy %q; want a comma-separated list of %s, or none", s, item, strings.Join(strategyNames, ", "))
		case !slices.Contains(list, item):
			list = append(list, item)
		}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("invalid --discovery %q: want a comma-separated list of %s, or none", s, strings.Join(strategyNames, ", "))
	}
	return list, nil
}

// usesStrategy reports whether the checked --discovery list names name.
func usesStrategy(list, name string) bool {
	return slices.Contains(strings.Split(list, ","), name)
}

// namedStrategy is a strategy with its start-up description. When
// Strategy is nil, build makes it once the node runs.
type namedStrategy struct {
	discovery.Strategy
	build       func(n *node.Node) (discovery.Strategy, error)
	description string
}

// start runs the strategy on n.
//
// NOTE: a strategy whose Run fails later, such as SWIM when memberlist's
// port is in use, is only logged by the node ("discovery stopped"), and
// gonode keeps running without it.
func (s namedStrategy) start(n *node.Node) error {
	strategy := s.Strategy
	if strategy == nil {
		var err error
		if strategy, err = s.build(n); err != nil {
			return err
		}
	}
	n.RunStrategy(strategy)
	return nil
}

// otherStrategies makes the strategies other than gossip that the checked
// options ask for.
func otherStrategies(opts options, logger *slog.Logger) ([]namedStrategy, error) {
	d := opts.disc
	var out []namedStrategy
	if usesStrategy(opts.discovery, "hosts") {
		h, err := discovery.NewHosts(discovery.HostsConfig{Nodes: discovery.ParseNodeList(d.hosts), Logger: logger})
		if err != nil {
			return nil, &flagError{"--hosts", "hosts", err}
		}
		out = append(out, namedStrategy{Strategy: h, description: "hosts, keeping " + strings.Join(h.Nodes(), ", ") + " connected"})
	}
	if usesStrategy(opts.discovery, "hosts-file") {
		h, err := discovery.NewHostsFile(discovery.HostsFileConfig{Path: d.hostsFile, Logger: logger})
		if err != nil {
			return nil, &flagError{"--hosts-file", "hosts-file", err}
		}
		desc := fmt.Sprintf("hosts-file, asking the port mapper of each host in %s every %s", d.hostsFile, discovery.DefaultHostsFileInterval)
		out = append(out, namedStrategy{Strategy: h, description: desc})
	}
	if usesStrategy(opts.discovery, "dns") {
		s, err := discovery.NewDNS(discovery.DNSConfig{
			Query:    d.dnsQuery,
			SRV:      d.dnsSRV,
			Basename: d.dnsBasename,
			Interval: d.dnsInterval,
			Server:   d.dnsServer,
			Logger:   logger,
		})
		if err != nil {
			return nil, &flagError{"--discovery dns", "dns", err}
		}
		out = append(out, namedStrategy{Strategy: s, description: describeDNS(d)})
	}
	if usesStrategy(opts.discovery, "swim") {
		cfg := discovery.SWIMConfig{Port: d.swimPort, Join: discovery.ParseNodeList(d.join), Logger: logger}
		if opts.gossipSecret != "" {
			cfg.Secret = []byte(opts.gossipSecret)
		}
		build := func(n *node.Node) (discovery.Strategy, error) {
			cfg.NodeName = n.Name()
			cfg.TransportPort = n.Port()
			// Bound to its default 0.0.0.0, memberlist advertises a
			// private IPv4 address, which an IPv6-only network cannot
			// reach. A node named after an IPv6 address binds that
			// address, and memberlist advertises it.
			_, host := node.SplitName(n.Name())
			if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
				cfg.BindAddr = ip.String()
			}
			return discovery.NewSWIM(cfg)
		}
		desc := fmt.Sprintf("swim, memberlist on port %d joining %s", d.swimPort, d.join)
		if d.join == "" {
			desc = fmt.Sprintf("swim, memberlist on port %d waiting for others to join", d.swimPort)
		}
		if len(cfg.Secret) > 0 {
			desc += ", encrypted with --gossip-secret"
		}
		out = append(out, namedStrategy{build: build, description: desc})
	}
	return out, nil
}

// flagError is a strategy's constructor error named after the flag that
// set it. The constructor's own prefix, such as "hosts-file: ", is cut,
// so that the message does not name the strategy twice.
type flagError struct {
	flag   string
	prefix string
	err    error
}

func (e *flagError) Error() string {
	return e.flag + ": " + strings.TrimPrefix(e.err.Error(), e.prefix+": ")
}

func (e *flagError) Unwrap() error { return e.err }

func describeDNS(d discoveryOptions) string {
	var names []string
	if d.dnsQuery != "" {
		names = append(names, "A and AAAA records of "+d.dnsQuery)
	}
	if d.dnsSRV != "" {
		names = append(names, "SRV records of "+d.dnsSRV)
	}
	server := d.dnsServer
	if server == "" {
		server = "the system's resolver"
	}
	return fmt.Sprintf("dns, connecting to %s@ADDRESS for the %s every %s (server %s)", d.dnsBasename, strings.Join(names, " and "), d.dnsInterval, server)
}
