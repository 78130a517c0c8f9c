package epmd

import (
	"crypto/rand"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// openIdle opens n connections to addr that send nothing, and closes them
// when the test ends.
func openIdle(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// closedByServer counts the connections whose next read ends with EOF
// within wait.
func closedByServer(conns []net.Conn, wait time.Duration) int {
	var closed int
	deadline := time.Now().Add(wait)
	var buf [1]byte
	for _, c := range conns {
		c.SetReadDeadline(deadline)
		if _, err := c.Read(buf[:]); errors.Is(err, io.EOF) {
			closed++
		}
	}
	return closed
}

func TestIdleFloodKeepsServing(t *testing.T) {
	ctx := testContext(t)
	const maxPending = 8
	s := &Server{MaxPending: maxPending, RequestTimeout: time.Minute}
	addr := startServer(t, s)
	first, err := Register(ctx, addr, "first", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	idle := openIdle(t, addr, 200)
	if got := closedByServer(idle[:len(idle)-maxPending], 2*time.Second); got != len(idle)-maxPending {
		t.Errorf("%d of the %d oldest idle connections closed by the server, want all", got, len(idle)-maxPending)
	}
	s.mu.Lock()
	pending := len(s.pending)
	s.mu.Unlock()
	if pending > maxPending {
		t.Errorf("%d connections waiting for a request, want at most %d", pending, maxPending)
	}

	// Clients get through while idle connections keep arriving.
	openIdle(t, addr, 3*maxPending)
	late, err := Register(ctx, addr, "late", 1001)
	if err != nil {
		t.Fatalf("Register during the flood: %v", err)
	}
	defer late.Close()
	if port, err := Lookup(ctx, addr, "first"); err != nil || port != 1000 {
		t.Errorf("Lookup(first) during the flood = %d, %v, want 1000", port, err)
	}
	names, err := Names(ctx, addr)
	if err != nil {
		t.Fatalf("Names during the flood: %v", err)
	}
	if len(names) != 2 {
		t.Errorf("Names during the flood = %v, want first and late", names)
	}
}

func TestGarbageFloodKeepsServing(t *testing.T) {
	ctx := testContext(t)
	addr := startServer(t, &Server{RequestTimeout: time.Second})
	reg, err := Register(ctx, addr, "keep", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	const conns, parallel = 500, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	replies := 0
	for w := range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			junk := make([]byte, 300)
			for range conns / parallel {
				rand.Read(junk)
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					t.Errorf("worker %d: dial: %v", w, err)
					return
				}
				c.SetDeadline(time.Now().Add(3 * time.Second))
				c.Write(junk)
				reply, _ := io.ReadAll(c)
				c.Close()
				if len(reply) > 0 {
					mu.Lock()
					replies++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// Random bytes are almost never a valid request, and a request that
	// happens to be valid may get a reply, so only a few are allowed.
	if replies > conns/50 {
		t.Errorf("%d of %d garbage connections got a reply, want the connection closed", replies, conns)
	}
	if port, err := Lookup(ctx, addr, "keep"); err != nil || port != 1000 {
		t.Errorf("Lookup(keep) after the flood = %d, %v, want 1000", port, err)
	}
}

func TestOversizedRequestClosed(t *testing.T) {
	addr := startServer(t, &Server{RequestTimeout: time.Minute})
	for _, head := range [][]byte{{0xff, 0xff}, {0x04, 0x01}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The body that the length announces never comes: the server
		// must close on the length alone, long before its request timeout.
		if _, err := c.Write(append(head, codeNames)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(make([]byte, 16))
		var netErr net.Error
		if n > 0 || (errors.As(err, &netErr) && netErr.Timeout()) {
			t.Errorf("request length % x: read %d bytes, %v; want the connection closed", head, n, err)
		}
	}
}

// remoteAddrListener reports every connection it accepts as coming from
// remote, so a test can see how the server treats other hosts without any
// traffic to them.
type remoteAddrListener struct {
	net.Listener
	remote net.Addr
}

type remoteAddrConn struct {
	net.Conn
	remote net.Addr
}

func (l remoteAddrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return remoteAddrConn{Conn: c, remote: l.remote}, nil
}

func (c remoteAddrConn) RemoteAddr() net.Addr { return c.remote }

func TestRegisterOnlyFromLoopback(t *testing.T) {
	ctx := testContext(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	served := make(chan error, 1)
	go func() {
		served <- s.Serve(remoteAddrListener{Listener: l, remote: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 4000}})
	}()
	defer func() {
		s.Close()
		<-served
	}()
	addr := l.Addr().String()

	if _, err := Register(ctx, addr, "remote", 1000); err == nil {
		t.Error("Register from a non-loopback address succeeded, want the connection closed")
	}
	if _, err := Lookup(ctx, addr, "remote"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup(remote) = %v, want ErrNotFound", err)
	}
	// Other hosts may still look names up, as with Erlang's epmd.
	if _, err := Names(ctx, addr); err != nil {
		t.Errorf("Names from a non-loopback address: %v", err)
	}
}
