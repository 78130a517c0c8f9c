package discovery

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeout bounds every wait in these tests.
const testTimeout = 5 * time.Second

// nextPort gives each test its own gossip port, so that no packet of one
// test reaches the next.
var nextPort atomic.Int32

func init() { nextPort.Store(46000) }

func testPort() int { return int(nextPort.Add(1)) }

// fakeCluster records the Connect calls of a strategy.
type fakeCluster struct {
	self string

	mu        sync.Mutex
	connected map[string]bool
	connects  []Peer
}

func newFakeCluster(self string, connected ...string) *fakeCluster {
	c := &fakeCluster{self: self, connected: make(map[string]bool)}
	for _, name := range connected {
		c.connected[name] = true
	}
	return c
}

func (c *fakeCluster) Self() string { return c.self }

func (c *fakeCluster) Connected(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected[name]
}

func (c *fakeCluster) Connect(p Peer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connects = append(c.connects, p)
}

func (c *fakeCluster) Connects() []Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Peer(nil), c.connects...)
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// waitFor polls cond until it holds, and fails the test after testTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", testTimeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startGossip runs g for c until the test ends, and checks then that Run
// returns nil in time. It returns once g hears its own first heartbeat,
// which shows that g joined the group.
func startGossip(t *testing.T, g *Gossip, c Cluster) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = g.Run(ctx, c)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("Run = %v, want nil after cancel", runErr)
			}
		case <-time.After(testTimeout):
			t.Errorf("Run did not return within %v of cancel", testTimeout)
		}
	})
	waitFor(t, g.name+" to hear its own heartbeat", func() bool {
		select {
		case <-done:
			t.Fatalf("Run returned before the test ended: %v", runErr)
		default:
		}
		return g.Stats().Own > 0
	})
}

func mustGossip(t *testing.T, cfg GossipConfig) *Gossip {
	t.Helper()
	g, err := NewGossip(cfg)
	if err != nil {
		t.Fatalf("NewGossip: %v", err)
	}
	return g
}

// sendRaw sends packets to the gossip group from a plain UDP socket.
func sendRaw(t *testing.T, port int, packets ...[]byte) {
	t.Helper()
	conn, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: DefaultGossipGroup, Port: port})
	if err != nil {
		t.Fatalf("dial gossip group: %v", err)
	}
	defer conn.Close()
	for _, p := range packets {
		if _, err := conn.Write(p); err != nil {
			t.Fatalf("send to gossip group: %v", err)
		}
	}
}

func hasPeer(c *fakeCluster, want Peer) bool {
	for _, p := range c.Connects() {
		if p == want {
			return true
		}
	}
	return false
}

func TestGossipNodesFindEachOther(t *testing.T) {
	tests := []struct {
		name         string
		secret       string
		ifaceA       string
		ifaceB       string
		interval     time.Duration
		nameFromSelf bool // leave NodeName empty so Run takes Cluster.Self
	}{
		{name: "plain", interval: 20 * time.Millisecond},
		{name: "sealed", secret: "genki", interval: 20 * time.Millisecond},
		{name: "interface by name", ifaceA: "lo", ifaceB: "lo", interval: 20 * time.Millisecond},
		{name: "interface by address", ifaceA: "127.0.0.1", ifaceB: "lo", interval: 20 * time.Millisecond},
		{name: "name from cluster", nameFromSelf: true, interval: 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := testPort()
			ca, cb := newFakeCluster("a@vm"), newFakeCluster("b@vm")
			cfgA := GossipConfig{Port: port, Interface: tt.ifaceA, Secret: []byte(tt.secret),
				Interval: tt.interval, NodeName: "a@vm", TransportPort: 4001}
			cfgB := GossipConfig{Port: port, Interface: tt.ifaceB, Secret: []byte(tt.secret),
				Interval: tt.interval, NodeName: "b@vm", TransportPort: 4002}
			if tt.nameFromSelf {
				cfgA.NodeName, cfgB.NodeName = "", ""
			}
			ga, gb := mustGossip(t, cfgA), mustGossip(t, cfgB)
			startGossip(t, ga, ca)
			startGossip(t, gb, cb)

			wantA := Peer{Name: "b@vm", Addr: "127.0.0.1:4002", Strategy: "gossip"}
			wantB := Peer{Name: "a@vm", Addr: "127.0.0.1:4001", Strategy: "gossip"}
			waitFor(t, "a to connect to b", func() bool { return hasPeer(ca, wantA) })
			waitFor(t, "b to connect to a", func() bool { return hasPeer(cb, wantB) })
			for _, p := range append(ca.Connects(), cb.Connects()...) {
				if p != wantA && p != wantB {
					t.Errorf("Connect(%+v), want only %+v and %+v", p, wantA, wantB)
				}
			}
		})
	}
}

