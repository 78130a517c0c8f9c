package transport

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// callServer is a Handler that serves calls: "echo" returns its payload,
// "fail" returns an error, "panic" panics, and "block" waits until its
// context is done and records why.
type callServer struct {
	*recorder
	started chan struct{} // a value per "block" call that started
	ended   chan error    // the context error of each "block" call
	mu      sync.Mutex
	limits  []time.Duration // guarded by mu; the deadline each call had, from its start
}

func newCallServer() *callServer {
	return &callServer{recorder: newRecorder(10), started: make(chan struct{}, 64), ended: make(chan error, 64)}
}

func (s *callServer) HandleCall(ctx context.Context, method string, payload []byte) ([]byte, error) {
	if deadline, ok := ctx.Deadline(); ok {
		s.mu.Lock()
		s.limits = append(s.limits, time.Until(deadline))
		s.mu.Unlock()
	}
	switch method {
	case "echo":
		return payload, nil
	case "fail":
		return nil, errors.New("it failed")
	case "panic":
		panic("boom")
	case "block":
		s.started <- struct{}{}
		<-ctx.Done()
		s.ended <- ctx.Err()
		return nil, ctx.Err()
	}
	return nil, errors.New("unknown method " + method)
}

func (s *callServer) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(5 * time.Second):
		t.Fatal("no call started within 5s")
	}
}

func (s *callServer) waitEnded(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.ended:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no call ended within 5s")
		return nil
	}
}

// startCallPair returns a started client and a server that serves calls.
func startCallPair(t *testing.T) (client, server *Conn, srv *callServer) {
	t.Helper()
	client, server = connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	srv = newCallServer()
	client.Start(newRecorder(10))
	server.Start(srv)
	return client, server, srv
}

func TestCallResultAndErrors(t *testing.T) {
	checkGoroutines(t)
	client, _, _ := startCallPair(t)
	ctx := context.Background()

	payload := bytes.Repeat([]byte{0xab}, 100_000)
	got, err := client.Call(ctx, "echo", payload)
	if err != nil || !bytes.Equal(got, payload) {
		t.Errorf("Call(echo) = %d bytes, %v, want the 100000-byte payload", len(got), err)
	}
	if got, err := client.Call(ctx, "echo", nil); err != nil || len(got) != 0 {
		t.Errorf("Call(echo, nil) = %x, %v, want an empty result", got, err)
	}
	for _, tc := range []struct{ method, want string }{
		{"fail", "it failed"},
		{"panic", "boom"},
		{"nothing", "unknown method nothing"},
	} {
		_, err := client.Call(ctx, tc.method, nil)
		var cerr *CallError
		if !errors.As(err, &cerr) {
			t.Errorf("Call(%s) error = %v, want a *CallError", tc.method, err)
			continue
		}
		if cerr.Method != tc.method || !strings.Contains(cerr.Message, tc.want) {
			t.Errorf("Call(%s) error = %+v, want method %s and %q in the message", tc.method, cerr, tc.method, tc.want)
		}
	}
	if _, err := client.Call(ctx, "", nil); err == nil {
		t.Error("Call with an empty method succeeded")
	}
	if _, err := client.Call(ctx, "echo", make([]byte, DefaultMaxFrameSize)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("Call with a payload over the frame size: error = %v, want ErrFrameTooLarge", err)
	}
}

func TestCallWithoutCallHandler(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	client.Start(newRecorder(10))
	server.Start(newRecorder(10))
	_, err := client.Call(context.Background(), "echo", []byte("x"))
	var cerr *CallError
	if !errors.As(err, &cerr) || !strings.Contains(cerr.Message, "serves no calls") {
		t.Errorf("Call to a peer without a CallHandler: error = %v, want a *CallError saying it serves no calls", err)
	}
}

func TestCallCancelReachesPeer(t *testing.T) {
	checkGoroutines(t)
	client, _, srv := startCallPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := client.Call(ctx, "block", nil)
		errc <- err
	}()
	srv.waitStarted(t)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled Call error = %v, want context.Canceled", err)
	}
	if err := srv.waitEnded(t); !errors.Is(err, context.Canceled) {
		t.Errorf("the peer's call ended with %v, want context.Canceled", err)
	}
	// The connection still serves calls.
	if got, err := client.Call(context.Background(), "echo", []byte("after")); err != nil || string(got) != "after" {
		t.Errorf("Call after a cancel = %q, %v", got, err)
	}
}

func TestCallDeadlineReachesPeer(t *testing.T) {
	checkGoroutines(t)
	client, _, srv := startCallPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := client.Call(ctx, "block", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Call past its deadline: error = %v, want context.DeadlineExceeded", err)
	}
	// The peer's deadline and the caller's cancel come at about the same
	// time, and either may end the call there.
	if err := srv.waitEnded(t); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Errorf("the peer's call ended with %v, want context.DeadlineExceeded or Canceled", err)
	}
	if _, err := client.Call(context.Background(), "echo", nil); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.limits) != 2 {
		t.Fatalf("the peer saw %d deadlines, want 2: %v", len(srv.limits), srv.limits)
	}
	if srv.limits[0] > 300*time.Millisecond {
		t.Errorf("the peer's deadline for a 300ms call = %v, want at most 300ms", srv.limits[0])
	}
	if srv.limits[1] > MaxCallDuration || srv.limits[1] < MaxCallDuration-time.Minute {
		t.Errorf("the peer's deadline for a call without one = %v, want about MaxCallDuration", srv.limits[1])
	}
}

