package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func testConfig(name, cookie string) Config {
	return Config{
		Name:             name,
		Cookie:           []byte(cookie),
		HandshakeTimeout: 2 * time.Second,
	}
}

// listen returns a TCP listener on loopback that the test closes.
func listen(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type acceptResult struct {
	conn *Conn
	err  error
}

// serveOne accepts one connection on l and runs Accept on it.
func serveOne(t testing.TB, l net.Listener, cfg Config, admit func(string, uint64) Status) <-chan acceptResult {
	t.Helper()
	out := make(chan acceptResult, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			out <- acceptResult{err: err}
			return
		}
		c, err := Accept(context.Background(), nc, cfg, admit)
		out <- acceptResult{c, err}
	}()
	return out
}

func waitAccept(t testing.TB, ch <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return within 5s")
		return acceptResult{}
	}
}

// closeConn closes c, if any, when the test ends.
func closeConn(t testing.TB, c *Conn) {
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
}

func TestHandshakeSucceeds(t *testing.T) {
	l := listen(t)
	accepted := serveOne(t, l, testConfig("b@vm", "genki"), nil)
	client, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "b@vm")
	closeConn(t, client)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	server := waitAccept(t, accepted)
	closeConn(t, server.conn)
	if server.err != nil {
		t.Fatalf("Accept: %v", server.err)
	}
	if got, want := client.Peer(), "b@vm"; got != want {
		t.Errorf("client Peer() = %q, want %q", got, want)
	}
	if got, want := server.conn.Peer(), "a@vm"; got != want {
		t.Errorf("server Peer() = %q, want %q", got, want)
	}
	if got, want := client.RemoteAddr().String(), l.Addr().String(); got != want {
		t.Errorf("client RemoteAddr() = %s, want %s", got, want)
	}
}

func TestHandshakeBadCookie(t *testing.T) {
	l := listen(t)
	accepted := serveOne(t, l, testConfig("b@vm", "server-cookie"), nil)
	client, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "client-cookie"), "")
	closeConn(t, client)
	if !errors.Is(err, ErrBadCookie) {
		t.Errorf("Dial error = %v, want ErrBadCookie", err)
	}
	if err != nil && strings.Count(err.Error(), "cookie") != 2 {
		t.Errorf("Dial error = %q, want \"bad cookie\" once and the server's reason", err)
	}
	var herr *HandshakeError
	if !errors.As(err, &herr) || herr.Peer != "b@vm" {
		t.Errorf("Dial error = %#v, want a *HandshakeError with Peer b@vm", err)
	}
	server := waitAccept(t, accepted)
	closeConn(t, server.conn)
	if !errors.Is(server.err, ErrBadCookie) {
		t.Errorf("Accept error = %v, want ErrBadCookie", server.err)
	}
	if !errors.As(server.err, &herr) || herr.Peer != "a@vm" {
		t.Errorf("Accept error = %#v, want a *HandshakeError with Peer a@vm", server.err)
	}
	for _, err := range []error{err, server.err} {
		if err != nil && (strings.Contains(err.Error(), "server-cookie") || strings.Contains(err.Error(), "client-cookie")) {
			t.Errorf("error %q contains a cookie", err)
		}
	}
}

// rawPeer speaks frames by hand on one side of a connection. After a
// handshake with encryption on, seal is the peer's sending cipher.
type rawPeer struct {
	t    testing.TB
	nc   net.Conn
	fr   *FrameReader
	seal *frameCipher
}

func newRawPeer(t testing.TB, nc net.Conn) *rawPeer {
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawPeer{t: t, nc: nc, fr: NewFrameReader(nc, 0)}
}

func (p *rawPeer) send(f *Frame) {
	p.t.Helper()
	p.write(mustAppend(p.t, f))
}

