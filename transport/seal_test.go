package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// cipherPair returns the client's sealing cipher and the server's opening
// cipher of one handshake transcript.
func cipherPair(t *testing.T, tr *transcript) (seal, open *frameCipher) {
	t.Helper()
	seal, _, err := frameCiphers([]byte("genki"), tr, true)
	if err != nil {
		t.Fatal(err)
	}
	_, open, err = frameCiphers([]byte("genki"), tr, false)
	if err != nil {
		t.Fatal(err)
	}
	return seal, open
}

func sampleTranscript(nonceByte byte) *transcript {
	return &transcript{
		client: "a@vm", server: "b@vm",
		nonceC: bytes.Repeat([]byte{nonceByte}, nonceSize), nonceS: bytes.Repeat([]byte{nonceByte + 1}, nonceSize),
		creationC: 1, creationS: 2, flags: FlagEncrypt,
	}
}

// sealOne seals one message frame and returns its wire bytes.
func sealOne(t *testing.T, fc *frameCipher, payload string) []byte {
	t.Helper()
	wire, err := fc.sealFrames(nil, mustAppend(t, &Frame{Type: FrameMessage, To: "shell", From: "a@vm", Payload: []byte(payload)}))
	if err != nil {
		t.Fatal(err)
	}
	return wire
}

// openAll reads every frame of wire with a reader that opens with fc and
// returns the payloads read before the first error, and that error.
func openAll(fc *frameCipher, wire []byte) ([]string, error) {
	fr := NewFrameReader(bytes.NewReader(wire), 0)
	fr.open = fc
	var got []string
	for {
		var f Frame
		if err := fr.ReadFrame(&f); err != nil {
			if err == io.EOF {
				err = nil
			}
			return got, err
		}
		got = append(got, string(f.Payload))
	}
}

func TestFrameCipherOpensInOrder(t *testing.T) {
	seal, open := cipherPair(t, sampleTranscript(1))
	var wire []byte
	for _, p := range []string{"one", "two", "three"} {
		wire = append(wire, sealOne(t, seal, p)...)
	}
	if bytes.Contains(wire, []byte("three")) {
		t.Errorf("sealed wire % x contains the payload in clear", wire)
	}
	got, err := openAll(open, wire)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if want := []string{"one", "two", "three"}; !equalStrings(got, want) {
		t.Errorf("opened %q, want %q", got, want)
	}
}

func TestFrameCipherRejects(t *testing.T) {
	tests := []struct {
		name string
		// wire makes the bytes to open from three frames sealed in order.
		wire func(f0, f1, f2 []byte) []byte
		ok   int // frames that open before the failure
	}{
		{"flipped body bit", func(f0, f1, f2 []byte) []byte {
			f1 = bytes.Clone(f1)
			f1[frameHeaderSize+2] ^= 0x01
			return cat(f0, f1, f2)
		}, 1},
		{"flipped tag bit", func(f0, f1, f2 []byte) []byte {
			f0 = bytes.Clone(f0)
			f0[len(f0)-1] ^= 0x80
			return cat(f0, f1, f2)
		}, 0},
		{"replayed frame", func(f0, f1, f2 []byte) []byte { return cat(f0, f0, f1) }, 1},
		{"reordered frames", func(f0, f1, f2 []byte) []byte { return cat(f0, f2, f1) }, 1},
		{"dropped frame", func(f0, f1, f2 []byte) []byte { return cat(f1, f2) }, 0},
		{"shortened length", func(f0, f1, f2 []byte) []byte {
			f0 = bytes.Clone(f0)
			f0[3]--
			return f0[:len(f0)-1]
		}, 0},
		{"body shorter than the tag", func(f0, f1, f2 []byte) []byte { return []byte{0, 0, 0, 3, 1, 2, 3} }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seal, open := cipherPair(t, sampleTranscript(1))
			f0, f1, f2 := sealOne(t, seal, "zero"), sealOne(t, seal, "one"), sealOne(t, seal, "two")
			got, err := openAll(open, tt.wire(f0, f1, f2))
			if !errors.Is(err, ErrFrameAuth) {
				t.Errorf("open error = %v, want ErrFrameAuth", err)
			}
			if len(got) != tt.ok {
				t.Errorf("opened %q before the failure, want %d frames", got, tt.ok)
			}
		})
	}
}

