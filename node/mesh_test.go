package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/nodetest"
	"github.com/gonode/gonode/transport"
)

// startMeshNode starts local@host on 127.0.0.1 with the port mapper at
// epmdAddr, after applying set to its configuration.
func startMeshNode(t *testing.T, local, epmdAddr string, set func(*node.Config)) *node.Node {
	t.Helper()
	cfg := node.Config{
		Name:       fullName(t, local),
		Cookie:     node.NewCookie("genki"),
		ListenAddr: "127.0.0.1:0",
		EPMDAddr:   epmdAddr,
	}
	if set != nil {
		set(&cfg)
	}
	return startConfig(t, cfg)
}

func TestMeshConnectsPeersOfPeers(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startMeshNode(t, "a", epmdAddr, nil)
	b := startMeshNode(t, "b", epmdAddr, nil)
	c := startMeshNode(t, "c", epmdAddr, nil)
	ctx := testContext(t)
	if err := a.ConnectError(ctx, b.Name()); err != nil {
		t.Fatalf("a connect to b: %v", err)
	}
	if err := b.ConnectError(ctx, c.Name()); err != nil {
		t.Fatalf("b connect to c: %v", err)
	}
	if !waitFor(testTimeout, func() bool { return a.Connected(c.Name()) && c.Connected(a.Name()) }) {
		t.Errorf("a.List() = %v and c.List() = %v, want a and c connected through b", a.List(), c.List())
	}
	if info, ok := a.PeerInfo(c.Name()); ok && info.Via != "mesh" && info.Via != "incoming" {
		t.Errorf("a's connection to c came from %q, want mesh or incoming", info.Via)
	}
}

func TestMeshOffWithNoConnectAll(t *testing.T) {
	epmdAddr := startEPMD(t)
	off := func(cfg *node.Config) { cfg.NoConnectAll = true }
	a := startMeshNode(t, "a", epmdAddr, off)
	b := startMeshNode(t, "b", epmdAddr, off)
	c := startMeshNode(t, "c", epmdAddr, off)
	ctx := testContext(t)
	if err := a.ConnectError(ctx, b.Name()); err != nil {
		t.Fatalf("a connect to b: %v", err)
	}
	if err := b.ConnectError(ctx, c.Name()); err != nil {
		t.Fatalf("b connect to c: %v", err)
	}
	time.Sleep(time.Second)
	if a.Connected(c.Name()) {
		t.Errorf("a connected to c with NoConnectAll, want only a-b and b-c")
	}
}

func TestHiddenNode(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startMeshNode(t, "a", epmdAddr, nil)
	b := startMeshNode(t, "b", epmdAddr, nil)
	h := startMeshNode(t, "h", epmdAddr, func(cfg *node.Config) { cfg.Hidden = true })
	ctx := testContext(t)
	if err := h.ConnectError(ctx, a.Name()); err != nil {
		t.Fatalf("h connect to a: %v", err)
	}
	if err := a.ConnectError(ctx, b.Name()); err != nil {
		t.Fatalf("a connect to b: %v", err)
	}
	if got := a.List(); slices.Contains(got, h.Name()) {
		t.Errorf("a.List() = %v, want the hidden node left out", got)
	}
	if got := a.ListHidden(); !slices.Equal(got, []string{h.Name()}) {
		t.Errorf("a.ListHidden() = %v, want [%s]", got, h.Name())
	}
	if got := h.List(); len(got) != 0 {
		t.Errorf("h.List() = %v, want none: a hidden node's connections are hidden", got)
	}
	if got := h.ListHidden(); !slices.Equal(got, []string{a.Name()}) {
		t.Errorf("h.ListHidden() = %v, want [%s]", got, a.Name())
	}
	// a passes b on to nobody hidden and h on to nobody at all.
	time.Sleep(time.Second)
	if b.Connected(h.Name()) {
		t.Errorf("b connected to the hidden node h, want it not passed on")
	}
	if h.Connected(b.Name()) {
		t.Errorf("the hidden node h connected to b, want no transitive connects from a hidden node")
	}
}

