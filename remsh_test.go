package main

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run gonode --remsh against other gonode
// processes of the same namespace.

func TestRemshRunsOnRemoteNode(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	b := l.node("b", "--discovery", "none")
	if got := a.eval(fmt.Sprintf("Node.connect(%s)", l.atom("b"))); got != "true" {
		t.Fatalf("Node.connect(b) on a = %s", got)
	}
	me := l.start("--sname", "me", "--cookie", "genki", "--remsh", l.full("a"))
	me.waitStderr("remote shell on "+l.full("a"), 10*time.Second)

	if got := me.eval("Node.self"); got != l.atom("a") {
		t.Errorf("Node.self in the remote shell = %s, want %s", got, l.atom("a"))
	}
	// a's peers, without the node that runs the remote shell.
	if got := me.eval("Node.list"); got != "["+l.atom("b")+"]" {
		t.Errorf("Node.list in the remote shell = %s, want [%s]", got, l.atom("b"))
	}
	if got := me.eval("peers = Node.list"); got != "["+l.atom("b")+"]" {
		t.Errorf("peers = Node.list printed %s", got)
	}
	if got := me.eval("length(peers)"); got != "1" {
		t.Errorf("a variable of the remote session: length(peers) = %s, want 1", got)
	}
	// The remote shell node connects hidden, as iex's does, so a's own
	// shell lists it only among the hidden nodes.
	if got := a.eval("Node.list"); got != "["+l.atom("b")+"]" {
		t.Errorf("Node.list in a's own shell = %s, want [%s]", got, l.atom("b"))
	}
	if got := a.eval("Node.list(:hidden)"); got != "["+l.atom("me")+"]" {
		t.Errorf("Node.list(:hidden) in a's own shell = %s, want [%s]", got, l.atom("me"))
	}

	// The shell's mailbox lives on a: a name registered for it there
	// receives what b sends to {name, a}.
	if got := me.eval("Process.register(self(), :remote_inbox)"); got != "true" {
		t.Fatalf("Process.register in the remote shell = %s", got)
	}
	if got := a.eval("Process.whereis(:remote_inbox)"); !strings.HasPrefix(got, "#PID<0.") {
		t.Errorf("Process.whereis(:remote_inbox) in a's own shell = %s, want a pid", got)
	}
	if got := b.eval(fmt.Sprintf("send({:remote_inbox, %s}, {:hello, 1})", l.atom("a"))); got != "{:hello, 1}" {
		t.Fatalf("send from b printed %s", got)
	}
	if got := me.eval("receive(5000)"); got != "{:hello, 1}" {
		t.Errorf("receive(5000) in the remote shell = %s, want {:hello, 1}", got)
	}
	if got := me.eval("send(self(), :to_myself)"); got != ":to_myself" {
		t.Errorf("send(self(), ...) printed %s", got)
	}
	if got := me.eval("flush()"); got != ":to_myself" {
		t.Errorf("flush() printed %s first, want :to_myself", got)
	}
	if got := me.next(5 * time.Second); got != ":ok" {
		t.Errorf("flush() ended with %s, want :ok", got)
	}
	// a's own shell keeps its own mailbox.
	if got := a.eval("receive(0)"); got != ":timeout" {
		t.Errorf("receive(0) in a's own shell = %s, want :timeout", got)
	}

	// A failing input fails in the remote shell alone.
	io.WriteString(me.stdin, "Node.lst\nNode.self\n")
	if got := me.next(10 * time.Second); got != l.atom("a") {
		t.Errorf("Node.self after a failing input = %s", got)
	}
	me.waitStderr("Node.list", 5*time.Second)
	me.stdin.Close()
	if code := me.waitExit(10 * time.Second); code != 1 {
		t.Errorf("remote shell exit status = %d after a failing input, want 1", code)
	}
	if got := a.eval("Node.self"); got != l.atom("a") {
		t.Errorf("a after the remote shell left: Node.self = %s", got)
	}
	if got, ok := a.listUntil(func(s string) bool { return s == "["+l.atom("b")+"]" }, 3*time.Second); !ok {
		t.Errorf("Node.list on a after the remote shell left = %s, want [%s]", got, l.atom("b"))
	}
}

