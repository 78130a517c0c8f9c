package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gonode/gonode/node/epmd"
)

// Defaults of DNSConfig. The interval is that of libcluster's DNSPoll.
const (
	DefaultDNSInterval = 5 * time.Second
	DefaultDNSTimeout  = 2 * time.Second
)

// maxSRVResolves bounds the SRV targets that a DNS strategy resolves at
// once.
const maxSRVResolves = 16

// DNSConfig configures a DNS strategy. Basename and at least one of
// Query and SRV are required.
type DNSConfig struct {
	// Query is a name whose A and AAAA records are the nodes' addresses;
	// each address ip gives the node Basename@ip.
	Query string
	// SRV is a name whose SRV records name the nodes' hosts, as a
	// Kubernetes headless service does for the pods of a StatefulSet.
	// Each target host gives the node Basename@host. The records' ports
	// are not used, because the port mapper of each host returns the
	// node's port.
	SRV string
	// Basename is the part before '@' of every node's name.
	Basename string
	// Interval is the time between two lookups; 0 means
	// DefaultDNSInterval.
	Interval time.Duration
	// Timeout bounds one lookup; 0 means DefaultDNSTimeout.
	Timeout time.Duration
	// Server is the DNS server to ask, as host:port or host (port 53).
	// Empty means the system's resolver.
	Server string
	// EPMDPort is the port mapper port that SRV targets are asked on; 0
	// means the port from GONODE_EPMD_PORT, else 4369.
	EPMDPort int
	// MinBackoff and MaxBackoff bound the wait between two attempts to
	// connect to one unconnected node; 0 means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the strategy's logs; nil discards them.
	Logger *slog.Logger
}

// DNS is the DNS polling strategy, a take on libcluster's DNSPoll and
// Kubernetes DNS strategies. Every Interval it looks up the A and AAAA
// records of Query and the SRV records of SRV, and connects to the nodes
// they name.
//
// Unlike libcluster's DNSPoll, it never disconnects a node that is missing
// from an answer, because DNS services often answer with only some of the
// records. A failed lookup is logged at a limited rate, and the strategy
// keeps connecting to the nodes of the last good answer.
type DNS struct {
	cfg      DNSConfig
	resolver *net.Resolver
	logger   *slog.Logger
}

// NewDNS checks cfg and returns a DNS strategy.
func NewDNS(cfg DNSConfig) (*DNS, error) {
	if cfg.Query == "" && cfg.SRV == "" {
		return nil, errors.New("dns: no name to look up: set a query name or an SRV name")
	}
	if err := checkLocalName(cfg.Basename); err != nil {
		return nil, fmt.Errorf("dns: invalid basename %q: %w", cfg.Basename, err)
	}
	var err error
	cfg.Interval, cfg.Timeout, err = pollTimes(cfg.Interval, DefaultDNSInterval, cfg.Timeout, DefaultDNSTimeout)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	if cfg.EPMDPort, err = portMapperPort(cfg.EPMDPort); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	resolver := net.DefaultResolver
	if cfg.Server != "" {
		server, err := serverAddr(cfg.Server)
		if err != nil {
			return nil, fmt.Errorf("dns: %w", err)
		}
		cfg.Server = server
		resolver = newResolver(server)
	}
	return &DNS{cfg: cfg, resolver: resolver, logger: componentLogger(cfg.Logger, "dns")}, nil
}

// serverAddr adds port 53 to a DNS server address without a port.
func serverAddr(s string) (string, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(ip, 53).String(), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.Contains(s, ":") {
			return net.JoinHostPort(s, "53"), nil
		}
		return "", fmt.Errorf("invalid DNS server %q: want host:port or host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return "", fmt.Errorf("invalid DNS server %q: want host:port with a port from 1 to 65535", s)
	}
	return s, nil
}

// newResolver returns a resolver that sends every query to server.
func newResolver(server string) *net.Resolver {
	var d net.Dialer
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, server)
		},
	}
}