func TestGossipFirstHeartbeatAtOnce(t *testing.T) {
	port := testPort()
	ca, cb := newFakeCluster("a@vm"), newFakeCluster("b@vm")
	ga := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001})
	gb := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "b@vm", TransportPort: 4002})
	startGossip(t, ga, ca)
	startGossip(t, gb, cb)

	want := Peer{Name: "b@vm", Addr: "127.0.0.1:4002", Strategy: "gossip"}
	waitFor(t, "a to connect to b", func() bool { return hasPeer(ca, want) })
	if got := gb.Stats().Sent; got != 1 {
		t.Errorf("b Stats().Sent = %d, want 1 within the first interval", got)
	}
}

func TestGossipSkipsConnectedPeer(t *testing.T) {
	port := testPort()
	ca := newFakeCluster("a@vm", "b@vm")
	ga := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001})
	startGossip(t, ga, ca)

	codec := mustCodec(t, "")
	sendRaw(t, port, mustEncode(t, codec, Heartbeat{Name: "b@vm", Port: 4002}),
		mustEncode(t, codec, Heartbeat{Name: "c@vm", Port: 4003}))
	waitFor(t, "two heartbeats received", func() bool { return ga.Stats().Received == 2 })
	got := ca.Connects()
	if len(got) != 1 || got[0].Name != "c@vm" {
		t.Errorf("Connect calls = %+v, want one for c@vm only", got)
	}
}

func TestGossipSecretMismatch(t *testing.T) {
	tests := []struct {
		name             string
		secretA, secretB string
		hintA, hintB     string
	}{
		{"different secrets", "key-one-7f3a", "key-two-91bc", "another --gossip-secret?", "another --gossip-secret?"},
		{"secret against none", "key-one-7f3a", "",
			"this node has a --gossip-secret and the sender has none",
			"the sender has a --gossip-secret and this node has none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := testPort()
			var logA, logB logBuffer
			ca, cb := newFakeCluster("a@vm"), newFakeCluster("b@vm")
			ga := mustGossip(t, GossipConfig{Port: port, Secret: []byte(tt.secretA), Interval: 10 * time.Millisecond,
				NodeName: "a@vm", TransportPort: 4001, Logger: logA.logger()})
			gb := mustGossip(t, GossipConfig{Port: port, Secret: []byte(tt.secretB), Interval: 10 * time.Millisecond,
				NodeName: "b@vm", TransportPort: 4002, Logger: logB.logger()})
			startGossip(t, ga, ca)
			startGossip(t, gb, cb)

			waitFor(t, "five unopenable heartbeats at a", func() bool { return ga.Stats().DroppedUnopenable >= 5 })
			waitFor(t, "five unopenable heartbeats at b", func() bool { return gb.Stats().DroppedUnopenable >= 5 })
			if got := ca.Connects(); len(got) != 0 {
				t.Errorf("a Connect calls = %+v, want none", got)
			}
			if got := cb.Connects(); len(got) != 0 {
				t.Errorf("b Connect calls = %+v, want none", got)
			}
			for _, side := range []struct {
				name string
				log  *logBuffer
				hint string
			}{{"a", &logA, tt.hintA}, {"b", &logB, tt.hintB}} {
				text := side.log.String()
				if got := strings.Count(text, "cannot open gossip heartbeat from"); got != 1 {
					t.Errorf("%s logged %d unopenable heartbeats, want 1 (once per sender):\n%s", side.name, got, text)
				}
				if !strings.Contains(text, side.hint) {
					t.Errorf("%s log lacks hint %q:\n%s", side.name, side.hint, text)
				}
				if strings.Contains(text, "key-one") || strings.Contains(text, "key-two") {
					t.Errorf("%s log contains a gossip secret:\n%s", side.name, text)
				}
			}
		})
	}
}

