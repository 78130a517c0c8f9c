package epmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gonode/gonode/node/nodetest"
)

// helperEnv makes the test binary run RunCommand instead of the tests, so
// EnsureRunning can start the test binary itself as `exe epmd -daemon`.
const helperEnv = "GONODE_EPMD_TEST_HELPER"

// pidFileEnv names a file to which each helper server process started by
// `epmd -daemon` appends its PID, so the tests can end it.
const pidFileEnv = "GONODE_EPMD_TEST_PIDFILE"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runHelper())
	}
	if !nodetest.Inside() {
		nodetest.Main(m)
	}
	// No goroutine of a Server or a client may outlive the tests.
	goleak.VerifyTestMain(m)
}

func runHelper() int {
	args := os.Args[1:]
	if len(args) == 0 || args[0] != "epmd" {
		fmt.Fprintf(os.Stderr, "epmd test helper: arguments %q do not start with \"epmd\"\n", args)
		return 2
	}
	if path := os.Getenv(pidFileEnv); path != "" && os.Getenv(listenFDEnv) != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return 3
		}
		fmt.Fprintf(f, "%d\n", os.Getpid())
		f.Close()
	}
	return RunCommand(args[1:], os.Stdout, os.Stderr)
}

// testContext returns a context that ends with the test or after 10 s.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startServer serves s on a new 127.0.0.1 port and closes it when the
// test ends, checking that Serve returned.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) && !errors.Is(err, ErrKilled) {
				t.Errorf("Serve = %v, want ErrServerClosed or ErrKilled", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return 5s after Close")
		}
	})
	return l.Addr().String()
}

// waitFor polls cond every 10 ms until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 5s waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawExchange sends req on a new connection to addr and returns all bytes
// read until the server closes the connection.
func rawExchange(t *testing.T, addr string, req []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil {
		t.Fatalf("write %v: %v", req, err)
	}
	reply, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read reply to %v: %v", req, err)
	}
	return reply
}

func isNotFound(ctx context.Context, addr, name string) func() bool {
	return func() bool {
		_, err := Lookup(ctx, addr, name)
		return errors.Is(err, ErrNotFound)
	}
}

func TestRegisterLookupNames(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})

	a, err := Register(ctx, addr, "alpha", 40123)
	if err != nil {
		t.Fatalf("Register(alpha) error: %v", err)
	}
	defer a.Close()
	b, err := Register(ctx, addr, "beta", 40124)
	if err != nil {
		t.Fatalf("Register(beta) error: %v", err)
	}
	defer b.Close()

	if a.Creation == 0 || b.Creation == 0 || a.Creation == b.Creation {
		t.Errorf("creations = %d, %d, want two distinct nonzero values", a.Creation, b.Creation)
	}
	if a.Name != "alpha" || a.Port != 40123 {
		t.Errorf("registration = %q port %d, want alpha port 40123", a.Name, a.Port)
	}

	port, err := Lookup(ctx, addr, "alpha")
	if err != nil || port != 40123 {
		t.Errorf("Lookup(alpha) = %d, %v, want 40123, nil", port, err)
	}
	port, err = Lookup(ctx, addr, "beta")
	if err != nil || port != 40124 {
		t.Errorf("Lookup(beta) = %d, %v, want 40124, nil", port, err)
	}
	if _, err := Lookup(ctx, addr, "gamma"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(gamma) error = %v, want ErrNotFound", err)
	}

	names, err := Names(ctx, addr)
	if err != nil {
		t.Fatalf("Names error: %v", err)
	}
	want := []NameEntry{{"alpha", 40123}, {"beta", 40124}}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Errorf("Names = %v, want %v", names, want)
	}
}

