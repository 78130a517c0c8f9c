package node_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/transport"
)

// logBuffer collects a node's log output from several goroutines.
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

// startLoggedNode starts a node without a port mapper that logs to logs,
// and closes it when the test ends.
func startLoggedNode(t *testing.T, local, cookie string, logs *logBuffer, mailboxLimit int) *node.Node {
	t.Helper()
	n, err := node.Start(testContext(t), node.Config{
		Name:         fullName(t, local),
		Cookie:       node.NewCookie(cookie),
		ListenAddr:   "127.0.0.1:0",
		NoEPMD:       true,
		MailboxLimit: mailboxLimit,
		Logger:       logs.logger(),
	})
	if err != nil {
		t.Fatalf("start node %s: %v", local, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func TestHandshakesInFlightLimit(t *testing.T) {
	var logs logBuffer
	a := startLoggedNode(t, "a", "genki", &logs, 0)
	addr := a.Addr().String()

	idle := make([]net.Conn, 0, node.MaxHandshakes)
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range node.MaxHandshakes {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("open idle connection %d: %v", len(idle)+1, err)
		}
		idle = append(idle, c)
	}

	extra, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("open the connection over the limit: %v", err)
	}
	defer extra.Close()
	extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := extra.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read on connection %d = %v, want EOF (closed at once)", node.MaxHandshakes+1, err)
	}
	if !waitFor(time.Second, func() bool { return strings.Contains(logs.String(), "too many handshakes in flight") }) {
		t.Errorf("log lacks the rejected connection:\n%s", logs.String())
	}

	// Once the idle connections end, their handshakes fail and a real
	// peer gets in.
	for _, c := range idle {
		c.Close()
	}
	idle = nil
	b := startLoggedNode(t, "b", "genki", &logBuffer{}, 0)
	ctx := testContext(t)
	if !waitFor(testTimeout, func() bool { return b.ConnectAddr(ctx, a.Name(), addr, "test") == nil }) {
		t.Fatal("b cannot connect to a after the idle connections closed")
	}
}

func TestMailboxFullDropsAndLogsOnce(t *testing.T) {
	const limit = 10
	var logs logBuffer
	a := startLoggedNode(t, "a", "genki", &logs, limit)
	inbox := a.Register("inbox")
	ctx := testContext(t)
	for i := range 3 * limit {
		if err := a.Send(ctx, "inbox", a.Name(), i); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if got := inbox.Len(); got != limit {
		t.Errorf("inbox.Len() = %d, want the limit %d", got, limit)
	}
	if got := inbox.Dropped(); got != 2*limit {
		t.Errorf("inbox.Dropped() = %d, want %d", got, 2*limit)
	}
	if got := strings.Count(logs.String(), "mailbox inbox full"); got != 1 {
		t.Errorf("logged the full mailbox %d times, want once for %d drops within 10s:\n%s", got, 2*limit, logs.String())
	}
	msgs := inbox.Flush()
	if len(msgs) != limit || msgs[0] != any(0) {
		t.Errorf("Flush() = %v, want the first %d messages", msgs, limit)
	}
}

func TestConnectLaterBacksOff(t *testing.T) {
	var logs logBuffer
	a := startLoggedNode(t, "a", "genki", &logs, 0)
	// A port that refuses connections: listen, note the port, close.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	peer := fullName(t, "gone")
	a.ConnectLater(peer, dead, "test")
	if !waitFor(testTimeout, func() bool { return strings.Contains(logs.String(), "cannot connect to") }) {
		t.Fatalf("the failed attempt was not logged:\n%s", logs.String())
	}
	// Within the back-off, further attempts are skipped: none logs, and
	// none is in flight.
	start := time.Now()
	for time.Since(start) < node.MinConnectBackoff/2 {
		a.ConnectLater(peer, dead, "test")
		time.Sleep(5 * time.Millisecond)
	}
	if got := strings.Count(logs.String(), "cannot connect to"); got != 1 {
		t.Errorf("logged %d failed attempts within the back-off, want 1:\n%s", got, logs.String())
	}
}

// TestConnectLaterRateLimited names many distinct nodes at one listener
// that accepts and never answers, as a flood of forged heartbeats would,
// and checks that the dials and the log lines stay within their limits.
func TestConnectLaterRateLimited(t *testing.T) {
	var logs logBuffer
	a := startLoggedNode(t, "a", "genki", &logs, 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range accepted {
			c.Close()
		}
		mu.Unlock()
	})

	const names = 1000
	start := time.Now()
	for i := range names {
		a.ConnectLater(fullName(t, fmt.Sprintf("forged%d", i)), l.Addr().String(), "test")
	}
	time.Sleep(500 * time.Millisecond)
	elapsed := time.Since(start)
	mu.Lock()
	dials := len(accepted)
	mu.Unlock()
	limit := node.MaxDiscoveryDials + int(elapsed.Seconds()*node.DiscoveryDialRate) + 1
	if dials > limit {
		t.Errorf("%d forged names led to %d dials in %v, want at most %d", names, dials, elapsed, limit)
	}
	if dials == 0 {
		t.Errorf("no dial reached the listener")
	}

	// The handshakes time out after the connect timeout; then the log
	// lines about the many nodes are limited as a whole.
	if !waitFor(node.DefaultConnectTimeout+5*time.Second, func() bool { return strings.Contains(logs.String(), "cannot connect to") }) {
		t.Fatalf("no failed attempt was logged:\n%s", logs.String())
	}
	time.Sleep(500 * time.Millisecond)
	if got := strings.Count(logs.String(), "cannot connect to"); got > 25 {
		t.Errorf("logged %d failed attempts to distinct forged nodes, want at most 25", got)
	}
}

