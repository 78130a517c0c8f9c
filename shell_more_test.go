package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run the built binary for the shell's scripting
// modes (--eval, --script, a pipe, --format json) and, through a
// pseudo-terminal, for its line editing.

// waitExit waits for a terminal gonode to end and returns its exit status.
func (tm *ttyProc) waitExit(timeout time.Duration) int {
	tm.t.Helper()
	select {
	case <-tm.done:
	case <-time.After(timeout):
		tm.t.Fatalf("gonode on the terminal still running after %v", timeout)
	}
	return tm.cmd.ProcessState.ExitCode()
}

// waitText waits until anything the terminal showed contains want.
func (tm *ttyProc) waitText(want string, timeout time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(tm.text(), want) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal never showed %q within %v", want, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startShellTerm starts node local on a terminal without discovery and
// waits for its first prompt.
func (l *lab) startShellTerm(local string, extra ...string) *ttyProc {
	l.t.Helper()
	args := append([]string{"--sname", local, "--cookie", "genki"}, extra...)
	tm := l.startTerm(nil, args...)
	tm.expect(l.prompt(local, 1), 10*time.Second)
	return tm
}

// prompt returns the prompt of node local with counter n.
func (l *lab) prompt(local string, n int) string {
	return fmt.Sprintf("gonode(%s)%d> ", l.full(local), n)
}

// runToExit runs node a without discovery and with extra flags until it
// exits, and returns the process, its output lines and its exit status.
func (l *lab) runToExit(extra ...string) (*proc, []string, int) {
	l.t.Helper()
	p := l.start(append([]string{"--sname", "a", "--cookie", "genki", "--discovery", "none"}, extra...)...)
	code := p.waitExit(10 * time.Second)
	var lines []string
	for line := range p.lines {
		lines = append(lines, line)
	}
	return p, lines, code
}

func TestEvalFlagExitStatus(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args   []string
		stdout string
		status int
	}{
		{[]string{"--eval", "Node.self"}, l.atom("a"), 0},
		{[]string{"--eval", "peers = Node.list; length(peers)"}, "0", 0},
		{[]string{"--eval", "Node.lst"}, "", 1},
		{[]string{"--eval", "System.halt(3)"}, "", 3},
		{[]string{"--eval", "{:ok, Node.self, %{n: 1}}", "--format", "json"}, fmt.Sprintf(`["ok","%s",{"n":1}]`, l.full("a")), 0},
	} {
		p, lines, code := l.runToExit(tc.args...)
		if got := strings.Join(lines, "\n"); got != tc.stdout {
			t.Errorf("gonode %v printed %q, want %q", tc.args, got, tc.stdout)
		}
		if code != tc.status {
			t.Errorf("gonode %v exited %d, want %d; stderr:\n%s", tc.args, code, tc.status, p.stderr.String())
		}
	}
}

func TestEvalErrorGoesToStderr(t *testing.T) {
	l := newLab(t)
	p := l.start("--sname", "a", "--cookie", "genki", "--discovery", "none", "--eval", "Node.ping(")
	if code := p.waitExit(10 * time.Second); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if !strings.Contains(p.stderr.String(), "** (TokenMissingError) iex:1:11: missing terminator: )") {
		t.Errorf("stderr lacks the syntax error:\n%s", p.stderr.String())
	}
}

func TestEvalNoHaltKeepsRunning(t *testing.T) {
	l := newLab(t)
	p := l.start("--sname", "a", "--cookie", "genki", "--discovery", "none", "--eval", "Node.self", "--no-halt")
	if got := p.next(10 * time.Second); got != l.atom("a") {
		t.Errorf("--eval printed %q, want %s", got, l.atom("a"))
	}
	select {
	case <-p.done:
		t.Fatalf("gonode exited after --eval with --no-halt; stderr:\n%s", p.stderr.String())
	case <-time.After(500 * time.Millisecond):
	}
	// The node still replies to pings from other nodes.
	b := l.node("b", "--discovery", "none")
	if got := b.eval(fmt.Sprintf("Node.ping(%s)", l.atom("a"))); got != ":pong" {
		t.Errorf("ping of the --no-halt node = %s, want :pong", got)
	}
	p.kill(syscall.SIGTERM)
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit status after SIGTERM %d, want 0", code)
	}
}

