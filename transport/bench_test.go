package transport

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// smallMessage is a message of the size the shell sends: a short name and
// a msgpack tuple of a few bytes.
var smallMessage = Frame{Type: FrameMessage, To: "shell", From: "a@vm", Payload: []byte{0xd6, 0x02, 0x92, 0xa2, 'h', 'i', 0x01}}

func BenchmarkAppendFrame(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendFrame(buf[:0], &smallMessage, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

// loopReader replays one buffer forever.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.data[r.off:])
	r.off = (r.off + n) % len(r.data)
	return n, nil
}

func BenchmarkReadFrame(b *testing.B) {
	one := mustAppend(b, &smallMessage)
	fr := NewFrameReader(&loopReader{data: bytes.Repeat(one, 1000)}, 0)
	var f Frame
	b.ReportAllocs()
	b.SetBytes(int64(len(one)))
	for b.Loop() {
		if err := fr.ReadFrame(&f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	body := mustAppend(b, &smallMessage)[frameHeaderSize:]
	var f Frame
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeFrame(body, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandshake runs complete handshakes over in-memory pipes, so it
// measures the CPU and allocations of both sides, without TCP.
func BenchmarkHandshake(b *testing.B) {
	clientCfg, err := testConfig("a@vm", "genki").withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	serverCfg, err := testConfig("b@vm", "genki").withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		cn, sn := net.Pipe()
		errc := make(chan error, 1)
		go func() {
			_, err := serverHandshake(context.Background(), sn, serverCfg, nil, time.Now().Add(time.Minute))
			errc <- err
		}()
		if _, err := clientHandshake(context.Background(), cn, clientCfg, "b@vm", time.Now().Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		cn.Close()
		sn.Close()
	}
}

// BenchmarkConnSend sends small messages from one Conn to another over
// loopback TCP, with frame encryption on and off, and reports messages
// per second, received.
func BenchmarkConnSend(b *testing.B) {
	b.Run("encrypted", func(b *testing.B) { benchmarkConnSend(b, false) })
	b.Run("plain", func(b *testing.B) { benchmarkConnSend(b, true) })
}

func benchmarkConnSend(b *testing.B, noEncrypt bool) {
	clientCfg, serverCfg := testConfig("a@vm", "genki"), testConfig("b@vm", "genki")
	clientCfg.NoEncrypt, serverCfg.NoEncrypt = noEncrypt, noEncrypt
	client, server := connPair(b, clientCfg, serverCfg)
	var received, target atomic.Int64
	all := make(chan struct{})
	server.Start(HandlerFuncs{Message: func(to, from string, payload []byte) {
		if received.Add(1) == target.Load() {
			close(all)
		}
	}})
	client.Start(nil)

	b.ReportAllocs()
	b.ResetTimer()
	target.Store(int64(b.N))
	start := time.Now()
	for range b.N {
		if err := client.Send(smallMessage.To, smallMessage.From, smallMessage.Payload); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-all:
	case <-time.After(time.Minute):
		b.Fatalf("received %d of %d messages within a minute", received.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkConnPing measures Conn.Ping round trips over loopback TCP, one
// in flight, with frame encryption on. A pong is written by the peer's
// reader goroutine and a ping by the caller, so the figure shows what the
// write path costs when no writer goroutine has to wake up.
func BenchmarkConnPing(b *testing.B) {
	client, server := connPair(b, testConfig("a@vm", "genki"), testConfig("b@vm", "genki"))
	server.Start(nil)
	client.Start(nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.Ping(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
