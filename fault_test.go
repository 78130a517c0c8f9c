package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gonode/gonode/discovery"
)

// The tests in this file kill, freeze, restart and flood nodes on
// purpose, and check that the other nodes notice in time and lose
// nothing. Each prints what it measured with t.Logf (go test -v).

// connectedPair starts a and b without discovery, with extra flags, and
// connects a to b.
func connectedPair(t *testing.T, l *lab, extra ...string) (a, b *proc) {
	t.Helper()
	args := append([]string{"--discovery", "none"}, extra...)
	a = l.node("a", args...)
	b = l.node("b", args...)
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("b"))); got != "true" {
		t.Fatalf("Node.connect(b) = %s, want true", got)
	}
	return a, b
}

// timeUntilGone polls Node.list on p until it lacks node, and returns how
// long that took since start.
func timeUntilGone(t *testing.T, p *proc, node string, start time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	got, ok := p.listUntil(func(s string) bool { return !strings.Contains(s, node) }, timeout)
	if !ok {
		t.Fatalf("Node.list on %s = %s %v after the fault, want %s gone", p.name, got, timeout, node)
	}
	return time.Since(start)
}

func TestFaultKilledPeerNoticedAtOnce(t *testing.T) {
	l := newLab(t)
	a, b := connectedPair(t, l)
	start := time.Now()
	b.kill(syscall.SIGKILL)
	took := timeUntilGone(t, a, l.atom("b"), start, 5*time.Second)
	t.Logf("SIGKILL: a dropped b after %v", took.Round(time.Millisecond))
	// The reason, not the time, shows that the closed socket was noticed
	// and not the silence: the time is the benchmark's to measure.
	a.waitStderr("connection_closed", time.Second)
	if strings.Contains(a.stderr.String(), "net_tick_timeout") {
		t.Errorf("a dropped the killed b on a tick timeout, want connection_closed:\n%s", a.stderr.String())
	}
}

// tickTimeCases are the tick times under which a silent peer is tested,
// each with the longest time to nodedown that passes.
var tickTimeCases = []struct {
	name  string
	extra []string
	max   time.Duration // tick time plus half a tick interval, plus 2 s of slack for a loaded machine
}{
	{"default tick time", nil, 6500 * time.Millisecond},
	// Under the default tick time of 4 s, so a pass shows the flag works.
	{"tick time 1s", []string{"--net-ticktime", "1"}, 3125 * time.Millisecond},
}

func TestFaultFrozenPeerTimesOut(t *testing.T) {
	for _, tt := range tickTimeCases {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			a, b := connectedPair(t, l, tt.extra...)
			start := time.Now()
			b.cmd.Process.Signal(syscall.SIGSTOP)
			defer b.cmd.Process.Signal(syscall.SIGCONT)
			took := timeUntilGone(t, a, l.atom("b"), start, 10*time.Second)
			t.Logf("SIGSTOP, %s: a dropped b after %v", tt.name, took.Round(time.Millisecond))
			if took > tt.max {
				t.Errorf("a dropped the frozen b after %v, want at most %v", took, tt.max)
			}
			a.waitStderr("net_tick_timeout", time.Second)
		})
	}
}

func TestFaultDisconnectReason(t *testing.T) {
	l := newLab(t)
	a, b := connectedPair(t, l)
	if got := a.eval(fmt.Sprintf("Node.disconnect(%s)", l.atom("b"))); got != "true" {
		t.Fatalf("Node.disconnect(b) = %s, want true", got)
	}
	timeUntilGone(t, b, l.atom("a"), time.Now(), time.Second)
	b.waitStderr("reason=disconnect", time.Second)
}