func TestScriptFlagRunsEveryLine(t *testing.T) {
	l := newLab(t)
	script := filepath.Join(l.home, "check.exs")
	src := strings.Join([]string{
		"# a comment line",
		"me = Node.self",
		"Node.lst",
		"%{",
		"  node: me,",
		"  ok: true",
		"}",
		"send(self(), :done); receive(1000)",
	}, "\n")
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"text", []string{l.atom("a"), fmt.Sprintf("%%{node: %s, ok: true}", l.atom("a")), ":done"}},
		{"json", []string{`"` + l.full("a") + `"`, fmt.Sprintf(`{"node":"%s","ok":true}`, l.full("a")), `"done"`}},
	} {
		p, got, code := l.runToExit("--script", script, "--format", tc.format)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("--format %s printed\n%s\nwant\n%s", tc.format, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		if code != 1 {
			t.Errorf("--format %s: exit status %d with a failing line, want 1", tc.format, code)
		}
		if !strings.Contains(p.stderr.String(), script+":3: ** (UndefinedFunctionError)") {
			t.Errorf("stderr does not name line 3 of the script:\n%s", p.stderr.String())
		}
	}

	p := l.start("--sname", "a", "--cookie", "genki", "--discovery", "none", "--script", filepath.Join(l.home, "missing.exs"))
	if code := p.waitExit(10 * time.Second); code != 2 {
		t.Errorf("missing script: exit status %d, want 2 (a usage error)", code)
	}
	if !strings.Contains(p.stderr.String(), "missing.exs") {
		t.Errorf("missing script: stderr does not name the file:\n%s", p.stderr.String())
	}
}

func TestStdinPipeJSON(t *testing.T) {
	l := newLab(t)
	p := l.start("--sname", "a", "--cookie", "genki", "--discovery", "none", "--format", "json")
	io.WriteString(p.stdin, "[a: 1]\n{1,\n 2.5}\nNode.bad\nnil\n")
	p.stdin.Close()
	for _, want := range []string{`[["a",1]]`, `[1,2.5]`, `null`} {
		if got := p.next(10 * time.Second); got != want {
			t.Errorf("JSON line = %s, want %s", got, want)
		}
	}
	if code := p.waitExit(10 * time.Second); code != 1 {
		t.Errorf("exit status %d with a failing line, want 1", code)
	}
}

func TestScriptFlagConflicts(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--eval", "1", "--script", "x"}, "mutually exclusive"},
		{[]string{"--no-halt"}, "--no-halt works with --eval only"},
		{[]string{"--format", "yaml"}, "invalid --format"},
		{[]string{"--no-shell", "--eval", "1"}, "--no-shell cannot be combined"},
	} {
		p := l.start(append([]string{"--sname", "a"}, tc.args...)...)
		if code := p.waitExit(10 * time.Second); code != 2 {
			t.Errorf("gonode %v exited %d, want 2", tc.args, code)
		}
		if !strings.Contains(p.stderr.String(), tc.want) {
			t.Errorf("gonode %v printed %q, want %q in it", tc.args, p.stderr.String(), tc.want)
		}
	}
}

func TestPidsAndMonitorAcrossNodes(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	b := l.node("b", "--discovery", "none")
	bAtom := l.atom("b")

	// a sends its pid to b's shell, and b replies to that pid.
	if got := a.eval(fmt.Sprintf("send({:shell, %s}, {:reply_to, self()})", bAtom)); !strings.HasPrefix(got, "{:reply_to, #PID<0.") {
		t.Fatalf("send of a's pid printed %q", got)
	}
	if got := b.eval("msg = receive(5000)"); !strings.HasPrefix(got, "{:reply_to, #PID<0.") {
		t.Fatalf("b received %q, want a's pid", got)
	}
	if got := b.eval("pid = elem(msg, 1)"); !strings.HasPrefix(got, "#PID<0.") {
		t.Fatalf("pid on b = %q", got)
	}
	if got := b.eval("send(pid, :pong_from_b)"); got != ":pong_from_b" {
		t.Errorf("send to a's pid printed %q", got)
	}
	if got := a.eval("receive(5000)"); got != ":pong_from_b" {
		t.Errorf("a received %q, want :pong_from_b", got)
	}

	if got := a.eval(fmt.Sprintf("Node.monitor(%s, true)", bAtom)); got != "true" {
		t.Errorf("Node.monitor printed %q, want true", got)
	}
	info := a.eval(fmt.Sprintf("Node.info(%s)", bAtom))
	// a sent one message to b (its pid) and got one back (:pong_from_b).
	for _, want := range []string{"connected: true", "strategy: :node", "address: \"127.0.0.1:", "last_rtt_ms: ", "messages_in: 1,", "messages_out: 1,", "bytes_in: ", "bytes_out: "} {
		if !strings.Contains(info, want) {
			t.Errorf("Node.info(b) = %s, want %q in it", info, want)
		}
	}
	b.stdin.Close()
	b.waitExit(10 * time.Second)
	if got, want := a.eval("receive(5000)"), fmt.Sprintf("{:nodedown, %s}", bAtom); got != want {
		t.Errorf("after b left, a received %q, want %s", got, want)
	}
	if got := a.eval("Node.list(:known)"); got != fmt.Sprintf("[%s, %s]", l.atom("a"), bAtom) {
		t.Errorf("Node.list(:known) = %s, want a and b", got)
	}
}

