package shell

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

func TestRemoteShellSessions(t *testing.T) {
	a := startNode(t, "a@127.0.0.1")
	b := startNode(t, "b@127.0.0.1")
	c := startNode(t, "c@127.0.0.1")
	srv := ServeRemote(a)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, peer := range []*node.Node{b, c} {
		if err := peer.ConnectAddr(ctx, a.Name(), a.Addr().String(), "test"); err != nil {
			t.Fatal(err)
		}
	}

	rs, err := OpenRemote(ctx, b, a.Name())
	if err != nil {
		t.Fatalf("OpenRemote: %v", err)
	}
	res, err := rs.Eval(ctx, "x = Node.self")
	if err != nil || res.Value != term.Atom(a.Name()) {
		t.Errorf("Eval(x = Node.self) = %v, %v, want %s", res.Value, err, a.Name())
	}
	if rs.Counter() != 2 || strings.Join(rs.Variables(), ",") != "x" {
		t.Errorf("after one input: Counter() = %d, Variables() = %v, want 2 and [x]", rs.Counter(), rs.Variables())
	}
	if res, err := rs.Eval(ctx, "Node.list"); err != nil || !term.Equal(res.Value, term.List{term.Atom(c.Name())}) {
		t.Errorf("Eval(Node.list) = %v, %v, want [c] without b, which runs the shell", res.Value, err)
	}
	_, err = rs.Eval(ctx, "{1, 2 3}")
	var cerr *commands.Error
	if !errors.As(err, &cerr) || cerr.Kind != "SyntaxError" || cerr.Line != 1 || cerr.Column != 7 {
		t.Errorf("Eval({1, 2 3}) error = %#v, want a SyntaxError at 1:7", err)
	}
	if _, err := rs.Eval(ctx, "# a comment"); !errors.Is(err, commands.ErrEmpty) {
		t.Errorf("Eval of a comment: error = %v, want ErrEmpty", err)
	}
	if res, err := rs.Eval(ctx, "h Node.self"); err != nil || !res.Quiet || len(res.Output) == 0 {
		t.Errorf("Eval(h Node.self) = %+v, %v, want quiet output lines", res, err)
	}

	// Another peer cannot use b's session.
	stolen := &RemoteShell{local: c, target: a.Name(), id: rs.id}
	if _, err := stolen.Eval(ctx, "Node.self"); !errors.Is(err, ErrRemoteDown) || !strings.Contains(err.Error(), "no remote shell session") {
		t.Errorf("Eval of b's session from c: error = %v, want ErrRemoteDown for a missing session", err)
	}

	// Sessions of a peer end when it disconnects.
	b.Disconnect(a.Name())
	deadline := time.Now().Add(5 * time.Second)
	for {
		srv.mu.Lock()
		left := len(srv.sessions)
		srv.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d remote sessions left 5s after their peer disconnected", left)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := rs.Eval(ctx, "Node.self"); !errors.Is(err, ErrRemoteDown) {
		t.Errorf("Eval after the session ended: error = %v, want ErrRemoteDown", err)
	}
}

func TestRemoteShellLimit(t *testing.T) {
	a := startNode(t, "a@127.0.0.1")
	b := startNode(t, "b@127.0.0.1")
	srv := ServeRemote(a)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.ConnectAddr(ctx, a.Name(), a.Addr().String(), "test"); err != nil {
		t.Fatal(err)
	}
	var shells []*RemoteShell
	for i := range maxRemoteSessions {
		rs, err := OpenRemote(ctx, b, a.Name())
		if err != nil {
			t.Fatalf("OpenRemote number %d: %v", i+1, err)
		}
		shells = append(shells, rs)
	}
	if _, err := OpenRemote(ctx, b, a.Name()); err == nil || !strings.Contains(err.Error(), "too many remote shells") {
		t.Errorf("OpenRemote over the limit: error = %v, want too many remote shells", err)
	}
	shells[0].Close()
	if _, err := OpenRemote(ctx, b, a.Name()); err != nil {
		t.Errorf("OpenRemote after one closed: %v", err)
	}
}

func TestRemoteShellReportsLoss(t *testing.T) {
	a := startNode(t, "a@127.0.0.1")
	b := startNode(t, "b@127.0.0.1")
	srv := ServeRemote(a)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.ConnectAddr(ctx, a.Name(), a.Addr().String(), "test"); err != nil {
		t.Fatal(err)
	}
	rs, err := OpenRemote(ctx, b, a.Name())
	if err != nil {
		t.Fatalf("OpenRemote: %v", err)
	}
	t.Cleanup(rs.Close)

	// The target shuts down while the shell waits for input, which is a
	// nodedown with reason disconnect. The next input fails to connect
	// again, but the error reports the loss.
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for b.Connected(a.Name()) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	_, err = rs.Eval(ctx, "Node.self")
	if !errors.Is(err, ErrRemoteDown) {
		t.Fatalf("Eval after the target closed: error = %v, want ErrRemoteDown", err)
	}
	if !strings.Contains(err.Error(), "(disconnect)") {
		t.Errorf("Eval error = %q, want the nodedown reason disconnect", err)
	}
	if strings.Contains(err.Error(), "connect to") {
		t.Errorf("Eval error = %q reports the failed reconnect, want the loss", err)
	}
}
