//go:build unix

package transport

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// loopbackPair returns both ends of a TCP connection on loopback.
func loopbackPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestRawReaderReadsUntilEOF(t *testing.T) {
	client, server := loopbackPair(t)
	r := newRawReader(server)
	if _, ok := r.(*rawReader); !ok {
		t.Fatalf("newRawReader of a TCP connection = %T, want *rawReader", r)
	}
	go func() {
		client.Write([]byte("hello, "))
		time.Sleep(10 * time.Millisecond) // the reader waits in the poller
		client.Write([]byte("world"))
		client.Close()
	}()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if string(got) != "hello, world" {
		t.Errorf("read %q, want %q", got, "hello, world")
	}
}

func TestRawReaderHonorsDeadline(t *testing.T) {
	_, server := loopbackPair(t)
	r := newRawReader(server)
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := r.Read(make([]byte, 16))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline: error = %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestRawReaderOfPipeIsConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if r := newRawReader(a); r != io.Reader(a) {
		t.Errorf("newRawReader of a net.Pipe = %T, want the pipe itself", r)
	}
}

func TestRawWriterWritesAll(t *testing.T) {
	client, server := loopbackPair(t)
	w := newRawWriter(client)
	if w == nil {
		t.Fatal("newRawWriter of a TCP connection = nil")
	}
	n, err := w.tryWrite([]byte("ping"))
	if err != nil || n != 4 {
		t.Fatalf("tryWrite = %d, %v; want 4, nil", n, err)
	}
	if n, err := w.tryWrite(nil); err != nil || n != 0 {
		t.Errorf("tryWrite(nil) = %d, %v; want 0, nil", n, err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Errorf("peer read %q, %v; want \"ping\"", buf, err)
	}
}
