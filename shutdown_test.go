package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gonode/gonode/node"
)

// The tests in this file end a node each way a user can, and check that
// it shuts down gracefully: its peer sees a goodbye (reason disconnect,
// not connection_closed or net_tick_timeout), the port mapper no longer
// lists its name, and it exits within node.CloseTimeout.

// shutdownSlack is how much longer than node.CloseTimeout a test waits
// for the process to exit, for a loaded machine.
const shutdownSlack = 5 * time.Second

// registeredNames returns what `gonode epmd --names` prints in l.
func registeredNames(t *testing.T, l *lab) string {
	t.Helper()
	cmd := l.ns.Command(context.Background(), gonodeBin, "epmd", "--names")
	cmd.Env = append(os.Environ(), "HOME="+l.home)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gonode epmd --names: %v\n%s", err, out)
	}
	return string(out)
}

// checkGoodbye checks that b saw a leave with a goodbye and that the port
// mapper dropped a's name.
func checkGoodbye(t *testing.T, l *lab, b *proc) {
	t.Helper()
	timeUntilGone(t, b, l.atom("a"), time.Now(), 2*time.Second)
	b.waitStderr("disconnected from "+l.atom("a"), 2*time.Second)
	line := ""
	for _, s := range strings.Split(b.stderr.String(), "\n") {
		if strings.Contains(s, "disconnected from "+l.atom("a")) {
			line = s
		}
	}
	if !strings.Contains(line, "reason=disconnect") {
		t.Errorf("b logged %q, want reason=disconnect (a goodbye)", line)
	}
	// The port mapper drops a name when it reads the end of the
	// registration's connection, a moment after the node exits.
	names := registeredNames(t, l)
	for deadline := time.Now().Add(2 * time.Second); strings.Contains(names, "name a ") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		names = registeredNames(t, l)
	}
	if strings.Contains(names, "name a ") {
		t.Errorf("the port mapper still lists a 2s after it exited:\n%s", names)
	}
	if !strings.Contains(names, "name b ") {
		t.Errorf("the port mapper lost b, which still runs:\n%s", names)
	}
}

func TestShutdownGraceful(t *testing.T) {
	tests := []struct {
		name     string
		extra    []string
		stop     func(a *proc)
		wantCode int // a script cut short by a signal exits with 1
	}{
		{"end of input", nil, func(a *proc) { a.stdin.Close() }, 0},
		{"System.halt", nil, func(a *proc) { fmt.Fprintln(a.stdin, "System.halt") }, 0},
		{"SIGINT", nil, func(a *proc) { a.cmd.Process.Signal(syscall.SIGINT) }, 1},
		{"SIGTERM", nil, func(a *proc) { a.cmd.Process.Signal(syscall.SIGTERM) }, 1},
		{"SIGINT without shell", []string{"--no-shell"}, func(a *proc) { a.cmd.Process.Signal(syscall.SIGINT) }, 0},
		{"SIGTERM without shell", []string{"--no-shell"}, func(a *proc) { a.cmd.Process.Signal(syscall.SIGTERM) }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			// A long tick time, so that only a goodbye or a closed socket
			// can end the connection within the test.
			args := append([]string{"--discovery", "none", "--net-ticktime", "60"}, tt.extra...)
			a := l.node("a", args...)
			b := l.node("b", "--discovery", "none", "--net-ticktime", "60")
			if got := b.eval(fmt.Sprintf("Node.connect(%s)", l.atom("a"))); got != "true" {
				t.Fatalf("Node.connect(a) = %s, want true", got)
			}
			// b's handshake ends before a's: wait for a to keep the
			// connection, which a close during its handshake would drop.
			a.waitStderr("connected to "+l.atom("b"), 2*time.Second)
			start := time.Now()
			tt.stop(a)
			if code := a.waitExit(node.CloseTimeout + shutdownSlack); code != tt.wantCode {
				t.Errorf("exit status = %d, want %d", code, tt.wantCode)
			}
			t.Logf("%s: a exited after %v", tt.name, time.Since(start).Round(time.Millisecond))
			checkGoodbye(t, l, b)
		})
	}
}

func TestShutdownOnTerminal(t *testing.T) {
	tests := []struct {
		name string
		stop func(a *ttyProc)
	}{
		{"Ctrl-D", func(a *ttyProc) { a.send("\x04") }},
		// At the prompt, a SIGINT comes from another process, not from
		// the Ctrl-C key, and ends the shell.
		{"SIGINT at the prompt", func(a *ttyProc) { a.cmd.Process.Signal(syscall.SIGINT) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t)
			b := l.node("b", "--discovery", "none", "--net-ticktime", "60")
			a := l.startTerm(nil, "--sname", "a", "--cookie", "genki", "--no-color", "--discovery", "none", "--net-ticktime", "60")
			a.expect("gonode(a@"+l.host+")1> ", 10*time.Second)
			a.send(fmt.Sprintf("Node.connect(%s)\r", l.atom("b")))
			a.expect("true", 5*time.Second)
			a.expect("gonode(a@"+l.host+")2> ", 5*time.Second)

			start := time.Now()
			tt.stop(a)
			select {
			case <-a.done:
			case <-time.After(node.CloseTimeout + shutdownSlack):
				t.Fatalf("gonode did not exit on %s", tt.name)
			}
			t.Logf("%s: a exited after %v", tt.name, time.Since(start).Round(time.Millisecond))
			if code := a.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("exit status after %s = %d, want 0", tt.name, code)
			}
			checkGoodbye(t, l, b)
		})
	}
}
