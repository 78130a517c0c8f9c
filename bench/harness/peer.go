package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

// driverWait bounds every wait of a driver, as in the Erlang drivers.
const driverWait = 120 * time.Second

// Mailbox names of the drivers, the same as in the Erlang drivers.
const (
	echoName  = "echo"
	sinkName  = "sink"
	benchName = "bench"
)

// out serializes the drivers' output lines; see bench/erlang for the
// line protocol.
var outMu sync.Mutex

func out(format string, args ...any) {
	outMu.Lock()
	defer outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// runPeer runs a gonode load driver: a library node in its own process,
// on the real transport. It returns the exit status.
func runPeer(args []string) int {
	// The driver is a gonode node, so it runs as the gonode command does.
	node.LimitProcs()
	fs := flag.NewFlagSet("peer", flag.ContinueOnError)
	name := fs.String("name", "", "full node `NAME@HOST` of the driver")
	cookie := fs.String("cookie", "", "the `COOKIE`")
	noEncrypt := fs.Bool("no-encrypt", false, "send frames to peers in clear, as gonode --dist-encrypt=false")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 || *name == "" || *cookie == "" {
		fmt.Fprintln(os.Stderr, "usage: harness peer --name NAME@HOST --cookie C [--no-encrypt] COMMAND ARG...")
		return 2
	}
	for _, rec := range recorders {
		prefix := os.Getenv(rec.env)
		if prefix == "" {
			continue
		}
		stop, err := startRecorder(rec, prefix+"."+fs.Arg(0)+rec.suffix)
		if err != nil {
			out("error %v", err)
			return 1
		}
		defer stop()
	}
	// SIGTERM from the unit ends the driver through ctx, so that deferred
	// work such as the CPU profile is done.
	// SIGTERM stays caught until the process exits.
	ctx, cancel := context.WithTimeout(context.Background(), 3*driverWait)
	defer cancel()
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		<-terms
		cancel()
	}()
	d := &driver{name: *name, cookie: node.NewCookie(*cookie), noEncrypt: *noEncrypt}
	if err := d.run(ctx, fs.Args()); err != nil {
		out("error %v", err)
		return 1
	}
	return 0
}

// recorder is a profile that a driver writes while it runs, when the
// environment variable env names a path prefix.
type recorder struct {
	env    string
	suffix string
	what   string
	start  func(io.Writer) error
	stop   func()
}

// recorders are the CPU profile, for "go tool pprof", and the execution
// trace, for "go tool trace".
var recorders = []recorder{
	{"GONODE_BENCH_CPUPROFILE", ".pprof", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile},
	{"GONODE_BENCH_TRACE", ".trace", "execution trace", trace.Start, trace.Stop},
}

// startRecorder writes rec to path until the returned function is
// called.
func startRecorder(rec recorder, path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", rec.what, err)
	}
	if err := rec.start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", rec.what, err)
	}
	return func() {
		rec.stop()
		f.Close()
	}, nil
}

type driver struct {
	name      string
	cookie    node.Cookie
	noEncrypt bool
}

func (d *driver) start(ctx context.Context, name string, mailboxLimit int) (*node.Node, error) {
	return node.Start(ctx, node.Config{Name: name, Cookie: d.cookie, MailboxLimit: mailboxLimit, NoEncrypt: d.noEncrypt})
}

func (d *driver) run(ctx context.Context, args []string) error {
	cmd, rest := args[0], args[1:]
	want := map[string]int{
		"ping": 2, "echo-server": 0, "echo": 2, "sink": 2, "send": 3,
		"connect": 2, "watch": 1, "ping-until": 1,
	}
	n, ok := want[cmd]
	if !ok {
		return fmt.Errorf("unknown driver command %q", cmd)
	}
	if len(rest) != n {
		return fmt.Errorf("%s takes %d arguments, got %d", cmd, n, len(rest))
	}
	if cmd == "connect" {
		count, err := strconv.Atoi(rest[1])
		if err != nil {
			return err
		}
		return d.connect(ctx, rest[0], count)
	}
	limit := 0
	if cmd == "sink" {
		// The sink must hold a whole burst, which arrives faster than
		// one goroutine takes it out.
		count, err := strconv.Atoi(rest[0])
		if err != nil {
			return err
		}
		limit = count + 1000
	}
	nd, err := d.start(ctx, d.name, limit)
	if err != nil {
		return err
	}
	defer nd.Close()
	switch cmd {
	case "ping":
		return pingDriver(ctx, nd, rest[0], rest[1])
	case "echo-server":
		return echoServer(ctx, nd)
	case "echo":
		return echoDriver(ctx, nd, rest[0], rest[1])
	case "sink":
		return sinkDriver(ctx, nd, rest[0], rest[1])
	case "send":
		return sendDriver(ctx, nd, rest[0], rest[1], rest[2])
	case "watch":
		return watchDriver(ctx, nd, rest[0])
	default: // "ping-until"
		return pingUntil(ctx, nd, rest[0])
	}
}

