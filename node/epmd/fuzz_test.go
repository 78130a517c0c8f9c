package epmd

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// FuzzServeRequest sends arbitrary bytes to a Server as one client's
// connection, and checks that the server neither crashes nor hangs, that
// a reply is well formed for its request, and that a registration ends
// with its connection. The seeds are the requests of the unit tests.
func FuzzServeRequest(f *testing.F) {
	valid := nodeInfo{Port: 5, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "m"}
	for _, seed := range [][]byte{
		encodeAlive2Request(valid),
		encodeAlive2Request(nodeInfo{Port: 5, NodeType: 77, HighestVersion: 5, LowestVersion: 5, Name: "old"}),
		encodePortPlease2Request("m"),
		encodePortPlease2Request(""),
		encodeSimpleRequest(codeNames),
		encodeSimpleRequest(codeKill),
		{0, 0},
		{0},
		{0, 5, 110},
		{0, 1, 99},
		{0, 4, 120, 0, 5, 77},
		{0, 11, 120, 0, 5, 77, 0, 0, 6, 0, 6, 0, 9},
		appendRequest(nil, append(valid.appendFields([]byte{codeAlive2Req}), 1)),
		encodeAlive2Request(nodeInfo{Port: 5}),
		encodeAlive2Request(nodeInfo{Port: 5, Name: "m@vm"}),
		{0xff, 0xff},
		nil,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := &Server{RequestTimeout: 50 * time.Millisecond}
		s.init()
		client, server := net.Pipe()
		s.startConn(server)

		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			// Bytes past the request are never read, so the write
			// ends at its deadline.
			client.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			client.Write(in)
		}()
		// A registration holds its connection open, so the read ends at
		// its deadline after the reply.
		client.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		reply, err := io.ReadAll(client)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read reply: %v", err)
		}
		client.Close()
		<-wrote

		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatalf("Server.Close hung after request %v", in)
		}
		if n := len(s.names()); n != 0 {
			t.Errorf("%d names registered after the connection closed, want 0", n)
		}
		if len(reply) > 0 {
			checkReply(t, in, reply)
		}
	})
}

// checkReply checks that reply is a well-formed reply to the request
// that in starts with.
func checkReply(t *testing.T, in, reply []byte) {
	t.Helper()
	if len(in) < 3 {
		t.Fatalf("reply %v to the incomplete request %v", reply, in)
	}
	switch in[2] {
	case codeAlive2Req:
		if _, err := parseAlive2Response(reply); err != nil {
			t.Errorf("ALIVE2 reply %v: %v", reply, err)
		}
	case codePortPlease2:
		if _, _, err := parsePort2Response(reply); err != nil {
			t.Errorf("PORT2 reply %v: %v", reply, err)
		}
	case codeNames:
		if _, _, err := parseNamesResponse(reply); err != nil {
			t.Errorf("NAMES reply %v: %v", reply, err)
		}
	case codeKill:
		if !bytes.Equal(reply, []byte("OK")) && !bytes.Equal(reply, []byte("NO")) {
			t.Errorf("KILL reply = %q, want OK or NO", reply)
		}
	default:
		t.Errorf("reply %v to request code %d, want none", reply, in[2])
	}
}