func TestGossipDropsForeignPackets(t *testing.T) {
	port := testPort()
	var logs logBuffer
	ca := newFakeCluster("a@vm")
	ga := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001,
		Logger: logs.logger()})
	startGossip(t, ga, ca)

	oversized := append(mustEncode(t, mustCodec(t, ""), Heartbeat{Name: "x@vm", Port: 1}), make([]byte, MaxPacketSize)...)
	sendRaw(t, port,
		// A libcluster heartbeat: the prefix, then %{node: :"x@vm"} in the
		// Erlang external term format.
		[]byte("heartbeat::\x83t\x00\x00\x00\x01w\x04nodew\x04x@vm"),
		[]byte("hello"),
		[]byte("gnhb\x01"),
		[]byte("gnhb\x01\x00\x81\xa4name"),
		oversized,
	)
	// A valid heartbeat sent last shows that the ones before were handled.
	sendRaw(t, port, mustEncode(t, mustCodec(t, ""), Heartbeat{Name: "c@vm", Port: 4003}))
	waitFor(t, "the valid heartbeat", func() bool { return ga.Stats().Received == 1 })

	s := ga.Stats()
	if s.DroppedForeign != 5 {
		t.Errorf("DroppedForeign = %d, want 5", s.DroppedForeign)
	}
	if s.DroppedLibcluster != 1 {
		t.Errorf("DroppedLibcluster = %d, want 1", s.DroppedLibcluster)
	}
	if s.DroppedUnopenable != 0 {
		t.Errorf("DroppedUnopenable = %d, want 0", s.DroppedUnopenable)
	}
	if got := ca.Connects(); len(got) != 1 || got[0].Name != "c@vm" {
		t.Errorf("Connect calls = %+v, want one for c@vm only", got)
	}
	if text := logs.String(); strings.Contains(text, "level=WARN") || strings.Contains(text, "level=ERROR") {
		t.Errorf("foreign packets were logged:\n%s", text)
	}
}

func TestGossipOwnNameFromOtherNode(t *testing.T) {
	port := testPort()
	var logs logBuffer
	ca := newFakeCluster("a@vm")
	ga := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001,
		Logger: logs.logger()})
	startGossip(t, ga, ca)

	clash := mustEncode(t, mustCodec(t, ""), Heartbeat{Name: "a@vm", Port: 5001})
	sendRaw(t, port, clash, clash)
	waitFor(t, "the two clashing heartbeats", func() bool { return ga.Stats().Own == 3 })
	if got := ca.Connects(); len(got) != 0 {
		t.Errorf("Connect calls = %+v, want none", got)
	}
	if got := strings.Count(logs.String(), "advertises this node's name"); got != 1 {
		t.Errorf("name clash logged %d times, want 1:\n%s", got, logs.String())
	}
}

func TestGossipRunTwice(t *testing.T) {
	ga := mustGossip(t, GossipConfig{Port: testPort(), Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001})
	c := newFakeCluster("a@vm")
	startGossip(t, ga, c)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := ga.Run(ctx, c); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want %v", err, ErrRunning)
	}
}

func TestGossipRunAgainAfterStop(t *testing.T) {
	port := testPort()
	ga := mustGossip(t, GossipConfig{Port: port, Interval: time.Hour, NodeName: "a@vm", TransportPort: 4001})
	c := newFakeCluster("a@vm")
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ga.Run(ctx, c) }()
		waitFor(t, "own heartbeat", func() bool { return ga.Stats().Own > uint64(i) })
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run %d = %v, want nil", i, err)
			}
		case <-time.After(testTimeout):
			t.Fatalf("Run %d did not return within %v of cancel", i, testTimeout)
		}
	}
}