// write writes whole frames, sealing them first when p.seal is set.
func (p *rawPeer) write(wire []byte) {
	p.t.Helper()
	if p.seal != nil {
		var err error
		if wire, err = p.seal.sealFrames(nil, wire); err != nil {
			p.t.Fatalf("raw peer: seal: %v", err)
		}
	}
	if _, err := p.nc.Write(wire); err != nil {
		p.t.Fatalf("raw peer: write: %v", err)
	}
}

func (p *rawPeer) recv(want FrameType) Frame {
	p.t.Helper()
	var f Frame
	if err := p.fr.ReadFrame(&f); err != nil {
		p.t.Fatalf("raw peer: read %s: %v", want, err)
	}
	if f.Type != want {
		p.t.Fatalf("raw peer: got %s frame (%+v), want %s", f.Type, f, want)
	}
	// Copy the byte fields out of the reader's buffer.
	f.Nonce = bytes.Clone(f.Nonce)
	f.Digest = bytes.Clone(f.Digest)
	f.Payload = bytes.Clone(f.Payload)
	return f
}

// rawTranscript returns the transcript of a handshake whose hello was
// hello, with a server named server that sent nonceS and creationS and
// agreed on the hello's flags.
func rawTranscript(hello Frame, server string, nonceS []byte, creationS uint64) *transcript {
	return &transcript{
		client: hello.Name, server: server,
		nonceC: hello.Nonce, nonceS: nonceS,
		creationC: hello.Creation, creationS: creationS,
		flags: hello.Flags,
	}
}

// rawServer accepts one connection on l and runs serve on it.
func rawServer(t testing.TB, l net.Listener, serve func(p *rawPeer)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := l.Accept()
		if err != nil {
			t.Errorf("raw server: accept: %v", err)
			return
		}
		defer nc.Close()
		serve(newRawPeer(t, nc))
	}()
	return done
}

func TestHandshakeServerProofFails(t *testing.T) {
	// The server accepts any reply but proves another cookie.
	l := listen(t)
	done := rawServer(t, l, func(p *rawPeer) {
		hello := p.recv(FrameHello)
		nonceS := bytes.Repeat([]byte{1}, nonceSize)
		p.send(&Frame{Type: FrameStatus, Status: StatusOK, Name: "b@vm", Nonce: nonceS, Flags: FlagEncrypt})
		p.recv(FrameReply)
		digest := rawTranscript(hello, "b@vm", nonceS, 0).proof([]byte("other"), serverProofLabel)
		p.send(&Frame{Type: FrameAck, Digest: digest})
	})
	c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "")
	closeConn(t, c)
	<-done
	if !errors.Is(err, ErrBadCookie) {
		t.Errorf("Dial error = %v, want ErrBadCookie", err)
	}
}

func TestHandshakeReplayToServer(t *testing.T) {
	// Record a client's hello and reply from a successful handshake.
	l := listen(t)
	var hello, reply Frame
	done := rawServer(t, l, func(p *rawPeer) {
		hello = p.recv(FrameHello)
		nonceS := bytes.Repeat([]byte{2}, nonceSize)
		p.send(&Frame{Type: FrameStatus, Status: StatusOK, Name: "b@vm", Nonce: nonceS, Flags: FlagEncrypt})
		reply = p.recv(FrameReply)
		digest := rawTranscript(hello, "b@vm", nonceS, 0).proof([]byte("genki"), serverProofLabel)
		p.send(&Frame{Type: FrameAck, Digest: digest})
	})
	c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "")
	if err != nil {
		t.Fatalf("Dial to the recording server: %v", err)
	}
	c.Close()
	<-done

	// Replay them to a real server, which sends a fresh challenge.
	accepted := serveOne(t, l, testConfig("b@vm", "genki"), nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := newRawPeer(t, nc)
	p.send(&hello)
	status := p.recv(FrameStatus)
	if status.Status != StatusOK {
		t.Fatalf("status = %s, want ok", status.Status)
	}
	p.send(&reply)
	if got := p.recv(FrameStatus); got.Status != StatusBadCookie {
		t.Errorf("status after replayed reply = %s, want bad_cookie", got.Status)
	}
	server := waitAccept(t, accepted)
	closeConn(t, server.conn)
	if !errors.Is(server.err, ErrBadCookie) {
		t.Errorf("Accept error = %v, want ErrBadCookie", server.err)
	}
}

