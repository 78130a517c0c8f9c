package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

type message struct {
	to, from string
	payload  []byte
}

// recorder is a Handler that forwards what it receives to channels.
type recorder struct {
	msgs chan message
	down chan error
}

func newRecorder(size int) *recorder {
	return &recorder{msgs: make(chan message, size), down: make(chan error, 1)}
}

func (r *recorder) HandleMessage(to, from string, payload []byte) {
	r.msgs <- message{to, from, payload}
}

func (r *recorder) HandleDown(reason error) { r.down <- reason }

func (r *recorder) nextMessage(t testing.TB) message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return message{}
	}
}

func (r *recorder) waitDown(t testing.TB, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.down:
		return err
	case <-time.After(within):
		t.Fatalf("HandleDown not called within %v", within)
		return nil
	}
}

// connPair returns a client and a server Conn connected over loopback,
// neither started. Both are closed when the test ends.
func connPair(t testing.TB, clientCfg, serverCfg Config) (client, server *Conn) {
	t.Helper()
	l := listen(t)
	accepted := serveOne(t, l, serverCfg, nil)
	client, err := Dial(context.Background(), l.Addr().String(), clientCfg, "")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	closeConn(t, client)
	r := waitAccept(t, accepted)
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	closeConn(t, r.conn)
	return client, r.conn
}

// checkGoroutines fails the test if a goroutine started during it still
// runs after its cleanups. Call it first, so that its cleanup runs last.
func checkGoroutines(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func TestConnMessagesInOrder(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	const n = 5000
	atServer, atClient := newRecorder(n), newRecorder(n)
	client.Start(atClient)
	server.Start(atServer)

	payload := make([]byte, 64)
	for i := range n {
		copy(payload, fmt.Sprintf("message %d", i))
		if err := client.Send("shell", "a@vm", payload); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	// Send copies the payload, so changing it now must not change what is sent.
	copy(payload, "changed")
	for i := range n {
		m := atServer.nextMessage(t)
		want := fmt.Sprintf("message %d", i)
		if m.to != "shell" || m.from != "a@vm" || !bytes.HasPrefix(m.payload, []byte(want)) {
			t.Fatalf("message %d = %q from %q: %q, want %q from a@vm: %q", i, m.to, m.from, m.payload[:12], "shell", want)
		}
	}

	if err := server.Send("reply", "b@vm", []byte{0xc3}); err != nil {
		t.Fatal(err)
	}
	m := atClient.nextMessage(t)
	if m.to != "reply" || m.from != "b@vm" || !bytes.Equal(m.payload, []byte{0xc3}) {
		t.Errorf("reply = %+v, want reply from b@vm: c3", m)
	}
}

// TestConnOrderAcrossStalledReader sends while the peer's reader is
// stalled, so that writes from the sender's goroutine fill the socket and
// leave the rest to the writer goroutine, and frames from the peer make
// the sender write directly again. Every message must arrive once, intact
// and in order.
func TestConnOrderAcrossStalledReader(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	const n, size = 40, 128 << 10
	release := make(chan struct{})
	atServer := newRecorder(n)
	stalled := HandlerFuncs{
		Message: func(to, from string, payload []byte) {
			<-release
			atServer.HandleMessage(to, from, payload)
		},
	}
	client.Start(nil)
	server.Start(stalled)

	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, size) }
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := client.Send("sink", "a@vm", payload(i)); err != nil {
				sent <- fmt.Errorf("Send %d: %w", i, err)
				return
			}
			// A frame from the server makes the next Send interactive.
			if err := server.Send("nudge", "b@vm", []byte{byte(i)}); err != nil {
				sent <- fmt.Errorf("server Send %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	time.Sleep(50 * time.Millisecond)
	close(release)
	for i := range n {
		m := atServer.nextMessage(t)
		if !bytes.Equal(m.payload, payload(i)) {
			t.Fatalf("message %d: got %d bytes starting %d, want %d bytes of %d", i, len(m.payload), m.payload[0], size, i)
		}
	}
	select {
	case err := <-sent:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sends not done within 5s")
	}
}

// A send that waits for room in a full queue ends with its context, so a
// node shutting down is not held by a peer that stopped reading.
func TestConnSendContextEndsWait(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	release := make(chan struct{})
	defer close(release)
	stalled := HandlerFuncs{Message: func(to, from string, payload []byte) { <-release }}
	client.Start(nil)
	server.Start(stalled)

	payload := bytes.Repeat([]byte{1}, 128<<10)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// The socket buffers and then the 1 MiB queue fill; a later send
	// waits, and the deadline ends it.
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = client.SendContext(ctx, "sink", "a@vm", payload)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendContext on a full queue: error = %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "send queue") {
		t.Errorf("SendContext error %q does not say it waited for the send queue", err)
	}
}

func TestConnLargeMessage(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	rec := newRecorder(4)
	client.Start(nil)
	server.Start(rec)
	big := bytes.Repeat([]byte("0123456789"), 90_000)
	if err := client.Send("x", "a@vm", big); err != nil {
		t.Fatalf("Send of %d bytes: %v", len(big), err)
	}
	if m := rec.nextMessage(t); !bytes.Equal(m.payload, big) {
		t.Errorf("received %d bytes, want the %d sent", len(m.payload), len(big))
	}
	tooBig := make([]byte, DefaultMaxFrameSize)
	if err := client.Send("x", "a@vm", tooBig); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("Send of %d bytes: error = %v, want ErrFrameTooLarge", len(tooBig), err)
	}
}