func TestPort2ResponseFields(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})
	r, err := Register(ctx, addr, "b", 40123)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	defer r.Close()

	got := rawExchange(t, addr, encodePortPlease2Request("b"))
	want := []byte{119, 0, 0x9c, 0xbb, 77, 0, 0, 6, 0, 6, 0, 1, 'b', 0, 0}
	if !bytes.Equal(got, want) {
		t.Errorf("PORT2_RESP = %v, want %v", got, want)
	}
	got = rawExchange(t, addr, encodePortPlease2Request("missing"))
	if want := []byte{119, 1}; !bytes.Equal(got, want) {
		t.Errorf("PORT2_RESP for a missing name = %v, want %v", got, want)
	}
}

func TestNamesReplyPort(t *testing.T) {
	addr := startServer(t, &Server{})
	_, portText, _ := net.SplitHostPort(addr)
	got := rawExchange(t, addr, encodeSimpleRequest(codeNames))
	want := fmt.Sprintf("%08x", mustAtoi(t, portText))
	if len(got) != 4 || fmt.Sprintf("%x", got) != want {
		t.Errorf("NAMES_RESP = %x, want %s (the listener port, no names)", got, want)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return n
}

func TestRegisterNameInUse(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})
	first, err := Register(ctx, addr, "dup", 1000)
	if err != nil {
		t.Fatalf("first Register error: %v", err)
	}
	defer first.Close()

	_, err = Register(ctx, addr, "dup", 2000)
	if !errors.Is(err, ErrNameInUse) {
		t.Fatalf("second Register error = %v, want ErrNameInUse", err)
	}
	port, err := Lookup(ctx, addr, "dup")
	if err != nil || port != 1000 {
		t.Errorf("Lookup after the rejected Register = %d, %v, want 1000, nil", port, err)
	}
}

func TestRegistrationEndsWithConnection(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})

	r, err := Register(ctx, addr, "short", 1000)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	if err := r.Err(); err != nil {
		t.Errorf("Err of a live registration = %v, want nil", err)
	}
	r.Close()
	r.Close()
	if err := r.Err(); !errors.Is(err, ErrRegistrationClosed) {
		t.Errorf("Err after Close = %v, want ErrRegistrationClosed", err)
	}
	waitFor(t, "short to be unregistered", isNotFound(ctx, addr, "short"))

	again, err := Register(ctx, addr, "short", 1001)
	if err != nil {
		t.Fatalf("Register after unregistering error: %v", err)
	}
	defer again.Close()
	port, err := Lookup(ctx, addr, "short")
	if err != nil || port != 1001 {
		t.Errorf("Lookup after re-registering = %d, %v, want 1001, nil", port, err)
	}
}

func TestRawRegistrationEndsWithConnection(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(encodeAlive2Request(nodeInfo{Port: 5, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "raw"}))
	reply := make([]byte, 6)
	if _, err := io.ReadFull(c, reply); err != nil || reply[0] != codeAlive2XResp || reply[1] != 0 {
		t.Fatalf("ALIVE2 reply = %v, %v, want [118 0 creation...]", reply, err)
	}
	if port, err := Lookup(ctx, addr, "raw"); err != nil || port != 5 {
		t.Fatalf("Lookup(raw) = %d, %v, want 5, nil", port, err)
	}

	// A node must send nothing after registering, so a byte ends it.
	c.Write([]byte{0})
	waitFor(t, "raw to be unregistered after extra data", isNotFound(ctx, addr, "raw"))
	if n, err := c.Read(reply); err != io.EOF {
		t.Errorf("read after extra data = %d, %v, want the server to close the connection", n, err)
	}
}

