package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ttyProc is a gonode whose standard input, output and error are a real
// pseudo-terminal, as when a person runs it.
type ttyProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  strings.Builder // everything the terminal showed, escapes included
	seen int             // how much of out expect has consumed
	done chan struct{}
}

func (l *lab) startTerm(env []string, args ...string) *ttyProc {
	l.t.Helper()
	return l.startTermSize(env, &pty.Winsize{Rows: 40, Cols: 120}, args...)
}

// startTermSize is startTerm on a terminal of the given size.
func (l *lab) startTermSize(env []string, size *pty.Winsize, args ...string) *ttyProc {
	l.t.Helper()
	cmd := l.ns.Command(context.Background(), gonodeBin, args...)
	cmd.Env = append(append(environWithout("NO_COLOR"), "HOME="+l.home, "TERM=xterm"), env...)
	tty, err := pty.StartWithSize(cmd, size)
	if err != nil {
		l.t.Fatalf("start gonode on a pseudo-terminal: %v", err)
	}
	tm := &ttyProc{t: l.t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				break
			}
		}
		cmd.Wait()
		close(tm.done)
	}()
	l.t.Cleanup(func() {
		select {
		case <-tm.done:
		default:
			cmd.Process.Kill()
			<-tm.done
		}
		tty.Close()
		if l.t.Failed() {
			l.t.Logf("terminal output:\n%q", tm.text())
		}
	})
	return tm
}

func (tm *ttyProc) text() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

func (tm *ttyProc) send(s string) {
	tm.t.Helper()
	if _, err := tm.tty.WriteString(s); err != nil {
		tm.t.Fatalf("type %q: %v", s, err)
	}
}

// expect waits until the output after what earlier expects consumed
// contains want, and consumes up to its end.
func (tm *ttyProc) expect(want string, timeout time.Duration) {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		tm.mu.Lock()
		rest := tm.out.String()[tm.seen:]
		if i := strings.Index(rest, want); i >= 0 {
			tm.seen += i + len(want)
			tm.mu.Unlock()
			return
		}
		tm.mu.Unlock()
		if time.Now().After(deadline) {
			tm.t.Fatalf("terminal never showed %q within %v; after the last match it showed:\n%q", want, timeout, rest)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShellOnTerminal(t *testing.T) {
	l := newLab(t)
	a := l.startTerm(nil, "--sname", "a", "--cookie", "genki", "--no-color")
	a.expect("gonode(a@"+l.host+")1> ", 10*time.Second)
	a.send("Node.self\r")
	a.expect(l.atom("a"), 5*time.Second)
	a.expect("gonode(a@"+l.host+")2> ", 5*time.Second)

	// A typo is one error line, and the counter stays.
	a.send("Node.lst\r")
	a.expect("Node.list", 5*time.Second)
	a.expect("gonode(a@"+l.host+")2> ", 5*time.Second)

	// A peer connects while a line is half typed: the log line prints
	// above the prompt and the typed text survives.
	a.send("Node.li")
	time.Sleep(200 * time.Millisecond)
	b := l.node("b")
	a.expect("connected to "+l.atom("b"), 5*time.Second)
	a.expect("Node.li", 2*time.Second)
	a.send("st\r")
	a.expect("["+l.atom("b")+"]", 5*time.Second)
	a.expect("gonode(a@"+l.host+")3> ", 5*time.Second)
	b.stdin.Close()

	// Ctrl-D leaves with status 0.
	a.send("\x04")
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gonode did not exit on Ctrl-D")
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status after Ctrl-D = %d, want 0", code)
	}
}

var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func TestShellColorFollowsNoColor(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		env   []string
		color bool
	}{
		{nil, true},
		{[]string{"NO_COLOR=1"}, false},
	} {
		a := l.startTerm(tc.env, "--sname", "a", "--cookie", "genki", "--discovery", "none")
		a.expect("gonode(a@"+l.host+")1> ", 10*time.Second)
		a.send("Node.nope\r")
		a.expect("undefined", 5*time.Second)
		a.expect("> ", 5*time.Second)
		hasColor := ansiEscape.MatchString(a.text())
		if hasColor != tc.color {
			t.Errorf("env %v: color escapes = %v, want %v:\n%q", tc.env, hasColor, tc.color, a.text())
		}
		a.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("env %v: gonode still running 10s after SIGTERM", tc.env)
		}
	}
}

// environWithout returns the environment less the variable key.
func environWithout(key string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, key+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// Ctrl-Space and Ctrl-@ send a NUL byte, which the line editor used to
// read as end of input: the shell stopped evaluating and did not end on
// SIGTERM.
func TestShellIgnoresNUL(t *testing.T) {
	l := newLab(t)
	a := l.startTerm(nil, "--sname", "a", "--cookie", "genki", "--discovery", "none", "--no-color")
	a.expect("gonode(a@"+l.host+")1> ", 10*time.Second)
	a.send("\x00")
	a.send("[1, 2]\r")
	// The first "[1, 2]" is the echoed line, the second the result. The
	// line editor may redraw between them, so only each line's end is
	// matched.
	a.expect("[1, 2]\r\n", 5*time.Second)
	a.expect("[1, 2]\r\n", 5*time.Second)
	a.expect("gonode(a@"+l.host+")2> ", 5*time.Second)

	// NUL inside a line is dropped, and the rest of the line stays.
	a.send("[3,\x00 4]\r")
	a.expect("[3, 4]\r\n", 5*time.Second)
	a.expect("[3, 4]\r\n", 5*time.Second)
	a.expect("gonode(a@"+l.host+")3> ", 5*time.Second)
}

func TestShellEndsOnSIGTERMAfterNUL(t *testing.T) {
	l := newLab(t)
	a := l.startTerm(nil, "--sname", "a", "--cookie", "genki", "--discovery", "none", "--no-color")
	a.expect("gonode(a@"+l.host+")1> ", 10*time.Second)
	a.send("\x00")
	a.send("Node.sel")
	time.Sleep(200 * time.Millisecond)
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gonode still running 10s after SIGTERM")
	}
}

// A pseudo-terminal whose size was never set reports 0 rows and 0 columns, as
// script(1) without stty does. Tab must still complete there.
func TestShellTabOnUnsizedTerminal(t *testing.T) {
	l := newLab(t)
	a := l.startTermSize(nil, &pty.Winsize{}, "--sname", "a", "--cookie", "genki", "--no-color", "--discovery", "none")
	a.expect("gonode(a@"+l.host+")1> ", 10*time.Second)
	a.send("Node.se\t")
	a.expect("Node.self", 5*time.Second)
	a.send("\r")
	a.expect(l.atom("a"), 5*time.Second)
	a.expect("gonode(a@"+l.host+")2> ", 5*time.Second)
	a.send("\x04")
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gonode did not exit on Ctrl-D")
	}
}