func TestConnPing(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	client.Start(nil)
	server.Start(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := range 3 {
		rtt, err := client.Ping(ctx)
		if err != nil {
			t.Fatalf("client Ping %d: %v", i, err)
		}
		if rtt <= 0 || rtt > 5*time.Second {
			t.Errorf("client Ping %d round trip = %v, want between 0 and 5s", i, rtt)
		}
	}
	if _, err := server.Ping(ctx); err != nil {
		t.Errorf("server Ping: %v", err)
	}
}

func TestConnPingContext(t *testing.T) {
	checkGoroutines(t)
	// The peer is not started, so it never returns the pong.
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	client.Start(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := client.Ping(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Ping to an unstarted peer: error = %v, want context.DeadlineExceeded", err)
	}
	if _, err := server.Ping(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Ping before Start: error = %v, want ErrNotStarted", err)
	}
	if err := server.Send("x", "b@vm", nil); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Send before Start: error = %v, want ErrNotStarted", err)
	}
}

func TestConnGoodbye(t *testing.T) {
	checkGoroutines(t)
	// Ticks are slow, so only the goodbye can take the server down in time.
	cfg := testConfig("a@vm", "genki")
	cfg.TickInterval = 10 * time.Second
	client, server := connPair(t, cfg, testConfig("b@vm", "genki"))
	atClient, atServer := newRecorder(10), newRecorder(10)
	client.Start(atClient)
	server.Start(atServer)

	// Messages queued before Close arrive before the goodbye.
	for i := range 3 {
		if err := client.Send("shell", "a@vm", []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	client.Close()
	if err := atClient.waitDown(t, time.Second); !errors.Is(err, ErrClosed) {
		t.Errorf("client HandleDown(%v), want ErrClosed", err)
	}
	err := atServer.waitDown(t, time.Second)
	if !errors.Is(err, ErrClosedByPeer) {
		t.Errorf("server HandleDown(%v), want ErrClosedByPeer", err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("server saw the goodbye after %v, want at once", elapsed)
	}
	if got := Reason(err); got != "disconnect" {
		t.Errorf("Reason(%v) = %q, want disconnect", err, got)
	}
	if got := len(atServer.msgs); got != 3 {
		t.Errorf("server received %d messages before the goodbye, want 3", got)
	}

	if err := client.Send("x", "a@vm", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: error = %v, want ErrClosed", err)
	}
	if err := server.Send("x", "b@vm", nil); !errors.Is(err, ErrClosed) || !errors.Is(err, ErrClosedByPeer) {
		t.Errorf("Send after goodbye: error = %v, want ErrClosed wrapping ErrClosedByPeer", err)
	}
	if _, err := server.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after goodbye: error = %v, want ErrClosed", err)
	}
	// Close is idempotent.
	if err := client.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	server.Close()
}

func TestConnCloseBeforeStart(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	rec := newRecorder(1)
	server.Start(rec)
	client.Close()
	if err := rec.waitDown(t, time.Second); !errors.Is(err, ErrClosedByPeer) {
		t.Errorf("HandleDown(%v), want ErrClosedByPeer", err)
	}
	// Start after Close does nothing.
	client.Start(newRecorder(1))
	if err := client.Send("x", "a@vm", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close and Start: error = %v, want ErrClosed", err)
	}
}

func TestConnCloseFromHandler(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	down := make(chan error, 1)
	server.Start(HandlerFuncs{
		Message: func(to, from string, payload []byte) { server.Close() },
		Down: func(reason error) {
			server.Close()
			down <- reason
		},
	})
	atClient := newRecorder(1)
	client.Start(atClient)
	if err := client.Send("close", "a@vm", nil); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-down:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("server HandleDown(%v), want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("server did not go down within 2s of closing from its handler")
	}
	if err := atClient.waitDown(t, time.Second); !errors.Is(err, ErrClosedByPeer) {
		t.Errorf("client HandleDown(%v), want ErrClosedByPeer", err)
	}
}

// tickConfig returns a test Config for name with the given tick interval
// and tick timeout.
func tickConfig(name string, interval, timeout time.Duration) Config {
	c := testConfig(name, "genki")
	c.TickInterval = interval
	c.TickTimeout = timeout
	return c
}

func TestConnTicksKeepIdleConnUp(t *testing.T) {
	checkGoroutines(t)
	// A timeout of eight ticks and 2 s leaves room for a loaded CI
	// machine (the race detector on two cores) to stall a goroutine.
	cfg := func(name string) Config { return tickConfig(name, 250*time.Millisecond, 2*time.Second) }
	client, server := connPair(t, cfg("a@vm"), cfg("b@vm"))
	atClient, atServer := newRecorder(1), newRecorder(1)
	client.Start(atClient)
	server.Start(atServer)
	// Nothing is sent for two tick timeouts; only ticks keep it up.
	readBefore := server.framesRead.Load()
	start := time.Now()
	time.Sleep(4 * time.Second)
	ticks := server.framesRead.Load() - readBefore
	select {
	case err := <-atClient.down:
		t.Fatalf("idle client went down: %v", err)
	case err := <-atServer.down:
		t.Fatalf("idle server went down: %v", err)
	default:
	}
	// One tick per interval is due; a tick every other interval would
	// give half as many. Two thirds leaves room for a stalled ticker.
	if due := uint64(time.Since(start) / (250 * time.Millisecond)); ticks < due*2/3 {
		t.Errorf("the server read %d ticks in %v of idling, want about %d, one per 250ms interval", ticks, time.Since(start).Round(time.Millisecond), due)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := client.Ping(ctx); err != nil {
		t.Errorf("Ping after idling: %v", err)
	}
}

func TestConnDirectWritesOutliveTickDeadline(t *testing.T) {
	checkGoroutines(t)
	cfg := func(name string) Config { return tickConfig(name, 50*time.Millisecond, time.Second) }
	client, server := connPair(t, cfg("a@vm"), cfg("b@vm"))
	client.Start(newRecorder(1))
	server.Start(newRecorder(1))
	// The writer goroutine writes ticks, each under a write deadline, while
	// the connection idles.
	time.Sleep(200 * time.Millisecond)
	// Pings and pongs are written by the goroutines that queue them, so no
	// tick is due while they flow. They go on past the tick timeout.
	end := time.Now().Add(3 * cfg("a@vm").TickTimeout)
	for i := 0; time.Now().Before(end); i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.Ping(ctx)
		cancel()
		if err != nil {
			t.Fatalf("Ping %d: %v", i, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConnStreamAfterTick sends a slow, steady stream after an idle spell,
// so that a tick sets the write deadline and then direct writes carry the
// stream for longer than the tick timeout, with no tick in between. The
// stale deadline of the tick must not fail those writes.
func TestConnStreamAfterTick(t *testing.T) {
	checkGoroutines(t)
	cfg := func(name string) Config {
		c := testConfig(name, "genki")
		c.TickInterval = 100 * time.Millisecond
		c.TickTimeout = time.Second
		return c
	}
	client, server := connPair(t, cfg("a@vm"), cfg("b@vm"))
	atClient, atServer := newRecorder(100), newRecorder(100)
	client.Start(atClient)
	server.Start(atServer)
	time.Sleep(300 * time.Millisecond) // long enough for ticks
	const count = 60
	for i := range count {
		if err := client.Send("inbox", "", []byte{byte(i)}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		time.Sleep(50 * time.Millisecond) // 3 s in all, 3 tick timeouts
	}
	for i := range count {
		m := atServer.nextMessage(t)
		if len(m.payload) != 1 || m.payload[0] != byte(i) {
			t.Fatalf("message %d has payload %v", i, m.payload)
		}
	}
	select {
	case err := <-atClient.down:
		t.Fatalf("client went down during the stream: %v", err)
	case err := <-atServer.down:
		t.Fatalf("server went down during the stream: %v", err)
	default:
	}
}

func TestConnTickTimeout(t *testing.T) {
	checkGoroutines(t)
	// The client completes the handshake but is never started, so it sends
	// nothing: not even ticks.
	serverCfg := testConfig("b@vm", "genki")
	serverCfg.TickInterval = 20 * time.Millisecond
	serverCfg.TickTimeout = 100 * time.Millisecond
	_, server := connPair(t, testConfig("a@vm", "genki"), serverCfg)
	rec := newRecorder(1)
	start := time.Now()
	server.Start(rec)
	err := rec.waitDown(t, 2*time.Second)
	elapsed := time.Since(start)
	if !errors.Is(err, ErrTickTimeout) {
		t.Errorf("HandleDown(%v), want ErrTickTimeout", err)
	}
	if got := Reason(err); got != "net_tick_timeout" {
		t.Errorf("Reason(%v) = %q, want net_tick_timeout", err, got)
	}
	if elapsed < serverCfg.TickTimeout || elapsed > serverCfg.TickTimeout+500*time.Millisecond {
		t.Errorf("down after %v, want shortly after the tick timeout %v", elapsed, serverCfg.TickTimeout)
	}
}

// rawClientConn returns a started server Conn and the raw socket of its
// peer, which has completed the handshake.
func rawClientConn(t *testing.T, serverCfg Config) (*Conn, *recorder, *rawPeer) {
	t.Helper()
	l := listen(t)
	accepted := serveOne(t, l, serverCfg, nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cfg, err := testConfig("a@vm", "genki").withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	client, err := clientHandshake(context.Background(), nc, cfg, "", time.Now().Add(cfg.HandshakeTimeout))
	if err != nil {
		t.Fatal(err)
	}
	r := waitAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	closeConn(t, r.conn)
	rec := newRecorder(10)
	r.conn.Start(rec)
	p := newRawPeer(t, nc)
	p.fr = client.fr // it may hold bytes read past the ack
	p.seal = client.seal
	return r.conn, rec, p
}

func TestConnPeerErrors(t *testing.T) {
	tests := []struct {
		name     string
		wire     []byte
		unsealed bool // written as is, even though the connection seals
		want     error
		words    string
	}{
		{"hello after handshake", mustAppend(t, &Frame{Type: FrameHello, Name: "a@vm"}), false, ErrProtocol, "connection_closed"},
		{"oversized frame", []byte{0, 0x20, 0, 0}, true, ErrFrameTooLarge, "connection_closed"},
		{"malformed body", []byte{0, 0, 0, 1, 0xc1}, false, ErrMalformedFrame, "connection_closed"},
		{"goodbye", mustAppend(t, &Frame{Type: FrameGoodbye, Reason: "bye"}), false, ErrClosedByPeer, "disconnect"},
		{"frame in clear", mustAppend(t, &Frame{Type: FrameGoodbye, Reason: "bye"}), true, ErrFrameAuth, "connection_closed"},
		{"tick in clear", []byte{0, 0, 0, 0}, true, ErrFrameAuth, "connection_closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			_, rec, p := rawClientConn(t, testConfig("b@vm", "genki"))
			if tt.unsealed {
				if _, err := p.nc.Write(tt.wire); err != nil {
					t.Fatal(err)
				}
			} else {
				p.write(tt.wire)
			}
			err := rec.waitDown(t, 2*time.Second)
			if !errors.Is(err, tt.want) {
				t.Errorf("HandleDown(%v), want %v", err, tt.want)
			}
			if got := Reason(err); got != tt.words {
				t.Errorf("Reason(%v) = %q, want %q", err, got, tt.words)
			}
		})
	}
}

func TestConnPeerDisconnects(t *testing.T) {
	checkGoroutines(t)
	_, rec, p := rawClientConn(t, testConfig("b@vm", "genki"))
	p.nc.Close()
	if err := rec.waitDown(t, 2*time.Second); Reason(err) != "connection_closed" {
		t.Errorf("HandleDown(%v), want a connection_closed error", err)
	}
}

func TestConnSkipsUnknownFrames(t *testing.T) {
	checkGoroutines(t)
	_, rec, p := rawClientConn(t, testConfig("b@vm", "genki"))
	// Type 200 with two fields, then a tick, then a message.
	p.write([]byte{0, 0, 0, 5, 0x93, 0xcc, 200, 1, 2, 0, 0, 0, 0})
	p.send(&Frame{Type: FrameMessage, To: "shell", From: "a@vm", Payload: []byte{1}})
	if m := rec.nextMessage(t); m.to != "shell" {
		t.Errorf("message after an unknown frame = %+v, want one to shell", m)
	}
}

func TestConnSendsTicksAndPongs(t *testing.T) {
	checkGoroutines(t)
	cfg := testConfig("b@vm", "genki")
	cfg.TickInterval = 20 * time.Millisecond
	cfg.TickTimeout = time.Second
	_, _, p := rawClientConn(t, cfg)
	p.recv(FrameTick)
	p.send(&Frame{Type: FramePing, ID: 42})
	// Ticks may come before the pong.
	for range 10 {
		var f Frame
		if err := p.fr.ReadFrame(&f); err != nil {
			t.Fatal(err)
		}
		if f.Type == FrameTick {
			continue
		}
		if f.Type != FramePong || f.ID != 42 {
			t.Fatalf("got %+v, want pong 42", f)
		}
		return
	}
	t.Fatal("no pong among the first 10 frames")
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrTickTimeout, "net_tick_timeout"},
		{fmt.Errorf("x: %w", ErrTickTimeout), "net_tick_timeout"},
		{ErrClosed, "disconnect"},
		{ErrClosedByPeer, "disconnect"},
		{errors.New("read: connection reset by peer"), "connection_closed"},
		{nil, "connection_closed"},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