func TestCallsInFlightBounded(t *testing.T) {
	checkGoroutines(t)
	client, _, srv := startCallPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range maxCallsServed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client.Call(ctx, "block", nil)
		}()
	}
	for range maxCallsServed {
		srv.waitStarted(t)
	}
	_, err := client.Call(context.Background(), "echo", nil)
	var cerr *CallError
	if !errors.As(err, &cerr) || !strings.Contains(cerr.Message, "too many calls") {
		t.Errorf("call number %d: error = %v, want a *CallError about too many calls", maxCallsServed+1, err)
	}
	cancel()
	wg.Wait()
	for range maxCallsServed {
		srv.waitEnded(t)
	}
	// A rejected call takes no slot, and the ended ones free theirs.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := client.Call(context.Background(), "echo", nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still rejected 5s after the others ended: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCallEndsWhenConnDown(t *testing.T) {
	checkGoroutines(t)
	client, server, srv := startCallPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := client.Call(context.Background(), "block", nil)
		errc <- err
	}()
	srv.waitStarted(t)
	server.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Call on a connection that went down: error = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Call still waits 5s after the peer closed")
	}
	if err := srv.waitEnded(t); !errors.Is(err, context.Canceled) {
		t.Errorf("the served call ended with %v, want context.Canceled", err)
	}
	if _, err := client.Call(context.Background(), "echo", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after the connection is down: error = %v, want ErrClosed", err)
	}
}

func TestCallCloseFromServedCall(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	client.Start(newRecorder(10))
	closed := make(chan struct{})
	server.Start(callFunc(func(ctx context.Context, method string, payload []byte) ([]byte, error) {
		// A call that closes its own connection, as Node.disconnect
		// in a remote shell does, must not wait for itself.
		server.Close()
		close(closed)
		return nil, nil
	}))
	client.Call(context.Background(), "close", nil)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close inside a served call did not return within 5s")
	}
}

// callFunc is a Handler that serves calls with a function.
type callFunc func(ctx context.Context, method string, payload []byte) ([]byte, error)

func (f callFunc) HandleMessage(to, from string, payload []byte) {}
func (f callFunc) HandleDown(error)                              {}
func (f callFunc) HandleCall(ctx context.Context, method string, payload []byte) ([]byte, error) {
	return f(ctx, method, payload)
}

func TestCallToVersion2Peer(t *testing.T) {
	checkGoroutines(t)
	old := testConfig("a@vm", "genki")
	old.version = 2
	client, server := connPair(t, old, testConfig("b@vm", "genki"))
	atClient := newRecorder(10)
	client.Start(atClient)
	server.Start(newCallServer())
	if _, err := server.Call(context.Background(), "echo", nil); !errors.Is(err, ErrCallUnsupported) {
		t.Errorf("Call to a version 2 client: error = %v, want ErrCallUnsupported", err)
	}
	if err := server.Send("shell", "b@vm", []byte{0xc0}); err != nil {
		t.Fatal(err)
	}
	if m := atClient.nextMessage(t); m.to != "shell" {
		t.Errorf("message to a version 2 client = %+v, want one to shell", m)
	}
}

func TestHandshakeVersionRange(t *testing.T) {
	for _, tc := range []struct {
		version uint64
		ok      bool
	}{{1, false}, {MinHandshakeVersion, true}, {HandshakeVersion, true}, {HandshakeVersion + 1, false}} {
		cfg := testConfig("a@vm", "genki")
		cfg.version = tc.version
		l := listen(t)
		accepted := serveOne(t, l, testConfig("b@vm", "genki"), nil)
		c, err := Dial(context.Background(), l.Addr().String(), cfg, "")
		closeConn(t, c)
		r := waitAccept(t, accepted)
		closeConn(t, r.conn)
		if tc.ok && err != nil {
			t.Errorf("Dial with handshake version %d: %v", tc.version, err)
		}
		if !tc.ok && !errors.Is(err, ErrVersion) {
			t.Errorf("Dial with handshake version %d: error = %v, want ErrVersion", tc.version, err)
		}
	}
}

func TestConnStatsCountMessages(t *testing.T) {
	checkGoroutines(t)
	client, server := connPair(t, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	atServer := newRecorder(10)
	client.Start(newRecorder(10))
	server.Start(atServer)
	sizes := []int{0, 10, 70_000}
	var wantBytes uint64
	for _, n := range sizes {
		if err := client.Send("shell", "a@vm", make([]byte, n)); err != nil {
			t.Fatal(err)
		}
		wantBytes += uint64(frameHeaderSize + messageBodySize("shell", "a@vm", n))
	}
	for range sizes {
		atServer.nextMessage(t)
	}
	// Pings and calls are not messages.
	if _, err := client.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, in := client.Stats(), server.Stats()
	if out.MessagesOut != 3 || out.BytesOut != wantBytes {
		t.Errorf("client Stats = %+v, want 3 messages and %d bytes out", out, wantBytes)
	}
	if out.MessagesIn != 0 || out.BytesIn != 0 {
		t.Errorf("client Stats = %+v, want nothing in", out)
	}
	if in.MessagesIn != out.MessagesOut || in.BytesIn != out.BytesOut {
		t.Errorf("server Stats = %+v, want the client's out counts %+v as its in counts", in, out)
	}
}
