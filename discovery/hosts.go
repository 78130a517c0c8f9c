package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// DefaultHostsInterval is the default time between two passes of Hosts
// over its list.
const DefaultHostsInterval = time.Second

// HostsConfig configures a Hosts strategy.
type HostsConfig struct {
	// Nodes are the full names of the nodes to connect to, such as
	// "a@10.0.0.7". This node's own name may be among them.
	Nodes []string
	// Interval is the time between two passes over Nodes; 0 means
	// DefaultHostsInterval.
	Interval time.Duration
	// MinBackoff and MaxBackoff bound the wait between two attempts to
	// connect to one unconnected node; 0 means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the strategy's logs; nil discards them.
	Logger *slog.Logger
}

// Hosts is the static host-list strategy, a take on libcluster's Epmd
// strategy: it connects to each node of a fixed list for as long as it
// runs, backing off per node while one is unreachable, and connects
// again after a connection breaks. It reports each node by name only
// (Peer.Addr empty), so the node looks the port up with the port mapper
// of the node's host.
type Hosts struct {
	nodes      []string
	interval   time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	logger     *slog.Logger
}

// NewHosts checks cfg and returns a Hosts strategy. Every name must have
// the form name@host, and a list without names is an error.
func NewHosts(cfg HostsConfig) (*Hosts, error) {
	if len(cfg.Nodes) == 0 {
		return nil, errors.New("hosts: the node list is empty")
	}
	seen := make(map[string]bool)
	var nodes []string
	for _, name := range cfg.Nodes {
		if err := checkNodeName(name); err != nil {
			return nil, fmt.Errorf("hosts: %w", err)
		}
		if !seen[name] {
			seen[name] = true
			nodes = append(nodes, name)
		}
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("hosts: invalid interval %s", cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultHostsInterval
	}
	return &Hosts{
		nodes:      nodes,
		interval:   cfg.Interval,
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		logger:     componentLogger(cfg.Logger, "hosts"),
	}, nil
}

// ParseNodeList splits a comma-separated list of node names, as
// --hosts takes it, dropping spaces and empty items.
func ParseNodeList(s string) []string {
	var nodes []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			nodes = append(nodes, item)
		}
	}
	return nodes
}

// Name returns "hosts".
func (h *Hosts) Name() string { return "hosts" }

// Nodes returns the nodes that h connects to.
func (h *Hosts) Nodes() []string { return append([]string(nil), h.nodes...) }

// Run connects to the listed nodes until ctx is done, and returns nil.
func (h *Hosts) Run(ctx context.Context, c Cluster) error {
	h.logger.Info("hosts started", "nodes", strings.Join(h.nodes, ","), "interval", h.interval)
	tries := newAttempts(h.minBackoff, h.maxBackoff, h.logger)
	poll(ctx, h.interval, func(context.Context) {
		for _, name := range h.nodes {
			tries.connect(c, Peer{Name: name, Strategy: h.Name()})
		}
	})
	h.logger.Info("hosts stopped")
	return nil
}

// checkNodeName checks the rough form name@host of a node name. The node
// checks each name fully before it connects.
func checkNodeName(name string) error {
	local, host, ok := strings.Cut(name, "@")
	if !ok || local == "" || host == "" || strings.ContainsAny(name, " \t\r\n,") || strings.Count(name, "@") != 1 {
		return fmt.Errorf("invalid node name %q: want name@host", name)
	}
	return nil
}

// componentLogger returns logger, or a discarding one when it is nil,
// with the component attribute set to name.
func componentLogger(logger *slog.Logger, name string) *slog.Logger {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return logger.With("component", name)
}
