package transport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fuzzHandshakeTimeout bounds each fuzzed handshake, so an input that
// leaves a side waiting costs little.
const fuzzHandshakeTimeout = 200 * time.Millisecond

// runHandshakeAgainst runs one side of the handshake against a peer that
// sends input and then closes the connection. It fails the test if the
// side completes the handshake, which needs the cookie, or if it does not
// return within its deadline.
func runHandshakeAgainst(t *testing.T, input []byte, side func(nc net.Conn, cfg Config) (*Conn, error), cfg Config) {
	ours, theirs := net.Pipe()
	defer ours.Close()
	defer theirs.Close()
	go io.Copy(io.Discard, theirs)
	go func() {
		// Closing after the input ends the handshake at once, in place
		// of waiting for its deadline.
		theirs.Write(input)
		theirs.Close()
	}()

	done := make(chan error, 1)
	go func() {
		c, err := side(ours, cfg)
		if c != nil {
			c.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("handshake completed against the fuzzed peer % x", input)
		}
		var herr *HandshakeError
		if !errors.As(err, &herr) {
			t.Fatalf("handshake error %v is not a *HandshakeError", err)
		}
	case <-time.After(fuzzHandshakeTimeout + 2*time.Second):
		t.Fatalf("handshake still running %v after its deadline", 2*time.Second)
	}
}

func fuzzConfig(t *testing.T, name string) Config {
	cfg, err := Config{Name: name, Cookie: []byte("genki"), HandshakeTimeout: fuzzHandshakeTimeout}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// handshakeSeeds returns valid and nearly valid handshake streams.
func handshakeSeeds(f *testing.F) [][]byte {
	nonce := bytes.Repeat([]byte{7}, nonceSize)
	hello := Frame{Type: FrameHello, Version: HandshakeVersion, Name: "a@vm", Nonce: nonce, Flags: FlagEncrypt, Creation: 5}
	status := Frame{Type: FrameStatus, Status: StatusOK, Name: "b@vm", Nonce: nonce, Flags: FlagEncrypt, Creation: 6}
	reply := Frame{Type: FrameReply, Digest: rawTranscript(hello, "b@vm", nonce, 6).proof([]byte("genki"), clientProofLabel)}
	ack := Frame{Type: FrameAck, Digest: rawTranscript(hello, "b@vm", nonce, 6).proof([]byte("genki"), serverProofLabel)}
	enc := func(frames ...Frame) []byte {
		var b []byte
		for i := range frames {
			b = append(b, mustAppend(f, &frames[i])...)
		}
		return b
	}
	plainHello := hello
	plainHello.Flags = 0
	oldHello := hello
	oldHello.Version = 1
	return [][]byte{
		enc(hello, reply),
		enc(status, ack),
		enc(plainHello),
		enc(oldHello),
		enc(status, Frame{Type: FrameStatus, Status: StatusBadCookie, Reason: "bad cookie"}),
		enc(Frame{Type: FrameStatus, Status: StatusEncryption, Reason: "no"}),
		{0, 0, 0, 0},
		{0xff, 0xff, 0xff, 0xff},
		nil,
	}
}

// FuzzHandshakeServer feeds arbitrary bytes to the server side of the
// handshake, as a client without the cookie would send them.
func FuzzHandshakeServer(f *testing.F) {
	for _, seed := range handshakeSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		runHandshakeAgainst(t, input, func(nc net.Conn, cfg Config) (*Conn, error) {
			return serverHandshake(context.Background(), nc, cfg, func(string, uint64) Status { return StatusOK }, time.Now().Add(cfg.HandshakeTimeout))
		}, fuzzConfig(t, "b@vm"))
	})
}

// FuzzHandshakeClient feeds arbitrary bytes to the client side of the
// handshake, as a server without the cookie would send them.
func FuzzHandshakeClient(f *testing.F) {
	for _, seed := range handshakeSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		runHandshakeAgainst(t, input, func(nc net.Conn, cfg Config) (*Conn, error) {
			return clientHandshake(context.Background(), nc, cfg, "", time.Now().Add(cfg.HandshakeTimeout))
		}, fuzzConfig(t, "a@vm"))
	})
}
