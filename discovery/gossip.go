package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/gonode/gonode/node/ratelog"
)

// Defaults of GossipConfig. The port and TTL are those of libcluster's
// Gossip strategy, and so is the group in the libcluster releases that use
// 233.252.1.32 (others use 230.1.1.251). libcluster waits a random time of
// up to 5 seconds between heartbeats.
const (
	DefaultGossipPort     = 45892
	DefaultGossipTTL      = 1
	DefaultGossipInterval = time.Second
)

// DefaultMaxPacketRate is the maximum number of packets per second that a
// Gossip handles from one source IP address when GossipConfig.MaxPacketRate
// is 0. A source may send a burst of this many at once. Packets over the
// rate are dropped before they are decoded, counted in
// GossipStats.DroppedRate and logged at most once per source every 10
// seconds. Every node on a host sends from the host's address, so the
// default leaves room for 200 nodes on one host at the default interval.
const DefaultMaxPacketRate = 200

// DefaultGossipGroup is the default multicast group of GossipConfig.
var DefaultGossipGroup = net.IPv4(233, 252, 1, 32)

// ErrRunning is returned by Gossip.Run when the Gossip is already running.
var ErrRunning = errors.New("gossip is already running")

const (
	// jitterFraction is the largest share of the interval by which one
	// send is moved earlier or later, so nodes started together spread out.
	jitterFraction = 0.25

	// summaryInterval is the least time between two debug summaries of
	// dropped foreign packets.
	summaryInterval = time.Minute
)

// GossipConfig configures a Gossip. The zero value of each field except
// NodeName and TransportPort selects its default.
type GossipConfig struct {
	// Group is the IPv4 or IPv6 multicast group; nil means
	// DefaultGossipGroup. An IPv6 group, such as ff02::4a47 (link-local
	// scope) or ff05::4a47 (site-local), needs Interface.
	Group net.IP
	// Port is the UDP port of the group; 0 means DefaultGossipPort.
	Port int
	// TTL is the multicast time to live, in hops (1..255); 0 means
	// DefaultGossipTTL, which keeps heartbeats on the local network.
	TTL int
	// Interface is the network interface to gossip on, by name ("eth0")
	// or by one of its addresses ("10.0.0.5"). Empty means the interface
	// that the routing table picks for the group.
	Interface string
	// Secret, when not empty, seals every heartbeat and makes the Gossip
	// reject heartbeats not sealed with the same secret.
	Secret []byte
	// Interval is the mean time between two heartbeats; 0 means
	// DefaultGossipInterval. Each wait is jittered by up to 25%.
	Interval time.Duration
	// NodeName is the name this node advertises; empty means the name
	// that Cluster.Self returns when Run starts.
	NodeName string
	// TransportPort is the TCP port of this node's transport listener,
	// which peers connect to. It is required.
	TransportPort int
	// MaxPacketRate is the maximum number of packets per second handled
	// from one source IP address; 0 means DefaultMaxPacketRate.
	MaxPacketRate int
	// Logger receives the Gossip's logs; nil discards them.
	Logger *slog.Logger
}

// Gossip is the multicast gossip strategy. Each running Gossip sends a
// heartbeat to its group at once and then about every Interval, and calls
// Cluster.Connect for each unconnected node whose heartbeat it receives. The peer's address is the heartbeat's source IP address with
// the advertised transport port.
//
// A Gossip is safe for concurrent use, but runs at most once at a time.
type Gossip struct {
	group    net.IP
	port     int
	ttl      int
	ifi      *net.Interface // nil when the routing table picks the interface
	interval time.Duration
	name     string
	tcpPort  int
	codec    *HeartbeatCodec
	logger   *slog.Logger

	running atomic.Bool
	stats   gossipCounters

	rate    *sourceRate     // packets handled per source address
	senders ratelog.Limiter // log records of unopenable or over-rate packets, by sender

	mu sync.Mutex
	// loggedNameClash is set once a heartbeat with this node's name and
	// another transport port was logged.
	loggedNameClash bool
}

