package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gonode/gonode/node/nodetest"
)

// The tests in this file run the built gonode binary as separate
// processes, each test in a network namespace of its own.

var gonodeBin string

func TestMain(m *testing.M) {
	if !nodetest.Inside() {
		nodetest.Main(m)
	}
	dir, err := os.MkdirTemp("", "gonode-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gonodeBin = filepath.Join(dir, "gonode")
	build := exec.Command("go", "build", "-o", gonodeBin, ".")
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build gonode: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// host is the short host name that --sname appends.
func host(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ = strings.Cut(h, ".")
	return h
}

// lab is one test's namespace and home directory.
type lab struct {
	t    *testing.T
	ns   *nodetest.Netns
	home string
	host string
}

func newLab(t *testing.T) *lab {
	return &lab{t: t, ns: nodetest.NewNetns(t), home: t.TempDir(), host: host(t)}
}

// full returns the full name of short name local.
func (l *lab) full(local string) string { return local + "@" + l.host }

// atom returns the shell's form of node local: :"local@host".
func (l *lab) atom(local string) string { return `:"` + l.full(local) + `"` }

// proc is a gonode process whose standard input is a pipe the test writes
// commands to, as a user's script would.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // standard output, a line at a time
	stderr *syncBuffer
	done   chan struct{}
	err    error // set before done is closed
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// start runs gonode with args in the lab. The process is killed by PID
// when the test ends, if it is still running.
func (l *lab) start(args ...string) *proc {
	l.t.Helper()
	cmd := l.ns.Command(context.Background(), gonodeBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+l.home, "NO_COLOR=1")
	p := &proc{t: l.t, name: strings.Join(args, " "), cmd: cmd, lines: make(chan string, 1000), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	p.stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start gonode %s: %v", p.name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.err = cmd.Wait()
		close(p.lines)
		close(p.done)
	}()
	l.t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if l.t.Failed() {
			l.t.Logf("stderr of gonode %s:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("gonode %s did not exit within 10s of %v", p.name, sig)
	}
}

// waitExit waits for the process to end and returns its exit status.
func (p *proc) waitExit(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("gonode %s still running after %v", p.name, timeout)
	}
	if p.err == nil {
		return 0
	}
	if exit, ok := p.err.(*exec.ExitError); ok {
		return exit.ExitCode()
	}
	p.t.Fatalf("gonode %s: %v", p.name, p.err)
	return -1
}

// eval writes one command and returns the next line of output.
func (p *proc) eval(line string) string {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("write %q to gonode %s: %v\nstderr:\n%s", line, p.name, err, p.stderr.String())
	}
	return p.next(10 * time.Second)
}

// next returns the next line of output.
func (p *proc) next(timeout time.Duration) string {
	p.t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("gonode %s exited (%v); stderr:\n%s", p.name, p.err, p.stderr.String())
		}
		return line
	case <-time.After(timeout):
		p.t.Fatalf("gonode %s printed nothing within %v; stderr:\n%s", p.name, timeout, p.stderr.String())
	}
	return ""
}