func TestNameKindsDoNotMix(t *testing.T) {
	epmdAddr := startEPMD(t)
	short := startMeshNode(t, "s", epmdAddr, nil)
	long := startConfig(t, node.Config{Name: "l@127.0.0.1", Cookie: node.NewCookie("genki"), ListenAddr: "127.0.0.1:0", EPMDAddr: epmdAddr})
	ctx := testContext(t)
	for _, tc := range []struct {
		from *node.Node
		to   string
		want string
	}{
		{short, long.Name(), "has a short name (--sname) and l@127.0.0.1 has a long name"},
		{long, short.Name(), "has a long name (--name) and " + short.Name() + " has a short name"},
	} {
		err := tc.from.ConnectError(ctx, tc.to)
		if !errors.Is(err, node.ErrNameKind) {
			t.Errorf("%s connect to %s = %v, want an error wrapping ErrNameKind", tc.from.Name(), tc.to, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s connect to %s = %q, want it to say %q", tc.from.Name(), tc.to, err, tc.want)
		}
	}

	// A client that does not check is rejected by the server.
	cfg := transport.Config{Name: "x@127.0.0.1", Cookie: node.NewCookie("genki").Bytes()}
	_, err := transport.Dial(ctx, short.Addr().String(), cfg, "")
	if !errors.Is(err, transport.ErrNotAllowed) {
		t.Errorf("long-named client to a short-named node = %v, want an error wrapping transport.ErrNotAllowed", err)
	}
}

func TestConnectUnresolvableHost(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dns := nodetest.ServeDNS(t, pc)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns.Addr())
	}}
	a := startConfig(t, node.Config{Name: "a@127.0.0.1", Cookie: node.NewCookie("genki"), ListenAddr: "127.0.0.1:0", NoEPMD: true, Resolver: resolver})
	err = a.ConnectError(testContext(t), "b@no-such-host.invalid")
	if !errors.Is(err, node.ErrHostNotFound) {
		t.Fatalf("connect to b@no-such-host.invalid = %v, want an error wrapping ErrHostNotFound", err)
	}
	if !strings.Contains(err.Error(), "host no-such-host.invalid does not resolve") {
		t.Errorf("connect error = %q, want it to name the host that does not resolve", err)
	}
}

// recordHandler is a slog.Handler that keeps every record's message and
// attributes as one line.
type recordHandler struct {
	mu    *sync.Mutex
	lines *[]string
	attrs []slog.Attr
}

func newRecordHandler() *recordHandler {
	return &recordHandler{mu: new(sync.Mutex), lines: new([]string)}
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h *recordHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordHandler{mu: h.mu, lines: h.lines, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h *recordHandler) WithGroup(string) slog.Handler { return h }

// count returns the number of lines that contain every one of subs.
func (h *recordHandler) count(subs ...string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, line := range *h.lines {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

func TestMeshBoundsForgedList(t *testing.T) {
	logs := newRecordHandler()
	a := startConfig(t, node.Config{
		Name: fullName(t, "a"), Cookie: node.NewCookie("genki"), ListenAddr: "127.0.0.1:0", NoEPMD: true,
		Logger: slog.New(logs),
	})
	ctx := testContext(t)
	cfg := transport.Config{Name: fullName(t, "forger"), Cookie: node.NewCookie("genki").Bytes()}
	c, err := transport.Dial(ctx, a.Addr().String(), cfg, a.Name())
	if err != nil {
		t.Fatalf("dial a: %v", err)
	}
	c.Start(nil)
	t.Cleanup(func() { c.Close() })

	// Port 1 on loopback refuses at once, so every attempt fails fast
	// and logs one line for its name.
	var list []transport.PeerAddr
	for i := range 300 {
		list = append(list, transport.PeerAddr{Name: fullName(t, fmt.Sprintf("x%d", i)), Addr: "127.0.0.1:1"})
	}
	start := time.Now()
	if err := c.SendPeers(0, list); err != nil {
		t.Fatalf("SendPeers: %v", err)
	}
	time.Sleep(time.Second)
	elapsed := time.Since(start)
	attempts := logs.count("cannot connect to", "component=mesh")
	// 64 at once and 8 per second after.
	limit := 64 + int(8*elapsed.Seconds()) + 1
	if attempts == 0 || attempts > limit {
		t.Errorf("the forged list of 300 started %d connection attempts in %v, want 1 to %d", attempts, elapsed, limit)
	}
	if got := logs.count("had entries that were not connected"); got != 1 {
		t.Errorf("logged skipped entries %d times, want once", got)
	}
	if got := a.List(); !slices.Equal(got, []string{cfg.Name}) {
		t.Errorf("a.List() = %v, want only the forger", got)
	}
}