func pingDriver(ctx context.Context, nd *node.Node, target, countArg string) error {
	count, err := strconv.Atoi(countArg)
	if err != nil {
		return err
	}
	for range 100 {
		if _, err := nd.Ping(ctx, target); err != nil {
			return err
		}
	}
	out("ready")
	samples := make([]time.Duration, count)
	for i := range samples {
		start := time.Now()
		if _, err := nd.Ping(ctx, target); err != nil {
			return err
		}
		samples[i] = time.Since(start)
	}
	printLatency("ping", samples)
	return nil
}

func echoServer(ctx context.Context, nd *node.Node) error {
	mb := nd.Register(echoName)
	out("ready")
	for {
		msg, err := mb.Receive(ctx)
		if err != nil {
			return nil // the harness ends the server
		}
		t, ok := msg.(term.Tuple)
		if !ok || len(t) != 3 {
			return fmt.Errorf("echo server: unexpected message %s", term.Inspect(msg))
		}
		replyNode, okNode := t[0].(term.Atom)
		replyName, okName := t[1].(term.Atom)
		if !okNode || !okName {
			return fmt.Errorf("echo server: unexpected message %s", term.Inspect(msg))
		}
		if err := nd.Send(ctx, string(replyName), string(replyNode), msg); err != nil {
			return err
		}
	}
}

// echoMessage is the echo request: the reply address and a counter.
func echoMessage(self string, i int) term.Tuple {
	return term.Tuple{term.Atom(self), term.Atom(benchName), int64(i)}
}

func echoDriver(ctx context.Context, nd *node.Node, target, countArg string) error {
	count, err := strconv.Atoi(countArg)
	if err != nil {
		return err
	}
	mb := nd.Register(benchName)
	wait, cancel := context.WithTimeout(ctx, driverWait)
	defer cancel()
	roundTrip := func(i int) error {
		if err := nd.Send(wait, echoName, target, echoMessage(nd.Name(), i)); err != nil {
			return err
		}
		msg, err := mb.Receive(wait)
		if err != nil {
			return fmt.Errorf("echo %d: %w", i, err)
		}
		if t, ok := msg.(term.Tuple); !ok || len(t) != 3 || t[2] != int64(i) {
			return fmt.Errorf("echo %d: unexpected reply %s", i, term.Inspect(msg))
		}
		return nil
	}
	for i := range 100 {
		if err := roundTrip(i); err != nil {
			return err
		}
	}
	size, err := frameSize(echoName, nd.Name(), echoMessage(nd.Name(), 100_000))
	if err != nil {
		return err
	}
	out("result message_bytes %d", size)
	out("ready")
	samples := make([]time.Duration, count)
	for i := range samples {
		start := time.Now()
		if err := roundTrip(i); err != nil {
			return err
		}
		samples[i] = time.Since(start)
	}
	printLatency("echo", samples)
	return nil
}

// frameSize returns the bytes that one message takes on the wire, frame
// header included.
func frameSize(to, from string, msg any) (int, error) {
	payload, err := term.Marshal(msg)
	if err != nil {
		return 0, err
	}
	frame, err := transport.AppendFrame(nil, &transport.Frame{Type: transport.FrameMessage, To: to, From: from, Payload: payload}, 0)
	return len(frame), err
}

// streamMessage is the one-way message: an atom and an integer.
func streamMessage(i int) term.Tuple { return term.Tuple{term.Atom("msg"), int64(i)} }

