package node_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gonode/gonode/node"
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