func TestFrameCipherKeysDiffer(t *testing.T) {
	sealA, _ := cipherPair(t, sampleTranscript(1))
	sealB, _ := cipherPair(t, sampleTranscript(5))
	_, backA, err := frameCiphers([]byte("genki"), sampleTranscript(1), true)
	if err != nil {
		t.Fatal(err)
	}
	a, b := sealOne(t, sealA, "same"), sealOne(t, sealB, "same")
	if bytes.Equal(a, b) {
		t.Error("two connections with other nonces sealed a frame alike")
	}
	if _, err := openAll(backA, a); !errors.Is(err, ErrFrameAuth) {
		t.Errorf("opening a client frame with the server-to-client key: %v, want ErrFrameAuth", err)
	}
	_, openOther, err := frameCiphers([]byte("other"), sampleTranscript(1), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openAll(openOther, a); !errors.Is(err, ErrFrameAuth) {
		t.Errorf("opening with a key from another cookie: %v, want ErrFrameAuth", err)
	}
}

func TestFrameCipherKeyLimit(t *testing.T) {
	seal, _ := cipherPair(t, sampleTranscript(1))
	seal.bytes = maxSealedBytes - 10
	if _, err := seal.seal(nil, make([]byte, 10)); err != nil {
		t.Fatalf("seal up to the limit: %v", err)
	}
	if _, err := seal.seal(nil, []byte{1}); !errors.Is(err, ErrKeyLimit) {
		t.Errorf("seal past the limit: %v, want ErrKeyLimit", err)
	}
}

func TestConnSealedFrameAttacks(t *testing.T) {
	tests := []struct {
		name string
		// wire makes what the attacker writes from two sealed frames.
		wire      func(f0, f1 []byte) []byte
		delivered int
	}{
		{"tampered", func(f0, f1 []byte) []byte {
			f0 = bytes.Clone(f0)
			f0[frameHeaderSize] ^= 0xff
			return f0
		}, 0},
		{"replayed", func(f0, f1 []byte) []byte { return cat(f0, f0) }, 1},
		{"reordered", func(f0, f1 []byte) []byte { return cat(f1, f0) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkGoroutines(t)
			server, rec, p := rawClientConn(t, testConfig("b@vm", "genki"))
			if !server.Encrypted() {
				t.Fatal("connection is not encrypted with the default config")
			}
			f0, f1 := sealOne(t, p.seal, "first"), sealOne(t, p.seal, "second")
			if _, err := p.nc.Write(tt.wire(f0, f1)); err != nil {
				t.Fatal(err)
			}
			err := rec.waitDown(t, 2*time.Second)
			if !errors.Is(err, ErrFrameAuth) {
				t.Errorf("HandleDown(%v), want ErrFrameAuth", err)
			}
			if got := len(rec.msgs); got != tt.delivered {
				t.Errorf("%d messages delivered, want %d", got, tt.delivered)
			}
		})
	}
}

// recordingProxy forwards one connection from its listener to target and
// records the bytes sent each way.
type recordingProxy struct {
	l    net.Listener
	mu   sync.Mutex
	seen bytes.Buffer
	wg   sync.WaitGroup
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	p := &recordingProxy{l: listen(t)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		defer in.Close()
		out, err := net.Dial("tcp", target)
		if err != nil {
			t.Errorf("proxy: dial %s: %v", target, err)
			return
		}
		defer out.Close()
		var copies sync.WaitGroup
		copies.Add(2)
		go func() { defer copies.Done(); p.copy(out, in) }()
		go func() { defer copies.Done(); p.copy(in, out) }()
		copies.Wait()
	}()
	t.Cleanup(func() { p.l.Close(); p.wg.Wait() })
	return p
}

func (p *recordingProxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.seen.Write(buf[:n])
			p.mu.Unlock()
			dst.Write(buf[:n])
		}
		if err != nil {
			// Closing both ends ends the copy the other way too.
			src.Close()
			dst.Close()
			return
		}
	}
}

func (p *recordingProxy) contains(b []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Contains(p.seen.Bytes(), b)
}

func TestConnEncryptionOnWire(t *testing.T) {
	for _, noEncrypt := range []bool{false, true} {
		name := "encrypted"
		if noEncrypt {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			checkGoroutines(t)
			clientCfg, serverCfg := testConfig("a@vm", "genki"), testConfig("b@vm", "genki")
			clientCfg.NoEncrypt, serverCfg.NoEncrypt = noEncrypt, noEncrypt
			l := listen(t)
			accepted := serveOne(t, l, serverCfg, nil)
			proxy := newRecordingProxy(t, l.Addr().String())
			client, server := dialAccepted(t, proxy.l.Addr().String(), clientCfg, accepted)
			if client.Encrypted() == noEncrypt || server.Encrypted() == noEncrypt {
				t.Fatalf("Encrypted() = %v and %v, want %v", client.Encrypted(), server.Encrypted(), !noEncrypt)
			}
			rec := newRecorder(1)
			server.Start(rec)
			client.Start(nil)
			secret := []byte("attack at dawn, bring the cookie jar")
			if err := client.Send("shell", "a@vm", secret); err != nil {
				t.Fatal(err)
			}
			if m := rec.nextMessage(t); !bytes.Equal(m.payload, secret) {
				t.Errorf("server got %q, want %q", m.payload, secret)
			}
			if got := proxy.contains(secret); got != noEncrypt {
				t.Errorf("payload seen on the wire: %v, want %v", got, noEncrypt)
			}
			if !proxy.contains([]byte("a@vm")) {
				t.Error("the handshake, which is in clear, is not on the wire: the proxy recorded nothing")
			}
		})
	}
}