func TestAlive2OldVersion(t *testing.T) {
	addr := startServer(t, &Server{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(encodeAlive2Request(nodeInfo{Port: 5, NodeType: 77, HighestVersion: 5, LowestVersion: 5, Name: "old"}))
	reply := make([]byte, 4)
	if _, err := io.ReadFull(c, reply); err != nil {
		t.Fatalf("read ALIVE2_RESP: %v", err)
	}
	if reply[0] != codeAlive2Resp || reply[1] != 0 || reply[2] != 0 || reply[3] < 1 || reply[3] > 3 {
		t.Errorf("ALIVE2 reply to version 5 = %v, want [121 0 0 1..3]", reply)
	}
}

func TestRegistrationDoneWhenServerCloses(t *testing.T) {
	ctx := testContext(t)
	s := &Server{}
	addr := startServer(t, s)
	r, err := Register(ctx, addr, "orphan", 1000)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	defer r.Close()
	s.Close()
	select {
	case <-r.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed 5s after the server closed")
	}
	if err := r.Err(); err == nil || errors.Is(err, ErrRegistrationClosed) {
		t.Errorf("Err after the server closed = %v, want a lost-connection error", err)
	}
}

func TestMalformedRequests(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{RequestTimeout: 300 * time.Millisecond})
	valid := nodeInfo{Port: 5, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "m"}
	tests := []struct {
		name string
		in   []byte
	}{
		{"zero length", []byte{0, 0}},
		{"half a length", []byte{0}},
		{"truncated body", []byte{0, 5, 110}},
		{"unknown code", []byte{0, 1, 99}},
		{"ALIVE2_REQ short", []byte{0, 4, 120, 0, 5, 77}},
		{"ALIVE2_REQ name past end", []byte{0, 11, 120, 0, 5, 77, 0, 0, 6, 0, 6, 0, 9}},
		{"ALIVE2_REQ trailing bytes", appendRequest(nil, append(valid.appendFields([]byte{120}), 1))},
		{"ALIVE2_REQ empty name", encodeAlive2Request(nodeInfo{Port: 5})},
		{"ALIVE2_REQ name with host", encodeAlive2Request(nodeInfo{Port: 5, Name: "m@vm"})},
		{"nothing sent", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawExchange(t, addr, tt.in)
			if len(got) != 0 {
				t.Errorf("reply = %v, want the connection closed without a reply", got)
			}
		})
	}
	if _, err := Lookup(ctx, addr, "m"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(m) after malformed registrations error = %v, want ErrNotFound", err)
	}
	if _, err := Names(ctx, addr); err != nil {
		t.Errorf("Names after malformed requests error: %v", err)
	}
}

func TestMaxConns(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{MaxConns: 1})
	r, err := Register(ctx, addr, "only", 1000)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	if _, err := Names(ctx, addr); err == nil {
		t.Errorf("Names with MaxConns connections open succeeded, want an error")
	}
	r.Close()
	waitFor(t, "a free connection slot", func() bool {
		_, err := Names(ctx, addr)
		return err == nil
	})
}

func TestKillRequest(t *testing.T) {
	ctx := testContext(t)
	s := &Server{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	defer s.Close()

	r, err := Register(ctx, addr, "alive", 1000)
	if err != nil {
		t.Fatalf("Register error: %v", err)
	}
	killed, err := kill(ctx, addr)
	if err != nil || killed {
		t.Errorf("kill with a node registered = %v, %v, want false, nil", killed, err)
	}
	r.Close()
	waitFor(t, "alive to be unregistered", isNotFound(ctx, addr, "alive"))

	killed, err = kill(ctx, addr)
	if err != nil || !killed {
		t.Errorf("kill with no node = %v, %v, want true, nil", killed, err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrKilled) {
			t.Errorf("Serve after KILL_REQ = %v, want ErrKilled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return 5s after KILL_REQ")
	}
}

func TestServeAfterClose(t *testing.T) {
	s := &Server{}
	s.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if err := s.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close = %v, want ErrServerClosed", err)
	}
	if _, err := l.Accept(); err == nil {
		t.Errorf("listener still accepts after Serve returned")
	}
}

func TestClientArgumentErrors(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{})
	if _, err := Register(ctx, addr, "a@vm", 1000); err == nil {
		t.Errorf("Register(a@vm) succeeded, want an error for the host part")
	}
	if _, err := Register(ctx, addr, "", 1000); err == nil {
		t.Errorf("Register(\"\") succeeded, want an error")
	}
	if _, err := Register(ctx, addr, "a", 0); err == nil {
		t.Errorf("Register port 0 succeeded, want an error")
	}
	if _, err := Register(ctx, addr, "a", 65536); err == nil {
		t.Errorf("Register port 65536 succeeded, want an error")
	}
	if _, err := Lookup(ctx, addr, ""); err == nil {
		t.Errorf("Lookup(\"\") succeeded, want an error")
	}
}