// TestSecretsNeverLogged runs failing handshakes both ways between nodes
// with different cookies, at debug level, and checks that neither cookie
// appears in the log.
func TestSecretsNeverLogged(t *testing.T) {
	const cookieA, cookieB = "cookie-a-5ecret-71", "cookie-b-5ecret-93"
	var logsA, logsB logBuffer
	a := startLoggedNode(t, "a", cookieA, &logsA, 0)
	b := startLoggedNode(t, "b", cookieB, &logsB, 0)
	ctx := testContext(t)
	for range 3 {
		if err := a.ConnectAddr(ctx, b.Name(), b.Addr().String(), "test"); err == nil {
			t.Fatal("a connected to b with another cookie")
		}
		if err := b.ConnectAddr(ctx, a.Name(), a.Addr().String(), "test"); err == nil {
			t.Fatal("b connected to a with another cookie")
		}
	}
	a.ConnectLater(b.Name(), b.Addr().String(), "test")
	waitFor(time.Second, func() bool { return strings.Contains(logsA.String(), "cannot connect") })
	if !strings.Contains(logsB.String(), "does not have our cookie") {
		t.Errorf("b's log lacks the rejected handshake:\n%s", logsB.String())
	}
	for _, side := range []struct {
		name string
		logs *logBuffer
	}{{"a", &logsA}, {"b", &logsB}} {
		text := side.logs.String()
		for _, secret := range []string{cookieA, cookieB} {
			if strings.Contains(text, secret) {
				t.Errorf("%s's log contains the cookie %q:\n%s", side.name, secret, text)
			}
		}
	}
}

// TestSendToPeerThatStopsReading connects a raw transport peer that
// finishes the handshake and then never reads. Send to it must block once
// the send queue and the socket buffers are full, with memory bounded. It
// must fail once the tick timeout ends the connection, because a write
// blocked that long or no tick came from the peer.
func TestSendToPeerThatStopsReading(t *testing.T) {
	var logs logBuffer
	a, err := node.Start(testContext(t), node.Config{
		Name:         fullName(t, "a"),
		Cookie:       node.NewCookie("genki"),
		ListenAddr:   "127.0.0.1:0",
		NoEPMD:       true,
		TickInterval: 250 * time.Millisecond,
		TickTimeout:  time.Second,
		Logger:       logs.logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	watch := a.Watch()

	stuck := fullName(t, "stuck")
	// The peer's connection is never started, so nothing reads its socket
	// and it sends no ticks.
	conn, err := transport.Dial(testContext(t), a.Addr().String(), transport.Config{Name: stuck, Cookie: []byte("genki")}, a.Name())
	if err != nil {
		t.Fatalf("dial a: %v", err)
	}
	defer conn.Close()
	waitEvent(t, watch, node.NodeUp, stuck, testTimeout)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	payload := strings.Repeat("x", 64<<10)
	ctx := testContext(t)
	start := time.Now()
	sent := 0
	var sendErr error
	for sent < 100_000 && time.Since(start) < testTimeout {
		if sendErr = a.Send(ctx, "inbox", stuck, payload); sendErr != nil {
			break
		}
		sent++
	}
	took := time.Since(start)

	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	t.Logf("%d sends of 64 KiB went through in %v before: %v", sent, took.Round(time.Millisecond), sendErr)
	if sendErr == nil {
		t.Fatalf("Send to a peer that never reads succeeded %d times in %v, want it to block and then fail", sent, took)
	}
	if !errors.Is(sendErr, transport.ErrClosed) {
		t.Errorf("Send error = %v, want one wrapping transport.ErrClosed", sendErr)
	}
	if took > 3*time.Second {
		t.Errorf("Send failed after %v, want within about the tick timeout of 1s", took)
	}
	// The queue (1 MiB) and the two sockets' buffers bound what went
	// through, far below what the loop would send unblocked.
	if sent*len(payload) > 64<<20 {
		t.Errorf("%d MiB went through to a peer that never reads, want the sender blocked after a few MiB", sent*len(payload)>>20)
	}
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 32<<20 {
		t.Errorf("heap grew by %d MiB while sending to a peer that never reads, want a few", grown>>20)
	}
	// A write that times out ends the connection as connection_closed,
	// a missing tick as net_tick_timeout: whichever comes first.
	ev := waitEvent(t, watch, node.NodeDown, stuck, testTimeout)
	if ev.Reason != "net_tick_timeout" && ev.Reason != "connection_closed" {
		t.Errorf("nodedown reason = %q, want net_tick_timeout or connection_closed", ev.Reason)
	}
}