func TestFaultRestartAtNewPort(t *testing.T) {
	l := newLab(t)
	// A long tick time, so that only the restart can replace the
	// connection to the frozen first run within the test.
	a := l.node("a", "--net-ticktime", "60")
	b := l.node("b", "--net-ticktime", "60")
	if _, ok := a.listUntil(containsAll(l.atom("b")), 5*time.Second); !ok {
		t.Fatal("a never listed b")
	}

	// The first run of b freezes with its connection to a open, and keeps
	// its name in the port mapper, so the second run registers with a
	// port mapper of its own and finds a by gossip.
	b.cmd.Process.Signal(syscall.SIGSTOP)
	t.Setenv("GONODE_EPMD_PORT", "4370")
	restarted := time.Now()
	b2 := l.node("b", "--net-ticktime", "60")
	if _, ok := b2.listUntil(containsAll(l.atom("a")), 5*time.Second); !ok {
		t.Fatalf("the restarted b never listed a; a's log:\n%s", a.stderr.String())
	}
	a.waitStderr("which restarted", 2*time.Second)
	t.Logf("a accepted the restarted b %v after it started", time.Since(restarted).Round(time.Millisecond))

	// a lists b once and does not flip back to the frozen run.
	want := "[" + l.atom("b") + "]"
	for range 10 {
		if got := a.eval("Node.list"); got != want {
			t.Fatalf("Node.list on a = %s, want %s", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := a.eval(fmt.Sprintf(`send({:shell, %s}, :to_the_new_run)`, l.atom("b"))); got != ":to_the_new_run" {
		t.Fatalf("send printed %q", got)
	}
	if got := flushAll(t, b2, 1, 5*time.Second); len(got) != 1 || got[0] != ":to_the_new_run" {
		t.Errorf("flush() on the restarted b = %q, want [:to_the_new_run]", got)
	}
	if n := strings.Count(a.stderr.String(), "connected to "+l.atom("b")); n != 2 {
		t.Errorf("a logged %d connections to b, want 2 (the first run, then the restart):\n%s", n, a.stderr.String())
	}
}

// flushAll runs flush() on p until it has printed want messages or the
// timeout passes, and returns the messages.
func flushAll(t *testing.T, p *proc, want int, timeout time.Duration) []string {
	t.Helper()
	var got []string
	deadline := time.Now().Add(timeout)
	for len(got) < want && time.Now().Before(deadline) {
		line := p.eval("flush()")
		for line != ":ok" {
			got = append(got, line)
			line = p.next(5 * time.Second)
		}
		if len(got) < want {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return got
}

// inNetns runs fn on an OS thread that has joined the network namespace
// of l, so that the sockets fn opens are inside it, and then moves the
// thread back. The thread may be the process's main thread, whose
// namespace the lab's cleanup reads to find the processes to kill, so it
// must not stay in l's namespace.
func inNetns(l *lab, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open(l.ns.Path())
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("join the namespace %s: %w", l.ns.Path(), err)
			return
		}
		err = fn()
		if backErr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); backErr != nil {
			// The thread stays locked, so it ends with this goroutine.
			errc <- fmt.Errorf("leave the namespace %s: %w", l.ns.Path(), backErr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

var listenPort = regexp.MustCompile(`listening on TCP port (\d+)`)

// transportPort returns the TCP port p's banner names.
func transportPort(t *testing.T, p *proc) int {
	t.Helper()
	m := listenPort.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("gonode %s printed no port:\n%s", p.name, p.stderr.String())
	}
	port, _ := strconv.Atoi(m[1])
	return port
}

// residentKiB returns the resident set size of p in KiB.
func residentKiB(t *testing.T, p *proc) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return kib
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", p.cmd.Process.Pid)
	return 0
}

// flood opens garbage TCP connections to the transport port and sends
// forged and garbage heartbeats to the gossip group, from inside l's
// namespace, until stop is closed or the bounds run out.
type flood struct {
	conns      atomic.Int64 // garbage connections opened
	heartbeats atomic.Int64 // bad heartbeats sent
}

// garbageFrames are what the garbage connections send: random bytes, a
// length header over every limit, a hello that is not msgpack, and
// nothing at all (an idle connection that the handshake timeout ends).
func garbageFrames() [][]byte {
	junk := make([]byte, 600)
	rand.Read(junk)
	huge := binary.BigEndian.AppendUint32(nil, 0xffffffff)
	notMsgpack := append(binary.BigEndian.AppendUint32(nil, 5), 0xc1, 0xc1, 0xc1, 0xc1, 0xc1)
	return [][]byte{junk, huge, notMsgpack, nil}
}

func (f *flood) run(t *testing.T, l *lab, port int, self string, stop <-chan struct{}) {
	const (
		maxConns      = 400
		maxHeartbeats = 20000
		openAtOnce    = 8
	)
	codec, err := discovery.NewHeartbeatCodec(nil)
	if err != nil {
		t.Error(err)
		return
	}
	var heartbeats [][]byte
	for i := range 10 {
		// Forged heartbeats of nodes that do not exist, and one that
		// claims a's own name at a port where nothing listens.
		hb, err := codec.Encode(discovery.Heartbeat{Name: fmt.Sprintf("forged%d@%s", i, l.host), Port: 1})
		if err != nil {
			t.Error(err)
			return
		}
		heartbeats = append(heartbeats, hb)
	}
	forgedSelf, err := codec.Encode(discovery.Heartbeat{Name: self, Port: 1})
	if err != nil {
		t.Error(err)
		return
	}
	heartbeats = append(heartbeats, forgedSelf, []byte("gnhb\x01\x00\xff\xff"), []byte("heartbeat::garbage"))

	garbage := garbageFrames()
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; time.Now().Before(deadline); round++ {
		select {
		case <-stop:
			return
		default:
		}
		var opened []net.Conn
		var udp net.Conn
		err := inNetns(l, func() error {
			if f.conns.Load() < maxConns {
				for range openAtOnce {
					c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
					if err != nil {
						return fmt.Errorf("garbage connection: %w", err)
					}
					opened = append(opened, c)
				}
			}
			var err error
			udp, err = net.Dial("udp4", net.JoinHostPort(discovery.DefaultGossipGroup.String(), strconv.Itoa(discovery.DefaultGossipPort)))
			return err
		})
		if err != nil {
			t.Errorf("flood: %v", err)
			return
		}
		for i, c := range opened {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write(garbage[i%len(garbage)])
			if i%len(garbage) != len(garbage)-1 {
				c.Close()
			} else {
				defer c.Close() // idle until the node's handshake timeout or the end
			}
		}
		for i := range 200 {
			if f.heartbeats.Load() >= maxHeartbeats {
				break
			}
			udp.Write(heartbeats[i%len(heartbeats)])
			f.heartbeats.Add(1)
		}
		udp.Close()
		f.conns.Add(int64(len(opened)))
		time.Sleep(50 * time.Millisecond)
	}
}

func TestFaultFloodLosesNoMessage(t *testing.T) {
	l := newLab(t)
	a := l.node("a")
	b := l.node("b")
	if _, ok := a.listUntil(containsAll(l.atom("b")), 5*time.Second); !ok {
		t.Fatal("a never listed b")
	}
	rssBefore := residentKiB(t, b)

	stop := make(chan struct{})
	var f flood
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f.run(t, l, transportPort(t, b), l.full("b"), stop)
	}()

	// The messages go out over about 3 s, while the flood runs.
	const n = 300
	for i := range n {
		time.Sleep(10 * time.Millisecond)
		msg := fmt.Sprintf("{:seq, %d}", i)
		if got := a.eval(fmt.Sprintf("send({:shell, %s}, %s)", l.atom("b"), msg)); got != msg {
			close(stop)
			wg.Wait()
			t.Fatalf("send %d printed %q, want %q", i, got, msg)
		}
	}
	got := flushAll(t, b, n, 10*time.Second)
	close(stop)
	wg.Wait()

	if len(got) != n {
		t.Fatalf("b received %d of %d messages", len(got), n)
	}
	for i, m := range got {
		if want := fmt.Sprintf("{:seq, %d}", i); m != want {
			t.Errorf("message %d = %s, want %s", i, m, want)
			break
		}
	}
	if list := a.eval("Node.list"); list != "["+l.atom("b")+"]" {
		t.Errorf("Node.list on a after the flood = %s, want [%s]", list, l.atom("b"))
	}
	rssAfter := residentKiB(t, b)
	conns, heartbeats := f.conns.Load(), f.heartbeats.Load()
	logLines := strings.Count(b.stderr.String(), "\n")
	t.Logf("flood: %d garbage connections and %d bad heartbeats; b's RSS %d KiB before, %d KiB after; b logged %d lines", conns, heartbeats, rssBefore, rssAfter, logLines)
	if rssAfter > rssBefore+64<<10 {
		t.Errorf("b's RSS grew from %d KiB to %d KiB during the flood", rssBefore, rssAfter)
	}
	if conns < 200 || heartbeats < 2000 {
		t.Errorf("the flood made %d connections and %d heartbeats while the messages went, want at least 200 and 2000", conns, heartbeats)
	}
}

func TestFaultCutLinkTimesOut(t *testing.T) {
	for _, tt := range tickTimeCases {
		t.Run(tt.name, func(t *testing.T) {
			hl := newHostLab(t, 2)
			args := append([]string{"--discovery", "none"}, tt.extra...)
			a := hl.startNode(1, "a@"+hl.addr(1), args...)
			hl.startNode(2, "b@"+hl.addr(2), args...)
			b := atomOf("b@" + hl.addr(2))
			if got := a.eval(fmt.Sprintf("Node.connect(%s)", b)); got != "true" {
				t.Fatalf("Node.connect(b) = %s, want true", got)
			}
			start := time.Now()
			hl.lab.Host(2).Cut(t)
			took := timeUntilGone(t, a, b, start, 10*time.Second)
			t.Logf("cut link, %s: a dropped b after %v", tt.name, took.Round(time.Millisecond))
			if took > tt.max {
				t.Errorf("a dropped the cut-off b after %v, want at most %v", took, tt.max)
			}
			a.waitStderr("net_tick_timeout", time.Second)
		})
	}
}

// SIGTERM ends a node whose shell waits in send for room in the queue to
// a frozen peer, instead of leaving it until the tick timeout.
func TestFaultSIGTERMDuringBlockedSend(t *testing.T) {
	l := newLab(t)
	a, b := connectedPair(t, l, "--net-ticktime", "60")
	b.cmd.Process.Signal(syscall.SIGSTOP)
	defer b.cmd.Process.Signal(syscall.SIGCONT)
	// 500 messages of 16 kB fill the socket buffers and the 1 MiB queue,
	// and the shell then waits in a send.
	line := fmt.Sprintf("send({:nobody, %s}, %q)\n", l.atom("b"), strings.Repeat("x", 16<<10))
	go func() {
		for range 500 {
			if _, err := a.stdin.Write([]byte(line)); err != nil {
				return
			}
		}
	}()
	time.Sleep(time.Second)
	start := time.Now()
	a.cmd.Process.Signal(syscall.SIGTERM)
	a.waitExit(10 * time.Second)
	took := time.Since(start)
	t.Logf("SIGTERM during a blocked send: a exited after %v", took.Round(time.Millisecond))
	// Close gives each peer up to a second; the rest is slack.
	if took > 4*time.Second {
		t.Errorf("a exited %v after SIGTERM, want within the 3 s close timeout and slack", took)
	}
	if !strings.Contains(a.stderr.String(), "send/2 interrupted") {
		t.Errorf("a's stderr does not show the interrupted send:\n%s", a.stderr.String())
	}
}