// waitStderr waits until the process's standard error contains want.
func (p *proc) waitStderr(want string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			p.t.Fatalf("gonode %s: stderr lacks %q after %v:\n%s", p.name, want, timeout, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// node starts a gonode named local with the cookie genki that reads
// commands from a pipe, and waits until it listens.
func (l *lab) node(local string, extra ...string) *proc {
	l.t.Helper()
	args := append([]string{"--sname", local, "--cookie", "genki"}, extra...)
	p := l.start(args...)
	p.waitStderr("listening on", 10*time.Second)
	return p
}

// listUntil evaluates Node.list on p until the output satisfies ok or the
// timeout passes, and returns the last output.
func (p *proc) listUntil(ok func(string) bool, timeout time.Duration) (string, bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.eval("Node.list")
		if ok(got) {
			return got, true
		}
		if time.Now().After(deadline) {
			return got, false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func containsAll(subs ...string) func(string) bool {
	return func(s string) bool {
		for _, sub := range subs {
			if !strings.Contains(s, sub) {
				return false
			}
		}
		return true
	}
}

func TestGossipMeshOfThree(t *testing.T) {
	l := newLab(t)
	b := l.node("b")
	c := l.node("c")
	a := l.node("a")
	started := time.Now()
	for _, tc := range []struct {
		p    *proc
		want []string
	}{
		{a, []string{l.atom("b"), l.atom("c")}},
		{b, []string{l.atom("a"), l.atom("c")}},
		{c, []string{l.atom("a"), l.atom("b")}},
	} {
		left := 2*time.Second - time.Since(started)
		got, ok := tc.p.listUntil(containsAll(tc.want...), left)
		if !ok {
			t.Errorf("Node.list on %s = %s after 2s, want %v", tc.p.name, got, tc.want)
		}
	}
	if !strings.Contains(a.stderr.String(), "connected to") {
		t.Errorf("a logged no connection:\n%s", a.stderr.String())
	}
}

func TestDoneWhenScenario(t *testing.T) {
	l := newLab(t)
	b := l.start("--sname", "b", "--cookie", "genki")
	b.waitStderr("listening on", 10*time.Second)
	c := l.start("--sname", "c", "--cookie", "genki", "--no-shell")
	c.waitStderr("listening on", 10*time.Second)
	other := l.start("--sname", "x", "--cookie", "another", "--no-shell")
	other.waitStderr("listening on", 10*time.Second)

	a := l.start("--sname", "a", "--cookie", "genki")
	for _, line := range []string{
		"Process.sleep(1500)",
		"Node.list",
		fmt.Sprintf(`send({:shell, %s}, {:hi, "from a"})`, l.atom("b")),
	} {
		io.WriteString(a.stdin, line+"\n")
	}
	a.stdin.Close()
	if got := a.next(10 * time.Second); got != ":ok" {
		t.Errorf("Process.sleep(1500) printed %q, want :ok", got)
	}
	list := a.next(10 * time.Second)
	if !strings.Contains(list, l.atom("b")) || !strings.Contains(list, l.atom("c")) {
		t.Errorf("Node.list printed %q, want %s and %s in it", list, l.atom("b"), l.atom("c"))
	}
	if strings.Contains(list, l.atom("x")) {
		t.Errorf("Node.list printed %q, with x, which has another cookie", list)
	}
	if got, want := a.next(10*time.Second), `{:hi, "from a"}`; got != want {
		t.Errorf("send printed %q, want %q", got, want)
	}
	if code := a.waitExit(10 * time.Second); code != 0 {
		t.Errorf("a exited with status %d after its last line, want 0", code)
	}

	if got := b.eval("flush()"); got != `{:hi, "from a"}` {
		t.Errorf("flush() on b printed %q, want {:hi, \"from a\"}", got)
	}
	if got := b.next(5 * time.Second); got != ":ok" {
		t.Errorf("flush() on b ended with %q, want :ok", got)
	}
	if got := b.eval("Node.list"); strings.Contains(got, l.atom("x")) {
		t.Errorf("Node.list on b = %s, with x, which has another cookie", got)
	}
}

func TestWrongCookieNeverJoins(t *testing.T) {
	l := newLab(t)
	b := l.node("b")
	d := l.start("--sname", "d", "--cookie", "other")
	d.waitStderr("listening on", 10*time.Second)
	// Several heartbeats go by, each a reason to try again.
	b.waitStderr("cookie", 5*time.Second)
	d.waitStderr("cookie", 5*time.Second)
	time.Sleep(3 * time.Second)
	if got := b.eval("Node.list"); got != "[]" {
		t.Errorf("Node.list on b = %s, want []", got)
	}
	if got := d.eval("Node.list"); got != "[]" {
		t.Errorf("Node.list on d = %s, want []", got)
	}
	for _, tc := range []struct {
		p    *proc
		peer string
	}{{b, l.atom("d")}, {d, l.atom("b")}} {
		count := 0
		for _, line := range strings.Split(tc.p.stderr.String(), "\n") {
			if strings.Contains(line, "cookie") && strings.Contains(line, tc.peer) {
				count++
			}
		}
		if count != 1 {
			t.Errorf("gonode %s logged %d lines about %s and the cookie, want 1:\n%s", tc.p.name, count, tc.peer, tc.p.stderr.String())
		}
	}
}

func TestGossipSecretSeparates(t *testing.T) {
	l := newLab(t)
	b := l.node("b")
	e := l.node("e", "--gossip-secret", "s3cret")
	e.waitStderr("heartbeat", 5*time.Second)
	time.Sleep(2 * time.Second)
	if got := b.eval("Node.list"); got != "[]" {
		t.Errorf("Node.list on b = %s, want []", got)
	}
	if got := e.eval("Node.list"); got != "[]" {
		t.Errorf("Node.list on e = %s, want []", got)
	}
	if strings.Contains(b.stderr.String(), l.atom("e")) {
		t.Errorf("b heard of e, which has another gossip secret:\n%s", b.stderr.String())
	}
}

func TestPingPongPang(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	l.node("b", "--discovery", "none")
	if got := a.eval(fmt.Sprintf("Node.ping(%s)", l.atom("b"))); got != ":pong" {
		t.Errorf("Node.ping(b) = %s, want :pong", got)
	}
	if got := a.eval(fmt.Sprintf("Node.ping %s", l.atom("nobody"))); got != ":pang" {
		t.Errorf("Node.ping(nobody) = %s, want :pang", got)
	}
	if got := a.eval("Node.ping(:\"b@no-such-host.invalid\")"); got != ":pang" {
		t.Errorf("Node.ping on an unknown host = %s, want :pang", got)
	}
	if got := a.eval("Node.list"); got != "["+l.atom("b")+"]" {
		t.Errorf("Node.list after ping = %s, want [%s]", got, l.atom("b"))
	}
}

func TestConnectByNameWithoutGossip(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	b := l.node("b", "--discovery", "none")
	time.Sleep(500 * time.Millisecond)
	if got := a.eval("Node.list"); got != "[]" {
		t.Errorf("Node.list before connect = %s, want []", got)
	}
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("b"))); got != "true" {
		t.Errorf("Node.connect(b) = %s, want true", got)
	}
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("b"))); got != "true" {
		t.Errorf("second Node.connect(b) = %s, want true", got)
	}
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("a"))); got != "true" {
		t.Errorf("Node.connect(self) = %s, want true", got)
	}
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("nobody"))); got != "false" {
		t.Errorf("Node.connect(nobody) = %s, want false", got)
	}
	if got := b.eval("Node.list"); got != "["+l.atom("a")+"]" {
		t.Errorf("Node.list on b = %s, want [%s]", got, l.atom("a"))
	}
	if got := a.eval(fmt.Sprintf("Node.disconnect(%s)", l.atom("b"))); got != "true" {
		t.Errorf("Node.disconnect(b) = %s, want true", got)
	}
	if got, ok := b.listUntil(func(s string) bool { return s == "[]" }, time.Second); !ok {
		t.Errorf("Node.list on b after disconnect = %s, want []", got)
	}
}