// GossipStats counts what a Gossip sent and received since it was made.
type GossipStats struct {
	// Sent counts the heartbeats sent.
	Sent uint64
	// SendErrors counts the heartbeats that could not be sent.
	SendErrors uint64
	// Received counts the heartbeats received from other nodes.
	Received uint64
	// Own counts the heartbeats received with this node's name: its own
	// heartbeats looped back, and those of a node with the same name.
	Own uint64
	// DroppedForeign counts the packets that were not gonode heartbeats:
	// other programs' packets, truncated, forged or oversized ones.
	DroppedForeign uint64
	// DroppedLibcluster counts the libcluster heartbeats among
	// DroppedForeign.
	DroppedLibcluster uint64
	// DroppedUnopenable counts the gonode heartbeats that could not be
	// opened: sealed with another secret, sealed or plain against this
	// node's setting, or of another version.
	DroppedUnopenable uint64
	// DroppedRate counts the packets dropped undecoded because their
	// source sent more than the maximum packet rate.
	DroppedRate uint64
}

type gossipCounters struct {
	sent, sendErrors, received, own atomic.Uint64
	foreign, libcluster, unopenable atomic.Uint64
	overRate                        atomic.Uint64
}

// NewGossip checks cfg, applies its defaults and returns a Gossip that is
// not running yet. An Interface that names no interface of this host is an
// error matching ErrUnknownInterface.
func NewGossip(cfg GossipConfig) (*Gossip, error) {
	g := &Gossip{
		name:    cfg.NodeName,
		tcpPort: cfg.TransportPort,
	}
	if err := g.applyNumbers(cfg); err != nil {
		return nil, err
	}
	if cfg.NodeName != "" {
		if err := validateNodeName(cfg.NodeName); err != nil {
			return nil, fmt.Errorf("gossip: %w", err)
		}
	}

	var err error
	if g.ifi, err = lookupInterface(cfg.Interface); err != nil {
		return nil, err
	}
	if g.codec, err = NewHeartbeatCodec(cfg.Secret); err != nil {
		return nil, err
	}

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	g.logger = logger.With("component", "gossip")
	return g, nil
}

// applyNumbers checks the group, ports, TTL and interval of cfg and sets
// them, or their defaults, in g.
func (g *Gossip) applyNumbers(cfg GossipConfig) error {
	g.group = DefaultGossipGroup
	if cfg.Group != nil {
		g.group = cfg.Group
		if v4 := cfg.Group.To4(); v4 != nil {
			g.group = v4
		}
		if !g.group.IsMulticast() {
			return fmt.Errorf("gossip group %s is not a multicast address", cfg.Group)
		}
		if g.group.To4() == nil && cfg.Interface == "" {
			return fmt.Errorf("gossip group %s is an IPv6 group, which needs an interface: set the gossip interface (--gossip-if)", cfg.Group)
		}
	}

	g.port = DefaultGossipPort
	if cfg.Port != 0 {
		if cfg.Port < 1 || cfg.Port > 65535 {
			return fmt.Errorf("gossip port %d out of range 1..65535", cfg.Port)
		}
		g.port = cfg.Port
	}

	g.ttl = DefaultGossipTTL
	if cfg.TTL != 0 {
		if cfg.TTL < 1 || cfg.TTL > 255 {
			return fmt.Errorf("gossip TTL %d out of range 1..255", cfg.TTL)
		}
		g.ttl = cfg.TTL
	}

	g.interval = DefaultGossipInterval
	if cfg.Interval < 0 {
		return fmt.Errorf("gossip interval %v is negative", cfg.Interval)
	}
	if cfg.Interval > 0 {
		g.interval = cfg.Interval
	}

	if cfg.MaxPacketRate < 0 {
		return fmt.Errorf("gossip max packet rate %d is negative", cfg.MaxPacketRate)
	}
	rate := cfg.MaxPacketRate
	if rate == 0 {
		rate = DefaultMaxPacketRate
	}
	g.rate = newSourceRate(rate)

	if cfg.TransportPort < 1 || cfg.TransportPort > 65535 {
		return fmt.Errorf("gossip transport port %d out of range 1..65535 (set TransportPort)", cfg.TransportPort)
	}
	return nil
}

// Name returns "gossip".
func (g *Gossip) Name() string { return "gossip" }