func sinkDriver(ctx context.Context, nd *node.Node, countArg, notify string) error {
	count, err := strconv.Atoi(countArg)
	if err != nil {
		return err
	}
	mb := nd.Register(sinkName)
	out("ready")
	// One deadline for the whole stream: a context per message would
	// cost as much as the rest of the loop.
	wait, cancel := context.WithTimeout(ctx, driverWait)
	defer cancel()
	for i := 0; i < count; {
		msg, err := mb.Receive(wait)
		if err != nil {
			return fmt.Errorf("sink stalled after %d of %d messages (%d dropped): %w", i, count, mb.Dropped(), err)
		}
		if t, ok := msg.(term.Tuple); ok && len(t) == 2 && t[0] == term.Atom("msg") {
			i++
		}
	}
	if err := nd.Send(ctx, benchName, notify, term.Tuple{term.Atom("done"), int64(count)}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

func sendDriver(ctx context.Context, nd *node.Node, target, countArg, sendersArg string) error {
	count, err := strconv.Atoi(countArg)
	if err != nil {
		return err
	}
	senders, err := strconv.Atoi(sendersArg)
	if err != nil || senders < 1 {
		return fmt.Errorf("invalid sender count %q", sendersArg)
	}
	mb := nd.Register(benchName)
	if !nd.Connect(ctx, target) {
		return fmt.Errorf("cannot connect to %s", target)
	}
	size, err := frameSize(sinkName, nd.Name(), streamMessage(count))
	if err != nil {
		return err
	}
	out("result message_bytes %d", size)
	out("ready")
	start := time.Now()
	errs := make(chan error, senders)
	for s := range senders {
		share := count/senders + boolInt(s < count%senders)
		go func() {
			for i := range share {
				if err := nd.Send(ctx, sinkName, target, streamMessage(i)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			return err
		}
	}
	wait, cancel := context.WithTimeout(ctx, driverWait)
	defer cancel()
	msg, err := mb.Receive(wait)
	if err != nil {
		return fmt.Errorf("no confirmation from the sink: %w", err)
	}
	elapsed := time.Since(start)
	if t, ok := msg.(term.Tuple); !ok || len(t) != 2 || t[1] != int64(count) {
		return fmt.Errorf("unexpected confirmation %s", term.Inspect(msg))
	}
	out("result msgs_per_s %.1f", float64(count)/elapsed.Seconds())
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func watchDriver(ctx context.Context, nd *node.Node, target string) error {
	events := nd.Watch()
	if err := nd.ConnectError(ctx, target); err != nil {
		return err
	}
	out("ready")
	wait, cancel := context.WithTimeout(ctx, 2*driverWait)
	defer cancel()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return errors.New("node closed before the nodedown")
			}
			if ev.Kind == node.NodeDown && ev.Node == target {
				out("event nodedown %s", ev.Reason)
				return nil
			}
		case <-wait.Done():
			return fmt.Errorf("no nodedown of %s: %w", target, wait.Err())
		}
	}
}

func pingUntil(ctx context.Context, nd *node.Node, target string) error {
	out("ready")
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := nd.Ping(ctx, target); err == nil {
			out("event pong")
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not answer a ping within 30s", target)
}

// connect starts count fresh nodes one after the other and times
// Connect from each to target; it prints the median.
func (d *driver) connect(ctx context.Context, target string, count int) error {
	_, host := node.SplitName(d.name)
	out("ready")
	samples := make([]time.Duration, 0, count)
	for i := range count {
		nd, err := d.start(ctx, fmt.Sprintf("conn%d@%s", i+1, host), 0)
		if err != nil {
			return err
		}
		start := time.Now()
		err = nd.ConnectError(ctx, target)
		elapsed := time.Since(start)
		nd.Close()
		if err != nil {
			return err
		}
		samples = append(samples, elapsed)
	}
	slices.Sort(samples)
	out("result connect_us %.3f", micros(percentile(samples, 50)))
	return nil
}

// printLatency prints the average, median and 99th percentile in
// microseconds.
func printLatency(key string, samples []time.Duration) {
	var sum time.Duration
	for _, s := range samples {
		sum += s
	}
	slices.Sort(samples)
	out("result %s_avg_us %.3f", key, micros(sum)/float64(len(samples)))
	out("result %s_p50_us %.3f", key, micros(percentile(samples, 50)))
	out("result %s_p99_us %.3f", key, micros(percentile(samples, 99)))
}

// percentile returns the nearest-rank percentile p of sorted samples.
func percentile[T any](sorted []T, p int) T {
	rank := max(1, (p*len(sorted)+99)/100)
	return sorted[rank-1]
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