func TestPingCountPrintsStatistics(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	l.node("b", "--discovery", "none")
	io.WriteString(a.stdin, fmt.Sprintf("Node.ping(%s, count: 3, interval: 10)\n", l.atom("b")))
	var lines []string
	for len(lines) < 7 {
		lines = append(lines, a.next(10*time.Second))
	}
	for i := 0; i < 3; i++ {
		if want := fmt.Sprintf("pong from %s: seq=%d time=", l.atom("b"), i+1); !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], want)
		}
	}
	if lines[4] != "3 pings sent, 3 pongs received, 0% lost" {
		t.Errorf("summary = %q", lines[4])
	}
	if !strings.HasPrefix(lines[5], "rtt min/avg/max = ") || lines[6] != ":pong" {
		t.Errorf("last lines = %q, %q", lines[5], lines[6])
	}
}

func TestTerminalTabCompletion(t *testing.T) {
	l := newLab(t)
	l.node("b")
	a := l.startShellTerm("a", "--no-color")
	a.waitText("connected to "+l.atom("b"), 5*time.Second)

	a.send("Node.mon\t")
	a.expect("Node.monitor", 5*time.Second)
	a.send("\x03") // discard the line
	a.expect(l.prompt("a", 1), 5*time.Second)

	a.send("Node.ping(:\"b\t")
	a.expect("Node.ping(:\""+l.full("b")+"\"", 5*time.Second)
	a.send(")\r")
	a.expect(":pong", 5*time.Second)
	a.expect(l.prompt("a", 2), 5*time.Second)

	// Tab on "Node." lists the Node commands.
	a.send("Node.\t\t")
	a.expect("disconnect", 5*time.Second)
	a.expect("monitor", 5*time.Second)
}

func TestTerminalCtrlC(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	a.send("Node.sel")
	a.expect("Node.sel", 5*time.Second)
	a.send("\x03")
	a.expect(l.prompt("a", 1), 5*time.Second)
	a.send("Node.self\r")
	a.expect(l.atom("a")+"\r\n", 5*time.Second)

	// Ctrl-C inside an open bracket discards the whole input.
	a.send("[1,\r")
	a.expect("...("+l.full("a")+")2> ", 5*time.Second)
	a.send("\x03")
	a.expect(l.prompt("a", 2), 5*time.Second)

	a.send("\x03")
	a.expect("press Ctrl-C again or Ctrl-D to leave", 5*time.Second)
	a.send("\x03")
	if code := a.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit status after two Ctrl-C = %d, want 0", code)
	}
}

func TestTerminalContinuationAndPaste(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	a.send("x = [1,\r")
	a.expect("...("+l.full("a")+")1> ", 5*time.Second)
	a.send("2]\r")
	a.expect("[1, 2]", 5*time.Second)
	a.expect(l.prompt("a", 2), 5*time.Second)

	// A pasted block of three lines runs in order.
	a.send("y = 3\rz = :four\r{x, y, z}\r")
	a.expect("{[1, 2], 3, :four}", 5*time.Second)
	a.expect(l.prompt("a", 5), 5*time.Second)

	a.send("\"multi\r")
	a.expect("...("+l.full("a")+")5> ", 5*time.Second)
	a.send("line\"\r")
	a.expect(`"multi\nline"`, 5*time.Second)
}

func TestTerminalJapaneseInput(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	// こんにちわ, then backspace over わ and type は.
	a.send("s = \"こんにちわ")
	a.expect("こんにちわ", 5*time.Second)
	a.send("\x7f")
	a.send("は\"\r")
	// The edited line, then the result on a line of its own; readline may
	// put escapes between the two.
	a.expect("s = \"こんにちは\"", 5*time.Second)
	a.expect("\"こんにちは\"\r\n", 5*time.Second)
	// Moving left over wide characters and inserting keeps the order.
	a.send("\"日本\x1b[D語\x1b[C\"\r")
	// The first match is the echo of the line, the second the value.
	a.expect("\"日語本\"\r\n", 5*time.Second)
	a.expect("\"日語本\"\r\n", 5*time.Second)
}

func TestTerminalNodeUpWhileTyping(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--no-color")
	a.send("Node.li")
	a.expect("Node.li", 5*time.Second)
	l.node("b")
	a.expect("connected to "+l.atom("b"), 10*time.Second)
	// The prompt and the half-typed text come back after the log line.
	a.expect(l.prompt("a", 1)+"Node.li", 5*time.Second)
	a.send("st\r")
	a.expect("["+l.atom("b")+"]", 5*time.Second)
}

