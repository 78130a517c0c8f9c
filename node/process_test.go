package node

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gonode/gonode/node/term"
)

// startNode starts a node without a port mapper on 127.0.0.1.
func startNode(t *testing.T, name string) *Node {
	t.Helper()
	n, err := Start(context.Background(), Config{
		Name:       name,
		Cookie:     NewCookie("genki"),
		ListenAddr: "127.0.0.1:0",
		NoEPMD:     true,
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func receiveWithin(t *testing.T, mb *Mailbox, d time.Duration) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	msg, err := mb.Receive(ctx)
	if err != nil {
		t.Fatalf("mailbox %s received nothing within %v: %v", mb.Name(), d, err)
	}
	return msg
}

func TestPIDStableAndLocalSend(t *testing.T) {
	n := startNode(t, "a@127.0.0.1")
	mb := n.Register("shell")
	pid := n.PID(mb)
	if again := n.PID(mb); again != pid {
		t.Errorf("second PID = %v, want %v", again, pid)
	}
	if pid.Node != "a@127.0.0.1" {
		t.Errorf("pid node = %s, want a@127.0.0.1", pid.Node)
	}
	other := n.PID(n.Register("other"))
	if other == pid {
		t.Errorf("two mailboxes share pid %v", pid)
	}
	if err := n.SendPID(context.Background(), pid, term.Atom("hi")); err != nil {
		t.Fatal(err)
	}
	if got := receiveWithin(t, mb, time.Second); got != term.Atom("hi") {
		t.Errorf("received %v, want :hi", got)
	}
}

func TestRegisterNameRules(t *testing.T) {
	n := startNode(t, "a@127.0.0.1")
	mb := n.Register("shell")
	pid := n.PID(mb)

	if err := n.RegisterName("console", pid); err != nil {
		t.Fatalf("RegisterName(console): %v", err)
	}
	if err := n.RegisterName("console", pid); !errors.Is(err, ErrNameTaken) {
		t.Errorf("second RegisterName(console) = %v, want ErrNameTaken", err)
	}
	if err := n.RegisterName("x", term.PID{Node: "b@127.0.0.1", ID: pid.ID}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("RegisterName of a remote pid = %v, want ErrNoProcess", err)
	}
	if err := n.RegisterName("y", term.PID{Node: "a@127.0.0.1", ID: 1 << 40}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("RegisterName of an unknown pid = %v, want ErrNoProcess", err)
	}
	if err := n.RegisterName("#PID<0.1.0>", pid); !errors.Is(err, ErrBadPIDName) {
		t.Errorf("RegisterName of a pid-like name = %v, want ErrBadPIDName", err)
	}

	if got, ok := n.Whereis("console"); !ok || got != pid {
		t.Errorf("Whereis(console) = %v, %v, want %v", got, ok, pid)
	}
	if got := n.Registered(); !slices.Equal(got, []string{"console", "shell"}) {
		t.Errorf("Registered() = %q, want [console shell]", got)
	}
	n.Send(context.Background(), "console", n.Name(), int64(7))
	if got := receiveWithin(t, mb, time.Second); got != int64(7) {
		t.Errorf("message to console = %v, want 7", got)
	}

	if !n.UnregisterName("console") {
		t.Error("UnregisterName(console) = false, want true")
	}
	if n.UnregisterName("console") {
		t.Error("second UnregisterName(console) = true, want false")
	}
	if n.UnregisterName("#PID<0." + strconv.FormatUint(pid.ID, 10) + ".0>") {
		t.Error("UnregisterName removed a pid")
	}
	if _, ok := n.Whereis("console"); ok {
		t.Error("Whereis(console) found a pid after UnregisterName")
	}
}

func TestSendPIDAcrossNodesAndPeerInfo(t *testing.T) {
	a := startNode(t, "a@127.0.0.1")
	b := startNode(t, "b@127.0.0.1")
	bmb := b.Register("shell")
	bpid := b.PID(bmb)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.ConnectAddr(ctx, b.Name(), b.Addr().String(), "test"); err != nil {
		t.Fatalf("connect a to b: %v", err)
	}
	if err := a.SendPID(ctx, bpid, term.Tuple{term.Atom("hi"), "from a"}); err != nil {
		t.Fatal(err)
	}
	got := receiveWithin(t, bmb, 5*time.Second)
	if !term.Equal(got, term.Tuple{term.Atom("hi"), "from a"}) {
		t.Errorf("b received %s, want {:hi, \"from a\"}", term.Inspect(got))
	}

	info, ok := a.PeerInfo(b.Name())
	if !ok {
		t.Fatal("PeerInfo(b) not found after connecting")
	}
	if info.Via != "test" || !info.Outgoing || info.Since.IsZero() {
		t.Errorf("PeerInfo(b) = %+v, want via test, outgoing, with a start time", info)
	}
	if host, port, _ := net.SplitHostPort(info.Addr); host != "127.0.0.1" || port != strconv.Itoa(b.Port()) {
		t.Errorf("PeerInfo(b).Addr = %s, want 127.0.0.1:%d", info.Addr, b.Port())
	}
	if _, ok := b.PeerInfo("nobody@127.0.0.1"); ok {
		t.Error("PeerInfo of an unknown node found one")
	}
}