func TestHandshakeEncryptionMismatch(t *testing.T) {
	for _, clientOff := range []bool{true, false} {
		name := "client off"
		if !clientOff {
			name = "server off"
		}
		t.Run(name, func(t *testing.T) {
			clientCfg, serverCfg := testConfig("a@vm", "genki"), testConfig("b@vm", "genki")
			clientCfg.NoEncrypt, serverCfg.NoEncrypt = clientOff, !clientOff
			l := listen(t)
			accepted := serveOne(t, l, serverCfg, nil)
			c, err := Dial(context.Background(), l.Addr().String(), clientCfg, "")
			closeConn(t, c)
			if !errors.Is(err, ErrEncryptionMismatch) {
				t.Errorf("Dial error = %v, want ErrEncryptionMismatch", err)
			}
			r := waitAccept(t, accepted)
			closeConn(t, r.conn)
			if !errors.Is(r.err, ErrEncryptionMismatch) {
				t.Errorf("Accept error = %v, want ErrEncryptionMismatch", r.err)
			}
		})
	}
}

func TestHandshakeFlagsCovered(t *testing.T) {
	// A man in the middle strips FlagEncrypt from a client's hello to a
	// server with encryption off. The client's proof still covers the
	// flags it sent, so the server rejects it.
	serverCfg := testConfig("b@vm", "genki")
	serverCfg.NoEncrypt = true
	l := listen(t)
	accepted := serveOne(t, l, serverCfg, nil)
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	p := newRawPeer(t, nc)
	sent := Frame{Type: FrameHello, Version: HandshakeVersion, Name: "a@vm", Nonce: bytes.Repeat([]byte{4}, nonceSize), Flags: FlagEncrypt}
	stripped := sent
	stripped.Flags = 0
	p.send(&stripped)
	status := p.recv(FrameStatus)
	if status.Status != StatusOK {
		t.Fatalf("status = %s, want ok", status.Status)
	}
	reply := rawTranscript(sent, "b@vm", status.Nonce, status.Creation).proof([]byte("genki"), clientProofLabel)
	p.send(&Frame{Type: FrameReply, Digest: reply})
	if got := p.recv(FrameStatus); got.Status != StatusBadCookie {
		t.Errorf("status after a proof over other flags = %s, want bad_cookie", got.Status)
	}
	r := waitAccept(t, accepted)
	closeConn(t, r.conn)
	if !errors.Is(r.err, ErrBadCookie) {
		t.Errorf("Accept error = %v, want ErrBadCookie", r.err)
	}
}

func TestHandshakeCreation(t *testing.T) {
	clientCfg, serverCfg := testConfig("a@vm", "genki"), testConfig("b@vm", "genki")
	clientCfg.Creation, serverCfg.Creation = 111, 222
	l := listen(t)
	var claimed uint64
	accepted := serveOne(t, l, serverCfg, func(_ string, creation uint64) Status {
		claimed = creation
		return StatusOK
	})
	client, server := dialAccepted(t, l.Addr().String(), clientCfg, accepted)
	if claimed != 111 {
		t.Errorf("admit got creation %d, want 111", claimed)
	}
	if got := server.PeerCreation(); got != 111 {
		t.Errorf("server: PeerCreation() = %d, want 111", got)
	}
	if got := client.PeerCreation(); got != 222 {
		t.Errorf("client: PeerCreation() = %d, want 222", got)
	}
}

// dialAccepted dials addr as b@vm's client and returns both Conns of the
// handshake, which the test closes.
func dialAccepted(t *testing.T, addr string, clientCfg Config, accepted <-chan acceptResult) (client, server *Conn) {
	t.Helper()
	client, err := Dial(context.Background(), addr, clientCfg, "b@vm")
	if err != nil {
		t.Fatal(err)
	}
	closeConn(t, client)
	r := waitAccept(t, accepted)
	if r.err != nil {
		t.Fatal(r.err)
	}
	closeConn(t, r.conn)
	return client, r.conn
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