func TestSendAndFlushAcrossNodes(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	b := l.node("b", "--discovery", "none")
	msgs := []string{`{:hi, "from a"}`, `[1, 2.5, :x, nil, true]`, `%{"k" => [a: 1]}`}
	for _, m := range msgs {
		if got := a.eval(fmt.Sprintf("send({:shell, %s}, %s)", l.atom("b"), m)); got != m {
			t.Errorf("send(..., %s) printed %q, want the message", m, got)
		}
	}
	var got []string
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < len(msgs) && time.Now().Before(deadline) {
		line := b.eval("flush()")
		for line != ":ok" {
			got = append(got, line)
			line = b.next(5 * time.Second)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Join(got, "\n") != strings.Join(msgs, "\n") {
		t.Errorf("flush() on b printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(msgs, "\n"))
	}
}

func TestNameInUseRefused(t *testing.T) {
	l := newLab(t)
	first := l.node("b", "--discovery", "none")
	second := l.start("--sname", "b", "--cookie", "genki", "--discovery", "none")
	if code := second.waitExit(10 * time.Second); code != 1 {
		t.Errorf("second b exited with %d, want 1", code)
	}
	msg := strings.TrimSpace(second.stderr.String())
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "already in use") {
		t.Errorf("second b printed %q, want one line saying the name is in use", msg)
	}
	if got := first.eval("Node.self"); got != l.atom("b") {
		t.Errorf("first b: Node.self = %s, want %s", got, l.atom("b"))
	}
	a := l.node("a", "--discovery", "none")
	if got := a.eval(fmt.Sprintf("Node.ping(%s)", l.atom("b"))); got != ":pong" {
		t.Errorf("ping of the first b = %s, want :pong", got)
	}
}

func TestPeerLeavesList(t *testing.T) {
	l := newLab(t)
	a := l.node("a")
	b := l.node("b")
	c := l.node("c", "--no-shell")
	_, ok := a.listUntil(containsAll(l.atom("b"), l.atom("c")), 3*time.Second)
	if !ok {
		t.Fatalf("a never listed b and c")
	}

	// A clean exit says goodbye, so the peer sees it at once.
	b.stdin.Close()
	if code := b.waitExit(5 * time.Second); code != 0 {
		t.Errorf("b exited with %d, want 0", code)
	}
	if got, ok := a.listUntil(func(s string) bool { return !strings.Contains(s, l.atom("b")) }, 500*time.Millisecond); !ok {
		t.Errorf("Node.list on a = %s 500ms after b exited", got)
	}

	// SIGKILL: the kernel closes the socket, and at worst the tick
	// timeout notices.
	c.kill(syscall.SIGKILL)
	if got, ok := a.listUntil(func(s string) bool { return !strings.Contains(s, l.atom("c")) }, 5*time.Second); !ok {
		t.Errorf("Node.list on a = %s 5s after c was killed", got)
	}
}

func TestStoppedPeerTimesOut(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	b := l.node("b", "--discovery", "none")
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("b"))); got != "true" {
		t.Fatalf("Node.connect(b) = %s", got)
	}
	b.cmd.Process.Signal(syscall.SIGSTOP)
	defer b.cmd.Process.Signal(syscall.SIGCONT)
	if got, ok := a.listUntil(func(s string) bool { return s == "[]" }, 8*time.Second); !ok {
		t.Errorf("Node.list on a = %s 8s after b froze, want []", got)
	}
	a.waitStderr("net_tick_timeout", time.Second)
}

