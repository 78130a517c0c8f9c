//go:build unix

package rawio

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

func TestReaderReadsUntilEOF(t *testing.T) {
	for _, budget := range []time.Duration{0, 50 * time.Microsecond} {
		client, server := loopbackPair(t)
		r := NewReader(server, budget)
		if _, ok := r.(*Reader); !ok {
			t.Fatalf("NewReader of a TCP connection = %T, want *Reader", r)
		}
		go func() {
			client.Write([]byte("hello, "))
			time.Sleep(10 * time.Millisecond) // past any poll: the reader waits in the poller
			client.Write([]byte("world"))
			client.Close()
		}()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("budget %v: ReadAll: %v", budget, err)
		}
		if string(got) != "hello, world" {
			t.Errorf("budget %v: read %q, want %q", budget, got, "hello, world")
		}
	}
}

func TestReaderHonorsDeadline(t *testing.T) {
	_, server := loopbackPair(t)
	r := NewReader(server, 50*time.Microsecond)
	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	start := time.Now()
	_, err := r.Read(make([]byte, 16))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read past the deadline: error = %v, want os.ErrDeadlineExceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Read returned %v after a 20ms deadline", elapsed)
	}
}

func TestReaderWakesOnClose(t *testing.T) {
	_, server := loopbackPair(t)
	r := NewReader(server, 50*time.Microsecond)
	done := make(chan error, 1)
	go func() {
		_, err := r.Read(make([]byte, 16))
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	server.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: error = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read still blocked 5s after Close")
	}
}

func TestReaderOfPipeIsConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if r := NewReader(a, time.Millisecond); r != io.Reader(a) {
		t.Errorf("NewReader of a net.Pipe = %T, want the pipe itself", r)
	}
}

func TestWriterTryWrite(t *testing.T) {
	client, server := loopbackPair(t)
	w := NewWriter(client)
	if w == nil {
		t.Fatal("NewWriter of a TCP connection = nil")
	}
	n, err := w.TryWrite([]byte("ping"))
	if err != nil || n != 4 {
		t.Fatalf("TryWrite = %d, %v; want 4, nil", n, err)
	}
	if n, err := w.TryWrite(nil); err != nil || n != 0 {
		t.Errorf("TryWrite(nil) = %d, %v; want 0, nil", n, err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(server, buf); err != nil || string(buf) != "ping" {
		t.Errorf("peer read %q, %v; want \"ping\"", buf, err)
	}
}

func TestWriterFullBuffer(t *testing.T) {
	client, _ := loopbackPair(t)
	w := NewWriter(client)
	chunk := make([]byte, 1<<20)
	// The peer never reads, so the send and receive buffers fill, and
	// then TryWrite takes nothing instead of waiting.
	for i := range 1024 {
		n, err := w.TryWrite(chunk)
		if err != nil {
			t.Fatalf("TryWrite %d: %v", i, err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("TryWrite took 1 GiB that nobody read")
}