func TestHandshakeReplayToClient(t *testing.T) {
	// Record a real server's status and ack.
	l := listen(t)
	accepted := serveOne(t, l, testConfig("b@vm", "genki"), nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p := newRawPeer(t, nc)
	nonceC := bytes.Repeat([]byte{3}, nonceSize)
	hello := Frame{Type: FrameHello, Version: HandshakeVersion, Name: "a@vm", Nonce: nonceC, Flags: FlagEncrypt}
	p.send(&hello)
	status := p.recv(FrameStatus)
	reply := rawTranscript(hello, "b@vm", status.Nonce, status.Creation).proof([]byte("genki"), clientProofLabel)
	p.send(&Frame{Type: FrameReply, Digest: reply})
	ack := p.recv(FrameAck)
	nc.Close()
	server := waitAccept(t, accepted)
	if server.err != nil {
		t.Fatalf("Accept for the recording client: %v", server.err)
	}
	server.conn.Close()

	// Replay them to a real client, whose nonce is fresh.
	done := rawServer(t, l, func(p *rawPeer) {
		p.recv(FrameHello)
		p.send(&status)
		p.recv(FrameReply)
		p.send(&ack)
	})
	c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "")
	closeConn(t, c)
	<-done
	if !errors.Is(err, ErrBadCookie) {
		t.Errorf("Dial error against a replayed server = %v, want ErrBadCookie", err)
	}
}

func TestHandshakeBadVersion(t *testing.T) {
	l := listen(t)
	accepted := serveOne(t, l, testConfig("b@vm", "genki"), nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := newRawPeer(t, nc)
	p.send(&Frame{Type: FrameHello, Version: 99, Name: "a@vm", Nonce: make([]byte, nonceSize), Flags: FlagEncrypt})
	if got := p.recv(FrameStatus); got.Status != StatusBadVersion {
		t.Errorf("status for version 99 = %s, want bad_version", got.Status)
	}
	server := waitAccept(t, accepted)
	if !errors.Is(server.err, ErrVersion) {
		t.Errorf("Accept error = %v, want ErrVersion", server.err)
	}

	// The client maps the status to ErrVersion too.
	done := rawServer(t, l, func(p *rawPeer) {
		p.recv(FrameHello)
		p.send(&Frame{Type: FrameStatus, Status: StatusBadVersion, Reason: "only version 9"})
	})
	c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "")
	closeConn(t, c)
	<-done
	if !errors.Is(err, ErrVersion) {
		t.Errorf("Dial error = %v, want ErrVersion", err)
	}
}

func TestHandshakeAdmitStatus(t *testing.T) {
	tests := []struct {
		admit Status
		want  error
	}{
		{StatusAlive, ErrAlreadyConnected},
		{StatusNameInUse, ErrNameInUse},
		{StatusNotAllowed, ErrNotAllowed},
		{Status(99), ErrNotAllowed},
		{Status(0), ErrNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.admit.String(), func(t *testing.T) {
			l := listen(t)
			var claimed string
			accepted := serveOne(t, l, testConfig("b@vm", "genki"), func(peer string, _ uint64) Status {
				claimed = peer
				return tt.admit
			})
			c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "")
			closeConn(t, c)
			if !errors.Is(err, tt.want) {
				t.Errorf("Dial error = %v, want %v", err, tt.want)
			}
			if err != nil && strings.Count(err.Error(), tt.want.Error()) != 1 {
				t.Errorf("Dial error = %q, want %q in it once", err, tt.want)
			}
			server := waitAccept(t, accepted)
			if !errors.Is(server.err, tt.want) {
				t.Errorf("Accept error = %v, want %v", server.err, tt.want)
			}
			if claimed != "a@vm" {
				t.Errorf("admit got %q, want a@vm", claimed)
			}
		})
	}
}