func TestBadInputLines(t *testing.T) {
	l := newLab(t)
	a := l.start("--sname", "a", "--cookie", "genki", "--discovery", "none")
	io.WriteString(a.stdin, "Node.lst\n)(\nNode.self\n")
	a.stdin.Close()
	if got := a.next(10 * time.Second); got != l.atom("a") {
		t.Errorf("after two bad lines, Node.self printed %q, want %s", got, l.atom("a"))
	}
	if code := a.waitExit(10 * time.Second); code != 1 {
		t.Errorf("exit status %d with failing lines, want 1", code)
	}
	errs := a.stderr.String()
	if !strings.Contains(errs, "Node.list") {
		t.Errorf("the typo Node.lst got no suggestion of Node.list:\n%s", errs)
	}
}

func TestFlagErrors(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--sname", "bad name"}, "not allowed"},
		{[]string{"--name", "nohost@"}, "empty"},
		{[]string{"--cookie", "x"}, "missing node name"},
		{[]string{"--sname", "a", "--discovery", "carrier-pigeon"}, "invalid --discovery"},
		{[]string{"--sname", "a", "--gossip-group", "10.0.0.1"}, "multicast"},
		{[]string{"--sname", "a", "--port", "70000"}, "invalid --port 70000"},
		// An empty --cookie is a mistake such as --cookie "$UNSET", not a
		// request for the cookie file.
		{[]string{"--sname", "a", "--cookie", ""}, "--cookie is empty"},
		{[]string{"--sname", "a", "--cookie", "c", "--remsh", ""}, "--remsh is empty"},
		{[]string{"--sname", "a", "--cookie", "c", "--remsh", " "}, "--remsh is empty"},
		{[]string{"--sname", "a", "--cookie", "c", "--net-ticktime", "0.001"}, `invalid --net-ticktime "0.001": want whole seconds`},
		{[]string{"--sname", "a", "--cookie", "c", "--net-ticktime", "0"}, `invalid --net-ticktime "0"`},
		{[]string{"--sname", "a", "--script", "/nonexistent"}, "--script: stat /nonexistent: no such file or directory"},
		{[]string{"--sname", "a", "--cookie", "c", "--busy-poll", "-1us"}, "invalid --busy-poll -1µs: want 0 (off) to 1ms"},
		{[]string{"--sname", "a", "--cookie", "c", "--busy-poll", "2s"}, "invalid --busy-poll 2s"},
		// Errors from the flag package itself: a short hint, no usage.
		{[]string{"--sname", "a", "--busy-poll", "50"}, `invalid value "50" for flag -busy-poll: want a duration with a unit, such as 50us`},
		{[]string{"--sname", "a", "--gossip-interval", "5"}, "want a duration with a unit"},
		{[]string{"--sname", "a", "--bogus"}, "flag provided but not defined: -bogus\nrun gonode --help for the flags"},
	} {
		p := l.start(tc.args...)
		if code := p.waitExit(10 * time.Second); code != 2 {
			t.Errorf("gonode %q exited %d, want 2", tc.args, code)
		}
		if !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("gonode %q printed %q, want %q in it", tc.args, p.stderr.String(), tc.want)
		}
		if strings.Contains(p.stderr.String(), "Usage:") {
			t.Errorf("gonode %q printed the usage text for a bad value:\n%s", tc.args, p.stderr.String())
		}
	}
	// No case gets as far as reading or creating the cookie file.
	if _, err := os.Stat(filepath.Join(l.home, ".gonode.cookie")); err == nil {
		t.Error("a rejected command line created ~/.gonode.cookie")
	}
}