// checkLocalName checks the part of a node name before '@'.
func checkLocalName(local string) error {
	if local == "" {
		return errors.New("empty")
	}
	for _, r := range local {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("character %q is not allowed: use letters, digits, _ and -", r)
		}
	}
	return nil
}

// Name returns "dns".
func (d *DNS) Name() string { return "dns" }

// dnsState is what one run of DNS remembers between polls. The goroutine
// of Run owns it, except for the fields that mu guards.
type dnsState struct {
	addrs    []netip.Addr // the last good A and AAAA answer, sorted
	targets  []string     // the last good SRV answer, sorted
	queryLog *limitedLog
	srvLog   *limitedLog
	tries    *attempts

	resolves sync.WaitGroup
	slots    chan struct{} // bounds the SRV targets resolved at once

	mu       sync.Mutex
	reported map[string]bool // guarded by mu; SRV targets whose resolve failure was logged
}

// Run polls DNS and connects to the nodes found until ctx is done, and
// returns nil.
func (d *DNS) Run(ctx context.Context, c Cluster) error {
	st := &dnsState{
		queryLog: newLimitedLog(errorLogEvery),
		srvLog:   newLimitedLog(errorLogEvery),
		tries:    newAttempts(d.cfg.MinBackoff, d.cfg.MaxBackoff, d.logger),
		slots:    make(chan struct{}, maxSRVResolves),
		reported: make(map[string]bool),
	}
	server := d.cfg.Server
	if server == "" {
		server = "system resolver"
	}
	d.logger.Info("dns started", "query", d.cfg.Query, "srv", d.cfg.SRV, "basename", d.cfg.Basename,
		"interval", d.cfg.Interval, "server", server)
	poll(ctx, d.cfg.Interval, func(ctx context.Context) { d.pollOnce(ctx, c, st) })
	st.resolves.Wait()
	d.logger.Info("dns stopped")
	return nil
}

func (d *DNS) pollOnce(ctx context.Context, c Cluster, st *dnsState) {
	if d.cfg.Query != "" {
		d.lookupQuery(ctx, st)
	}
	if d.cfg.SRV != "" {
		d.lookupSRV(ctx, st)
	}
	if ctx.Err() != nil {
		return
	}
	st.tries.startRound()
	for _, ip := range st.addrs {
		st.tries.connect(c, Peer{Name: d.cfg.Basename + "@" + ip.String(), Strategy: d.Name()})
	}
	for _, host := range st.targets {
		name := d.cfg.Basename + "@" + host
		if st.tries.due(c, name) {
			d.connectSRVTarget(ctx, c, st, name, host)
		}
	}
	st.tries.endRound()
}

// lookupQuery updates st.addrs from the A and AAAA records of Query.
func (d *DNS) lookupQuery(ctx context.Context, st *dnsState) {
	lctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	addrs, err := d.resolver.LookupNetIP(lctx, "ip", d.cfg.Query)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if ok, suppressed := st.queryLog.fail(time.Now()); ok {
			d.logger.Warn("dns lookup of "+d.cfg.Query+" failed"+keepingLast(len(st.addrs)),
				repeatsAttrs(suppressed, "err", d.namedServer(err), "addresses", len(st.addrs))...)
		}
		return
	}
	if st.queryLog.recover() {
		d.logger.Info("dns lookup of " + d.cfg.Query + " works again")
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	slices.SortFunc(addrs, func(a, b netip.Addr) int { return a.Compare(b) })
	addrs = slices.Compact(addrs)
	if !slices.Equal(addrs, st.addrs) {
		d.logger.Info("dns answer for "+d.cfg.Query+" changed", "addresses", joinAddrs(addrs))
	}
	st.addrs = addrs
}