func TestTerminalColors(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--discovery", "none")
	a.send("{:ok, \"s\", 1, true, nil}\r")
	a.expect("\x1b[36m:ok\x1b[0m, \x1b[32m\"s\"\x1b[0m, \x1b[33m1\x1b[0m, \x1b[35mtrue\x1b[0m, \x1b[35mnil\x1b[0m", 5*time.Second)
	a.send("Node.nope\r")
	a.expect("\x1b[31m** (UndefinedFunctionError)", 5*time.Second)

	plain := l.startShellTerm("p", "--discovery", "none", "--no-color")
	plain.send("{:ok, \"s\", 1}\r")
	plain.expect(l.prompt("p", 2), 5*time.Second)
	if out := plain.text(); ansiEscape.MatchString(out) {
		t.Errorf("--no-color printed color escapes:\n%q", out)
	}
}

func TestTerminalPrettyPrintsWideValues(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	var nums []string
	for i := 1; i <= 30; i++ {
		nums = append(nums, fmt.Sprintf("%d000000", i))
	}
	a.send("[" + strings.Join(nums, ", ") + "]\r")
	// The terminal is 120 columns wide, so the 300-column list breaks and
	// the next line is indented by one space.
	a.expect("[1000000, 2000000,", 5*time.Second)
	a.expect(",\r\n 1", 5*time.Second)
	a.expect("30000000]", 5*time.Second)

	a.send("clear\r")
	a.expect("\x1b[H\x1b[2J", 5*time.Second)
}

func TestTerminalHistoryFile(t *testing.T) {
	l := newLab(t)
	history := filepath.Join(l.home, ".gonode_history")
	var old strings.Builder
	for i := 0; i < 1500; i++ {
		fmt.Fprintf(&old, ":old%d\n", i)
	}
	if err := os.WriteFile(history, []byte(old.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	a.send("[1,\r2]\r")
	a.expect("[1, 2]", 5*time.Second)
	// Up recalls the last input, the two lines as one.
	a.send("\x1b[A")
	a.expect("[1, 2]", 5*time.Second)
	a.send("\x03\x04")
	if code := a.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	data, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	// The file was cut to the last 1000 inputs at start, and this
	// session added one.
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 1001 {
		t.Errorf("history has %d lines, want 1001", len(lines))
	}
	if lines[0] != ":old500" {
		t.Errorf("oldest history line = %q, want :old500", lines[0])
	}
	if last := lines[len(lines)-1]; last != "[1, 2]" {
		t.Errorf("last history line = %q, want \"[1, 2]\"", last)
	}
	fi, err := os.Stat(history)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode = %v, want 0600", fi.Mode().Perm())
	}
}

func TestTerminalHistoryUnusable(t *testing.T) {
	l := newLab(t)
	// A directory where the file should be cannot be opened, even by
	// root in the test's user namespace.
	if err := os.Mkdir(filepath.Join(l.home, ".gonode_history"), 0o755); err != nil {
		t.Fatal(err)
	}
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	a.send("Node.self\r")
	a.expect(l.atom("a"), 5*time.Second)
	if n := strings.Count(a.text(), "warning: history is off"); n != 1 {
		t.Errorf("history warnings = %d, want 1:\n%q", n, a.text())
	}
}

func TestTerminalCtrlRSearch(t *testing.T) {
	l := newLab(t)
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	a.send("marker = :found_by_search\r")
	a.expect(":found_by_search", 5*time.Second)
	a.send("Node.alive?\r")
	a.expect("true", 5*time.Second)
	a.send("\x12found_by")
	a.expect("bck-i-search: found_by", 5*time.Second)
	// Enter leaves the search with the found input, and Enter runs it.
	a.send("\r")
	a.send("\r")
	a.expect(l.prompt("a", 4), 5*time.Second)
	a.send("v()\r")
	a.expect(":found_by_search", 5*time.Second)
}

func TestTerminalCtrlDSaysGoodbye(t *testing.T) {
	l := newLab(t)
	b := l.node("b", "--discovery", "none")
	a := l.startShellTerm("a", "--discovery", "none", "--no-color")
	a.send(fmt.Sprintf("Node.connect(%s)\r", l.atom("b")))
	a.expect("true", 5*time.Second)
	a.send("\x04")
	if code := a.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit status after Ctrl-D = %d, want 0", code)
	}
	// A goodbye, not a dropped connection, ends the link on b.
	b.waitStderr("disconnected from "+l.atom("a")+" reason=disconnect", 2*time.Second)
}