func TestHandshakeOwnName(t *testing.T) {
	l := listen(t)
	admitted := false
	accepted := serveOne(t, l, testConfig("a@vm", "genki"), func(string, uint64) Status {
		admitted = true
		return StatusOK
	})
	c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "")
	closeConn(t, c)
	if !errors.Is(err, ErrNameInUse) {
		t.Errorf("Dial with the server's own name: error = %v, want ErrNameInUse", err)
	}
	server := waitAccept(t, accepted)
	if !errors.Is(server.err, ErrNameInUse) {
		t.Errorf("Accept error = %v, want ErrNameInUse", server.err)
	}
	if admitted {
		t.Error("admit was called for the server's own name")
	}
}

func TestHandshakeUnexpectedPeer(t *testing.T) {
	l := listen(t)
	accepted := serveOne(t, l, testConfig("c@vm", "genki"), nil)
	c, err := Dial(context.Background(), l.Addr().String(), testConfig("a@vm", "genki"), "b@vm")
	closeConn(t, c)
	if !errors.Is(err, ErrPeerMismatch) {
		t.Errorf("Dial error = %v, want ErrPeerMismatch", err)
	}
	r := waitAccept(t, accepted)
	closeConn(t, r.conn)
	if r.err == nil {
		t.Error("Accept succeeded although the client gave up")
	}
}

func TestHandshakeInvalidHello(t *testing.T) {
	tests := []struct {
		name  string
		hello Frame
		want  error
	}{
		{"name without host", Frame{Type: FrameHello, Version: HandshakeVersion, Name: "a", Nonce: make([]byte, nonceSize), Flags: FlagEncrypt}, ErrNotAllowed},
		{"short nonce", Frame{Type: FrameHello, Version: HandshakeVersion, Name: "a@vm", Nonce: make([]byte, 8), Flags: FlagEncrypt}, ErrProtocol},
		{"reply first", Frame{Type: FrameReply, Digest: make([]byte, 32)}, ErrProtocol},
		{"oversized hello", Frame{Type: FrameHello, Version: HandshakeVersion, Name: "a@vm", Nonce: make([]byte, 2000), Flags: FlagEncrypt}, ErrFrameTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := listen(t)
			accepted := serveOne(t, l, testConfig("b@vm", "genki"), nil)
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			newRawPeer(t, nc).send(&tt.hello)
			r := waitAccept(t, accepted)
			if !errors.Is(r.err, tt.want) {
				t.Errorf("Accept error = %v, want %v", r.err, tt.want)
			}
		})
	}
}

