package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/gonode/gonode/transport/rawio"
)

// runTCP runs one side of the plain-TCP limit: two minimal Go processes
// on a loopback socket, with nothing of gonode between them.
//
//	tcp echo-server SIZE          writes every SIZE-byte record back
//	tcp ping PORT SIZE COUNT      COUNT round trips of one record
//	tcp sink SIZE COUNT           reads COUNT records, then writes one byte
//	tcp stream PORT SIZE COUNT    writes COUNT records, timed until that byte
func runTCP(args []string) int {
	if err := tcpCommand(args); err != nil {
		out("error %v", err)
		return 1
	}
	return 0
}

func tcpCommand(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: harness tcp echo-server|ping|sink|stream ARG...")
	}
	nums := make([]int, len(args)-1)
	for i, a := range args[1:] {
		v, err := strconv.Atoi(a)
		if err != nil || v < 1 {
			return fmt.Errorf("invalid argument %q: want a positive integer", a)
		}
		nums[i] = v
	}
	switch {
	case args[0] == "echo-server" && len(nums) == 1:
		return tcpServe(func(c net.Conn) error { return tcpEcho(c, nums[0]) })
	case args[0] == "sink" && len(nums) == 2:
		return tcpServe(func(c net.Conn) error { return tcpSink(c, nums[0], nums[1]) })
	case args[0] == "ping" && len(nums) == 3:
		return tcpPing(nums[0], nums[1], nums[2])
	case args[0] == "stream" && len(nums) == 3:
		return tcpStream(nums[0], nums[1], nums[2])
	}
	return fmt.Errorf("invalid tcp command %q", args)
}

// tcpServe listens on a free loopback port, prints "ready PORT", and
// serves one connection.
func tcpServe(serve func(net.Conn) error) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	out("ready %d", l.Addr().(*net.TCPAddr).Port)
	l.(*net.TCPListener).SetDeadline(time.Now().Add(driverWait))
	c, err := l.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * driverWait))
	return serve(c)
}

// tcpPollEnv names an environment variable that, set to a duration such
// as 50us, makes the ping and echo sides do their I/O as gonode's
// connections do: raw writes, and reads that poll for that long before
// they sleep. It lets one compare gonode with a TCP limit that polls too;
// bench/run does not set it.
const tcpPollEnv = "GONODE_BENCH_TCP_POLL"

// tcpIO returns c's reader and writer: c itself, or the raw ones of
// package rawio when tcpPollEnv is set.
func tcpIO(c net.Conn) (io.Reader, io.Writer, error) {
	v := os.Getenv(tcpPollEnv)
	if v == "" {
		return c, c, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid %s %q: want a duration such as 50us", tcpPollEnv, v)
	}
	w := rawio.NewWriter(c)
	if w == nil {
		return nil, nil, fmt.Errorf("%s: %T is not a socket", tcpPollEnv, c)
	}
	return rawio.NewReader(c, d), rawWriter{w, c}, nil
}

// rawWriter writes with rawio.Writer.TryWrite and, when the socket takes
// only part of it, writes the rest through the net.Conn, which waits.
type rawWriter struct {
	w *rawio.Writer
	c net.Conn
}

func (rw rawWriter) Write(b []byte) (int, error) {
	n, err := rw.w.TryWrite(b)
	if err != nil || n == len(b) {
		return n, err
	}
	m, err := rw.c.Write(b[n:])
	return n + m, err
}

func tcpEcho(c net.Conn, size int) error {
	r, w, err := tcpIO(c)
	if err != nil {
		return err
	}
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
}

func tcpSink(c net.Conn, size, count int) error {
	r := bufio.NewReaderSize(c, 64<<10)
	remaining := int64(size) * int64(count)
	if _, err := io.CopyN(io.Discard, r, remaining); err != nil {
		return fmt.Errorf("read %d records: %w", count, err)
	}
	_, err := c.Write([]byte{1})
	return err
}

func dialLoopback(port int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(3 * driverWait))
	return c, nil
}

func tcpPing(port, size, count int) error {
	c, err := dialLoopback(port)
	if err != nil {
		return err
	}
	defer c.Close()
	r, w, err := tcpIO(c)
	if err != nil {
		return err
	}
	buf := make([]byte, size)
	roundTrip := func() error {
		if _, err := w.Write(buf); err != nil {
			return err
		}
		_, err := io.ReadFull(r, buf)
		return err
	}
	for range 100 {
		if err := roundTrip(); err != nil {
			return err
		}
	}
	out("ready")
	samples := make([]time.Duration, count)
	for i := range samples {
		start := time.Now()
		if err := roundTrip(); err != nil {
			return err
		}
		samples[i] = time.Since(start)
	}
	printLatency("ping", samples)
	return nil
}

func tcpStream(port, size, count int) error {
	c, err := dialLoopback(port)
	if err != nil {
		return err
	}
	defer c.Close()
	record := make([]byte, size)
	w := bufio.NewWriterSize(c, 64<<10)
	out("ready")
	start := time.Now()
	for range count {
		if _, err := w.Write(record); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	ack := make([]byte, 1)
	if _, err := io.ReadFull(c, ack); err != nil {
		return fmt.Errorf("no confirmation from the sink: %w", err)
	}
	out("result msgs_per_s %.1f", float64(count)/time.Since(start).Seconds())
	return nil
}

// runSpin keeps one core busy at the lowest priority, so that a round
// trip does not wait for an idle core to wake up. It stops after ten
// minutes in case nobody ends it.
func runSpin() int {
	syscall.Setpriority(syscall.PRIO_PROCESS, 0, 19)
	runtime.GOMAXPROCS(1)
	out("ready")
	deadline := time.Now().Add(10 * time.Minute)
	for x := uint64(1); ; x = x*6364136223846793005 + 1 {
		if x&0xfffff == 0 && time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "spin: stopped after 10 minutes")
			return 0
		}
	}
}