// Stats returns the counters of g. It may be called at any time.
func (g *Gossip) Stats() GossipStats {
	return GossipStats{
		Sent:              g.stats.sent.Load(),
		SendErrors:        g.stats.sendErrors.Load(),
		Received:          g.stats.received.Load(),
		Own:               g.stats.own.Load(),
		DroppedForeign:    g.stats.foreign.Load(),
		DroppedLibcluster: g.stats.libcluster.Load(),
		DroppedUnopenable: g.stats.unopenable.Load(),
		DroppedRate:       g.stats.overRate.Load(),
	}
}

// Run joins the multicast group, sends the first heartbeat at once, and
// gossips until ctx is done; then it leaves the group and returns nil. It
// returns an error when the socket cannot be set up or reading from it
// fails, and ErrRunning when g is running already. Cluster methods are
// called from Run's own goroutines, and Run waits for them to end.
func (g *Gossip) Run(ctx context.Context, c Cluster) error {
	if !g.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer g.running.Store(false)

	self := g.name
	if self == "" {
		self = c.Self()
	}
	// Encoding once up front reports a bad name before joining the group.
	if _, err := g.codec.Encode(Heartbeat{Name: self, Port: g.tcpPort}); err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	conn, err := g.listen(ctx)
	if err != nil {
		return err
	}
	if err := g.joinWhenReady(ctx, conn); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	g.logChoice()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		readErr = g.receive(conn, c, self)
		cancel() // a failed read stops the sender too
	})
	g.sendLoop(ctx, conn, self)
	conn.Close()
	wg.Wait()

	if readErr != nil {
		g.logger.Error("gossip stopped", "err", readErr)
		return readErr
	}
	s := g.Stats()
	g.logger.Info("gossip stopped", "sent", s.Sent, "received", s.Received,
		"dropped_foreign", s.DroppedForeign, "dropped_unopenable", s.DroppedUnopenable,
		"dropped_over_rate", s.DroppedRate)
	return nil
}

// isIPv6 reports whether g gossips on an IPv6 group.
func (g *Gossip) isIPv6() bool { return g.group.To4() == nil }

// listen opens the UDP socket bound to the group and port.
func (g *Gossip) listen(ctx context.Context) (net.PacketConn, error) {
	network := "udp4"
	if g.isIPv6() {
		network = "udp6"
	}
	addr := net.JoinHostPort(g.group.String(), strconv.Itoa(g.port))
	lc := net.ListenConfig{Control: reuseAddr}
	pc, err := lc.ListenPacket(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("gossip listen on %s: %w", addr, err)
	}
	return pc, nil
}

// joinRetryInterval is the wait between two attempts to join the group
// while the interface is down or has no route to the group.
const joinRetryInterval = time.Second

// joinWhenReady joins the group on g's interface. While that fails
// because the interface is down, has no address yet or no route leads to
// the group, it logs once and tries again every joinRetryInterval, so a
// node whose network comes up after it started joins then. Any other
// error is returned, and so is ctx's end.
func (g *Gossip) joinWhenReady(ctx context.Context, pc net.PacketConn) error {
	waiting := false
	for {
		err := g.setupMulticast(pc)
		if err == nil {
			if waiting {
				g.logger.Info("gossip joined group " + g.group.String() + " after its interface came up")
			}
			return nil
		}
		if !networkNotReady(err) {
			return err
		}
		if !waiting {
			g.logger.Warn("cannot join the gossip group yet; retrying every "+joinRetryInterval.String()+" until the interface is up", "err", err)
			waiting = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(joinRetryInterval):
		}
	}
}