func TestRemshEvalJSON(t *testing.T) {
	l := newLab(t)
	l.node("a", "--discovery", "none")
	p := l.start("--sname", "me", "--cookie", "genki", "--remsh", "a", "--eval", "{Node.self, Node.list}", "--format", "json")
	if code := p.waitExit(10 * time.Second); code != 0 {
		t.Errorf("--remsh a --eval exit status = %d, want 0", code)
	}
	want := fmt.Sprintf(`["%s",[]]`, l.full("a"))
	var lines []string
	for line := range p.lines {
		lines = append(lines, line)
	}
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("--remsh a --eval printed %q, want [%s]", lines, want)
	}
}

func TestRemshUnreachableExits1(t *testing.T) {
	l := newLab(t)
	l.node("a", "--discovery", "none")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such node", []string{"--cookie", "genki", "--remsh", l.full("nobody")}, "no node named nobody"},
		{"no such host", []string{"--cookie", "genki", "--remsh", "a@no-such-host.invalid"}, "no-such-host.invalid"},
		{"wrong cookie", []string{"--cookie", "other", "--remsh", l.full("a")}, "the cookies differ"},
		{"itself", []string{"--cookie", "genki", "--remsh", l.full("me")}, "it is this node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := l.start(append([]string{"--sname", "me"}, tc.args...)...)
			if code := p.waitExit(20 * time.Second); code != 1 {
				t.Errorf("exit status = %d, want 1", code)
			}
			msg := strings.TrimSpace(p.stderr.String())
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("stderr has several lines, want one:\n%s", msg)
			}
			if !strings.Contains(msg, "cannot open a remote shell") || !strings.Contains(msg, tc.want) {
				t.Errorf("stderr = %q, want a line saying the remote shell cannot open and %q", msg, tc.want)
			}
		})
	}
}

func TestRemshTerminalPrompt(t *testing.T) {
	l := newLab(t)
	l.node("a", "--discovery", "none")
	tm := l.startTerm([]string{"NO_COLOR=1"}, "--sname", "me", "--cookie", "genki", "--remsh", l.full("a"))
	tm.expect(l.prompt("a", 1), 10*time.Second)
	tm.send("Node.self\r")
	tm.expect(l.atom("a"), 5*time.Second)
	tm.expect(l.prompt("a", 2), 5*time.Second)
	tm.send("[1,\r")
	tm.expect(fmt.Sprintf("...(%s)2> ", l.full("a")), 5*time.Second)
	tm.send("2]\r")
	tm.expect("[1, 2]", 5*time.Second)
	tm.expect(l.prompt("a", 3), 5*time.Second)
	tm.send("receive()\r")
	time.Sleep(300 * time.Millisecond)
	// Ctrl-C stops the input on a and the shell goes on.
	tm.send("\x03")
	tm.expect("interrupted", 5*time.Second)
	tm.expect(l.prompt("a", 3), 5*time.Second)
	if strings.Contains(tm.text(), "context canceled") {
		t.Errorf("the interrupt message shows the Go context error:\n%q", tm.text())
	}
	tm.send("\x04")
	if code := tm.waitExit(10 * time.Second); code != 0 {
		t.Errorf("exit status after Ctrl-D = %d, want 0", code)
	}
}

func TestRemshBannerFirstAndLoss(t *testing.T) {
	l := newLab(t)
	a := l.node("a", "--discovery", "none")
	me := l.start("--sname", "me", "--cookie", "genki", "--remsh", l.full("a"))
	me.waitStderr("remote shell on "+l.full("a"), 10*time.Second)
	if got := me.eval("Node.self"); got != l.atom("a") {
		t.Fatalf("Node.self in the remote shell = %s, want %s", got, l.atom("a"))
	}

	errs := me.stderr.String()
	banner := strings.Index(errs, "gonode: node "+l.full("me")+" listening")
	connected := strings.Index(errs, "connected to "+l.atom("a"))
	if banner < 0 {
		t.Errorf("stderr lacks the banner:\n%s", errs)
	}
	if connected >= 0 && connected < banner {
		t.Errorf("the connection log line comes before the banner:\n%s", errs)
	}

	// The target dies between two inputs. The next input fails to
	// connect again, and the exit line gives the original loss.
	a.kill(syscall.SIGKILL)
	me.waitStderr("disconnected from "+l.atom("a"), 10*time.Second)
	io.WriteString(me.stdin, "Node.self\n")
	if code := me.waitExit(10 * time.Second); code != 1 {
		t.Errorf("exit status after the target died = %d, want 1", code)
	}
	want := "lost the remote shell on " + l.full("a") + ": the connection closed (connection_closed)"
	if !strings.Contains(me.stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, me.stderr.String())
	}
}