// fakeServer accepts connections on 127.0.0.1, reads one request from each
// and sends reply. It then closes the connection, or when hold is true,
// waits for the client to close it.
func fakeServer(t *testing.T, reply []byte, hold bool) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			readRequest(c)
			c.Write(reply)
			if hold {
				io.Copy(io.Discard, c)
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestClientRejectsMalformedReplies(t *testing.T) {
	ctx := testContext(t)
	lookupReplies := [][]byte{{}, {119}, {118, 0}, {119, 0, 1}}
	for _, reply := range lookupReplies {
		addr := fakeServer(t, reply, false)
		if _, err := Lookup(ctx, addr, "x"); !errors.Is(err, errMalformed) {
			t.Errorf("Lookup with reply %v error = %v, want errMalformed", reply, err)
		}
	}
	namesReplies := [][]byte{{0, 0}, append([]byte{0, 0, 0, 1}, "garbage\n"...)}
	for _, reply := range namesReplies {
		addr := fakeServer(t, reply, false)
		if _, err := Names(ctx, addr); !errors.Is(err, errMalformed) {
			t.Errorf("Names with reply %q error = %v, want errMalformed", reply, err)
		}
	}
	registerReplies := [][]byte{{119, 0}, {118, 0, 0}}
	for _, reply := range registerReplies {
		addr := fakeServer(t, reply, false)
		if r, err := Register(ctx, addr, "x", 1); err == nil {
			r.Close()
			t.Errorf("Register with reply %v succeeded, want an error", reply)
		}
	}
	addr := fakeServer(t, []byte("??"), false)
	if _, err := kill(ctx, addr); !errors.Is(err, errMalformed) {
		t.Errorf("kill with reply \"??\" error = %v, want errMalformed", err)
	}
}

func TestClientHonoursContext(t *testing.T) {
	// The fake server never completes a reply: it holds each connection
	// open until the client closes it.
	addr := fakeServer(t, nil, true)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Lookup", func(ctx context.Context) error { _, err := Lookup(ctx, addr, "x"); return err }},
		{"Names", func(ctx context.Context) error { _, err := Names(ctx, addr); return err }},
		{"Register", func(ctx context.Context) error {
			r, err := Register(ctx, addr, "x", 1)
			if err == nil {
				r.Close()
			}
			return err
		}},
	}
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		err := c.call(ctx)
		cancel()
		if err == nil {
			t.Errorf("%s against a silent server succeeded, want an error", c.name)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("%s took %v with a 200ms deadline", c.name, elapsed)
		}

		ctx, cancel = context.WithCancel(context.Background())
		timer := time.AfterFunc(100*time.Millisecond, cancel)
		start = time.Now()
		err = c.call(ctx)
		timer.Stop()
		cancel()
		if err == nil {
			t.Errorf("%s after cancel succeeded, want an error", c.name)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Errorf("%s took %v to notice a cancel after 100ms", c.name, elapsed)
		}
	}
}

func TestClientErrorsNameAddrOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	_, lookupErr := Lookup(ctx, addr, "app")
	_, namesErr := Names(ctx, addr)
	_, registerErr := Register(ctx, addr, "app", 4000)
	for step, err := range map[string]error{"Lookup": lookupErr, "Names": namesErr, "Register": registerErr} {
		if err == nil {
			t.Errorf("%s on the closed port %s succeeded", step, addr)
			continue
		}
		if got := bytes.Count([]byte(err.Error()), []byte(addr)); got != 1 {
			t.Errorf("%s error = %q names %s %d times, want once", step, err, addr, got)
		}
	}
}