func TestPipeEndsOnSIGTERM(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	if got := a.eval("Node.self"); got != l.atom("a") {
		t.Fatalf("Node.self = %s, want %s", got, l.atom("a"))
	}
	// The pipe stays open: the node waits for a line that never comes.
	a.cmd.Process.Signal(syscall.SIGTERM)
	if code := a.waitExit(5 * time.Second); code != 1 {
		t.Errorf("exit status after SIGTERM = %d, want 1", code)
	}
	if !strings.Contains(a.stderr.String(), "interrupted") {
		t.Errorf("stderr does not say it was interrupted:\n%s", a.stderr.String())
	}
}

func TestPipeSkipsOverlongLine(t *testing.T) {
	l := newLab(t)
	a := l.start("--sname", "a", "--cookie", "genki", "--discovery", "none")
	io.WriteString(a.stdin, "Node.self\n"+strings.Repeat("x", 2<<20)+"\nNode.self\n")
	a.stdin.Close()
	for i := range 2 {
		if got := a.next(10 * time.Second); got != l.atom("a") {
			t.Errorf("result %d = %q, want %s", i+1, got, l.atom("a"))
		}
	}
	if code := a.waitExit(10 * time.Second); code != 1 {
		t.Errorf("exit status = %d, want 1 for the skipped line", code)
	}
	if !strings.Contains(a.stderr.String(), "line 2") {
		t.Errorf("stderr does not name line 2:\n%s", a.stderr.String())
	}
}

func TestHelpText(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// --help parses the flags and exits: it starts no node and opens no
	// socket.
	out, err := exec.CommandContext(ctx, gonodeBin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("gonode --help: %v\n%s", err, out)
	}
	help := string(out)
	if strings.Contains(help, `(default "gossip")`) {
		t.Errorf("--help gives --discovery two defaults:\n%s", help)
	}
	if !strings.Contains(help, "-format FORMAT") {
		t.Errorf("--help lacks the placeholder -format FORMAT:\n%s", help)
	}
	if !strings.Contains(help, "gonode epmd [--names|--kill] [--port N]") {
		t.Errorf("--help usage of gonode epmd lacks --kill:\n%s", help)
	}
}