func TestGossipRunInvalidSelf(t *testing.T) {
	ga := mustGossip(t, GossipConfig{Port: testPort(), TransportPort: 4001})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := ga.Run(ctx, newFakeCluster("nohost")); err == nil || !strings.Contains(err.Error(), "nohost") {
		t.Errorf("Run with Self %q = %v, want an error naming it", "nohost", err)
	}
}

func TestNewGossipDefaults(t *testing.T) {
	g := mustGossip(t, GossipConfig{TransportPort: 4001})
	if !g.group.Equal(net.IPv4(233, 252, 1, 32)) {
		t.Errorf("group = %v, want 233.252.1.32", g.group)
	}
	if g.port != 45892 {
		t.Errorf("port = %d, want 45892", g.port)
	}
	if g.ttl != 1 {
		t.Errorf("ttl = %d, want 1", g.ttl)
	}
	if g.interval != time.Second {
		t.Errorf("interval = %v, want 1s", g.interval)
	}
	if g.ifi != nil {
		t.Errorf("interface = %v, want nil (routing)", g.ifi.Name)
	}
	if g.codec.Sealed() {
		t.Error("codec is sealed without a secret")
	}
	if got := g.Name(); got != "gossip" {
		t.Errorf("Name() = %q, want gossip", got)
	}
}

func TestNewGossipRejects(t *testing.T) {
	valid := GossipConfig{TransportPort: 4001}
	tests := []struct {
		name   string
		change func(*GossipConfig)
		want   string // a part of the error message
	}{
		{"unicast group", func(c *GossipConfig) { c.Group = net.IPv4(10, 0, 0, 1) }, "10.0.0.1"},
		{"ipv6 group", func(c *GossipConfig) { c.Group = net.ParseIP("ff02::1") }, "ff02::1"},
		{"port negative", func(c *GossipConfig) { c.Port = -1 }, "-1"},
		{"port too large", func(c *GossipConfig) { c.Port = 70000 }, "70000"},
		{"ttl too large", func(c *GossipConfig) { c.TTL = 256 }, "256"},
		{"ttl negative", func(c *GossipConfig) { c.TTL = -1 }, "-1"},
		{"interval negative", func(c *GossipConfig) { c.Interval = -time.Second }, "-1s"},
		{"bad node name", func(c *GossipConfig) { c.NodeName = "nohost" }, "nohost"},
		{"no transport port", func(c *GossipConfig) { c.TransportPort = 0 }, "transport port 0"},
		{"unknown interface name", func(c *GossipConfig) { c.Interface = "nope0" }, `"nope0"`},
		{"unknown interface address", func(c *GossipConfig) { c.Interface = "192.0.2.1" }, `"192.0.2.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.change(&cfg)
			g, err := NewGossip(cfg)
			if err == nil {
				t.Fatalf("NewGossip = %p, nil; want an error", g)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewGossip error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNewGossipUnknownInterface(t *testing.T) {
	_, err := NewGossip(GossipConfig{TransportPort: 4001, Interface: "nope0"})
	if !errors.Is(err, ErrUnknownInterface) {
		t.Fatalf("NewGossip error = %v, want %v", err, ErrUnknownInterface)
	}
	if !strings.Contains(err.Error(), "lo") {
		t.Errorf("error %q does not list the interfaces", err)
	}
}

func TestGossipJitter(t *testing.T) {
	g := mustGossip(t, GossipConfig{Interval: time.Second, TransportPort: 4001})
	lo, hi := 750*time.Millisecond, 1250*time.Millisecond
	var sawLow, sawHigh bool
	for range 1000 {
		d := g.jitter()
		if d < lo || d > hi {
			t.Fatalf("jitter() = %v, want within [%v, %v]", d, lo, hi)
		}
		sawLow = sawLow || d < 900*time.Millisecond
		sawHigh = sawHigh || d > 1100*time.Millisecond
	}
	if !sawLow || !sawHigh {
		t.Errorf("1000 jitter() values: below 0.9s %v, above 1.1s %v; want both", sawLow, sawHigh)
	}
}