// lookupSRV updates st.targets from the SRV records of SRV.
func (d *DNS) lookupSRV(ctx context.Context, st *dnsState) {
	lctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	_, records, err := d.resolver.LookupSRV(lctx, "", "", d.cfg.SRV)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		if ok, suppressed := st.srvLog.fail(time.Now()); ok {
			d.logger.Warn("dns SRV lookup of "+d.cfg.SRV+" failed"+keepingLast(len(st.targets)),
				repeatsAttrs(suppressed, "err", d.namedServer(err), "targets", len(st.targets))...)
		}
		return
	}
	if st.srvLog.recover() {
		d.logger.Info("dns SRV lookup of " + d.cfg.SRV + " works again")
	}
	var targets []string
	for _, r := range records {
		target := strings.TrimSuffix(r.Target, ".")
		if target != "" {
			targets = append(targets, target)
		}
	}
	slices.Sort(targets)
	targets = slices.Compact(targets)
	if !slices.Equal(targets, st.targets) {
		d.logger.Info("dns SRV answer for "+d.cfg.SRV+" changed", "targets", strings.Join(targets, ","))
	}
	st.targets = targets
}

// keepingLast returns the tail of a failed-lookup message: the strategy
// keeps the last good answer when it has one with n entries.
func keepingLast(n int) string {
	if n == 0 {
		return "; no good answer yet"
	}
	return "; keeping the last good answer"
}

// namedServer makes a *net.DNSError in err name cfg.Server. The Go
// resolver fills DNSError.Server from /etc/resolv.conf even when the
// resolver's Dial sends every query to another server, so without this
// the message would name a server that was never asked.
func (d *DNS) namedServer(err error) error {
	var dnsErr *net.DNSError
	if d.cfg.Server != "" && errors.As(err, &dnsErr) {
		dnsErr.Server = d.cfg.Server
	}
	return err
}

// connectSRVTarget resolves host with the strategy's resolver, looks the
// node's port up with the host's port mapper and then calls c.Connect, all
// in a goroutine that Run waits for. The node itself would resolve the host
// with the system's resolver, which may not know it when Server is set.
func (d *DNS) connectSRVTarget(ctx context.Context, c Cluster, st *dnsState, name, host string) {
	select {
	case st.slots <- struct{}{}:
	default:
		// Too many under way: the back-off brings this one round again.
		return
	}
	st.resolves.Add(1)
	go func() {
		defer st.resolves.Done()
		defer func() { <-st.slots }()
		rctx, cancel := context.WithTimeout(ctx, 2*d.cfg.Timeout)
		defer cancel()
		addr, err := d.resolveNode(rctx, host)
		st.mu.Lock()
		first := err != nil && !st.reported[host]
		if err != nil {
			st.reported[host] = true
		} else {
			delete(st.reported, host)
		}
		st.mu.Unlock()
		if err != nil {
			if first && ctx.Err() == nil {
				d.logger.Warn("cannot find "+quoteNode(name)+"; retrying with back-off", "err", err)
			}
			return
		}
		c.Connect(Peer{Name: name, Addr: addr, Strategy: d.Name()})
	}()
}

// resolveNode returns the transport address of the node Basename@host.
func (d *DNS) resolveNode(ctx context.Context, host string) (string, error) {
	var ip netip.Addr
	if parsed, err := netip.ParseAddr(host); err == nil {
		ip = parsed
	} else {
		addrs, err := d.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return "", fmt.Errorf("resolve host %s: %w", host, d.namedServer(err))
		}
		if len(addrs) == 0 {
			return "", fmt.Errorf("resolve host %s: no addresses", host)
		}
		ip = addrs[0].Unmap()
	}
	epmdAddr := netip.AddrPortFrom(ip, uint16(d.cfg.EPMDPort)).String()
	port, err := epmd.Lookup(ctx, epmdAddr, d.cfg.Basename)
	if err != nil {
		return "", err // the epmd error names epmdAddr and Basename
	}
	return netip.AddrPortFrom(ip, uint16(port)).String(), nil
}

func joinAddrs(addrs []netip.Addr) string {
	parts := make([]string, len(addrs))
	for i, a := range addrs {
		parts[i] = a.String()
	}
	return strings.Join(parts, ",")
}