// networkNotReady reports whether err is one that a network coming up
// later can cure.
func networkNotReady(err error) bool {
	for _, errno := range []syscall.Errno{syscall.ENODEV, syscall.ENETDOWN, syscall.ENETUNREACH, syscall.EADDRNOTAVAIL} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func (g *Gossip) setupMulticast(pc net.PacketConn) error {
	if g.isIPv6() {
		return g.setupMulticast6(ipv6.NewPacketConn(pc))
	}
	conn := ipv4.NewPacketConn(pc)
	where := describeInterface(g.ifi)
	if err := conn.JoinGroup(g.ifi, &net.UDPAddr{IP: g.group}); err != nil {
		if g.ifi == nil && errors.Is(err, syscall.ENODEV) {
			return fmt.Errorf("gossip join group %s: no interface has a route to it (set the gossip interface, or add a route for 224.0.0.0/4): %w", g.group, err)
		}
		return fmt.Errorf("gossip join group %s on interface %s: %w", g.group, where, err)
	}
	if g.ifi != nil {
		if err := conn.SetMulticastInterface(g.ifi); err != nil {
			return fmt.Errorf("gossip set multicast interface %s: %w", where, err)
		}
	}
	if err := conn.SetMulticastTTL(g.ttl); err != nil {
		return fmt.Errorf("gossip set multicast TTL %d: %w", g.ttl, err)
	}
	// Loopback lets nodes on the same host hear each other.
	if err := conn.SetMulticastLoopback(true); err != nil {
		return fmt.Errorf("gossip enable multicast loopback: %w", err)
	}
	return nil
}

// setupMulticast6 is setupMulticast for an IPv6 group, whose interface
// is always set.
func (g *Gossip) setupMulticast6(conn *ipv6.PacketConn) error {
	where := describeInterface(g.ifi)
	if err := conn.JoinGroup(g.ifi, &net.UDPAddr{IP: g.group}); err != nil {
		return fmt.Errorf("gossip join group %s on interface %s: %w", g.group, where, err)
	}
	if err := conn.SetMulticastInterface(g.ifi); err != nil {
		return fmt.Errorf("gossip set multicast interface %s: %w", where, err)
	}
	if err := conn.SetMulticastHopLimit(g.ttl); err != nil {
		return fmt.Errorf("gossip set multicast hop limit %d: %w", g.ttl, err)
	}
	if err := conn.SetMulticastLoopback(true); err != nil {
		return fmt.Errorf("gossip enable multicast loopback: %w", err)
	}
	return nil
}

// sendLoop sends a heartbeat at once and then after each jittered
// interval, until ctx is done.
func (g *Gossip) sendLoop(ctx context.Context, conn net.PacketConn, self string) {
	dst := &net.UDPAddr{IP: g.group, Port: g.port}
	hb := Heartbeat{Name: self, Port: g.tcpPort}
	var failures uint64 // consecutive send failures
	var lastSummary time.Time
	var summarizedForeign uint64

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		failures = g.send(conn, dst, hb, failures)
		if time.Since(lastSummary) >= summaryInterval {
			summarizedForeign = g.summarizeForeign(summarizedForeign)
			lastSummary = time.Now()
		}
		timer.Reset(g.jitter())
	}
}

// send sends one heartbeat. It logs the first of a run of failures and the
// recovery after it, and returns the new count of consecutive failures.
func (g *Gossip) send(conn net.PacketConn, dst *net.UDPAddr, hb Heartbeat, failures uint64) uint64 {
	packet, err := g.codec.Encode(hb)
	if err == nil {
		_, err = conn.WriteTo(packet, dst)
	}
	if err != nil {
		g.stats.sendErrors.Add(1)
		if failures == 0 {
			g.logger.Warn("cannot send gossip heartbeat to "+dst.String()+"; retrying each interval", "err", err)
		}
		return failures + 1
	}
	g.stats.sent.Add(1)
	if failures > 0 {
		g.logger.Info("gossip heartbeat sent to "+dst.String()+" again", "failed_sends", failures)
	}
	return 0
}

// summarizeForeign logs at debug level how many foreign packets were
// dropped since the count before, and returns the count now.
func (g *Gossip) summarizeForeign(before uint64) uint64 {
	now := g.stats.foreign.Load()
	if now > before {
		g.logger.Debug("dropped foreign packets on the gossip port",
			"count", now-before, "libcluster_total", g.stats.libcluster.Load())
	}
	return now
}

// jitter returns the interval moved by a random share of up to
// jitterFraction either way.
func (g *Gossip) jitter() time.Duration {
	spread := (rand.Float64()*2 - 1) * jitterFraction
	return g.interval + time.Duration(spread*float64(g.interval))
}