func TestHandshakeTimeout(t *testing.T) {
	cfg := testConfig("a@vm", "genki")
	cfg.HandshakeTimeout = 200 * time.Millisecond

	// A server that accepts and never speaks.
	l := listen(t)
	done := rawServer(t, l, func(p *rawPeer) {
		var f Frame
		p.fr.ReadFrame(&f)
		p.fr.ReadFrame(&f) // blocks until the client gives up
	})
	start := time.Now()
	c, err := Dial(context.Background(), l.Addr().String(), cfg, "")
	closeConn(t, c)
	elapsed := time.Since(start)
	<-done
	if !errors.Is(err, ErrHandshakeTimeout) {
		t.Errorf("Dial to a silent server: error = %v, want ErrHandshakeTimeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial to a silent server: error = %v, want it to match context.DeadlineExceeded", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("Dial returned after %v, want about %v", elapsed, cfg.HandshakeTimeout)
	}

	// A client that connects and never speaks.
	cfg.Name = "b@vm"
	accepted := serveOne(t, l, cfg, nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := waitAccept(t, accepted)
	if !errors.Is(r.err, ErrHandshakeTimeout) {
		t.Errorf("Accept from a silent client: error = %v, want ErrHandshakeTimeout", r.err)
	}
}

func TestHandshakeContextCanceled(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := Accept(ctx, a, testConfig("b@vm", "genki"), nil)
		errc <- err
	}()
	time.AfterFunc(50*time.Millisecond, cancel)
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Accept error after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Accept did not return within 2s of the cancel")
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"missing name", Config{Cookie: []byte("c")}},
		{"name without host", Config{Name: "a@", Cookie: []byte("c")}},
		{"long name", Config{Name: strings.Repeat("a", 250) + "@vmvmvm", Cookie: []byte("c")}},
		{"missing cookie", Config{Name: "a@vm"}},
		{"small frames", Config{Name: "a@vm", Cookie: []byte("c"), MaxFrameSize: 100}},
		{"negative tick", Config{Name: "a@vm", Cookie: []byte("c"), TickInterval: -1}},
		{"timeout below interval", Config{Name: "a@vm", Cookie: []byte("c"), TickInterval: time.Second, TickTimeout: time.Millisecond}},
	}
	for _, tt := range tests {
		if _, err := tt.cfg.withDefaults(); err == nil {
			t.Errorf("withDefaults(%s) succeeded, want an error", tt.name)
		}
	}
	got, err := Config{Name: "a@vm", Cookie: []byte("c")}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxFrameSize != DefaultMaxFrameSize || got.HandshakeTimeout != DefaultHandshakeTimeout ||
		got.TickInterval != DefaultTickInterval || got.TickTimeout != 4*DefaultTickInterval {
		t.Errorf("withDefaults() = %+v, want the documented defaults", got)
	}
	if got.BusyPoll != DefaultBusyPoll {
		t.Errorf("withDefaults().BusyPoll = %v, want DefaultBusyPoll %v", got.BusyPoll, DefaultBusyPoll)
	}
	off, err := Config{Name: "a@vm", Cookie: []byte("c"), BusyPoll: -1}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if off.BusyPoll != 0 {
		t.Errorf("withDefaults() of BusyPoll -1 = %v, want 0 (no polling)", off.BusyPoll)
	}
}

func TestConfigLogValueRedactsCookie(t *testing.T) {
	v := Config{Name: "a@vm", Cookie: []byte("secret-cookie")}.LogValue()
	if s := v.String(); strings.Contains(s, "secret-cookie") {
		t.Errorf("LogValue() = %s, contains the cookie", s)
	}
}

func TestRejectionNamesStatusOnce(t *testing.T) {
	tests := []struct {
		status Status
		reason string
		want   error
		text   string
	}{
		{StatusBadCookie, "bad cookie", ErrBadCookie, "bad cookie: rejected by the server with status bad_cookie"},
		{StatusBadCookie, "", ErrBadCookie, "bad cookie: rejected by the server with status bad_cookie"},
		{StatusNameInUse, "Name In Use", ErrNameInUse, "node name in use: rejected by the server with status name_in_use"},
		{StatusAlive, "the server has a connection to \"a@vm\"", ErrAlreadyConnected, "already connected: the server has a connection to \"a@vm\""},
	}
	for _, tt := range tests {
		err := rejection(tt.status, tt.reason)
		if !errors.Is(err, tt.want) {
			t.Errorf("rejection(%s, %q) = %v, want it to wrap %v", tt.status, tt.reason, err, tt.want)
		}
		if err.Error() != tt.text {
			t.Errorf("rejection(%s, %q) = %q, want %q", tt.status, tt.reason, err, tt.text)
		}
	}
}

func TestDialErrorNamesAddrOnce(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	_, err := Dial(context.Background(), addr, testConfig("a@vm", "genki"), "")
	if err == nil {
		t.Fatalf("Dial to the closed listener %s succeeded", addr)
	}
	if got := strings.Count(err.Error(), addr); got != 1 {
		t.Errorf("Dial error = %q names %s %d times, want once", err, addr, got)
	}
}
