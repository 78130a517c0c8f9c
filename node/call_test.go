package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

func TestCallBetweenNodes(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	b.HandleCall("whoami", func(ctx context.Context, peer string, payload []byte) ([]byte, error) {
		return []byte(peer + ":" + string(payload)), nil
	})

	// The first call connects.
	got, err := a.Call(ctx, b.Name(), "whoami", []byte("hi"))
	if err != nil {
		t.Fatalf("Call(whoami): %v", err)
	}
	if want := a.Name() + ":hi"; string(got) != want {
		t.Errorf("Call(whoami) = %q, want %q: the caller's proven name and the payload", got, want)
	}
	_, err = a.Call(ctx, b.Name(), "nothing", nil)
	var cerr *transport.CallError
	if !errors.As(err, &cerr) || !strings.Contains(cerr.Message, "unknown call method") {
		t.Errorf("Call of an unknown method: error = %v, want a *transport.CallError about it", err)
	}
	if _, err := b.Call(ctx, b.Name(), "whoami", nil); err != nil {
		t.Errorf("Call of this node's own method: %v", err)
	}
}

func TestPeerInfoCountsMessages(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	b := startNode(t, "b", "genki", epmdAddr)
	ctx := testContext(t)
	inbox := b.Register("inbox")
	connectPair(t, ctx, a, b)
	for _, msg := range []any{term.Atom("one"), "two", int64(3)} {
		if err := a.Send(ctx, "inbox", b.Name(), msg); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		if _, err := inbox.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	out, ok := a.PeerInfo(b.Name())
	if !ok {
		t.Fatalf("PeerInfo(%s) on a: not connected", b.Name())
	}
	in, ok := b.PeerInfo(a.Name())
	if !ok {
		t.Fatalf("PeerInfo(%s) on b: not connected", a.Name())
	}
	if out.Stats.MessagesOut != 3 || out.Stats.BytesOut == 0 {
		t.Errorf("a's stats for b = %+v, want 3 messages out and their bytes", out.Stats)
	}
	if in.Stats.MessagesIn != out.Stats.MessagesOut || in.Stats.BytesIn != out.Stats.BytesOut {
		t.Errorf("b's stats for a = %+v, want a's out counts %+v as in counts", in.Stats, out.Stats)
	}
}

func TestNewMailboxReachedByPIDOnly(t *testing.T) {
	epmdAddr := startEPMD(t)
	a := startNode(t, "a", "genki", epmdAddr)
	ctx := testContext(t)
	mb, pid := a.NewMailbox()
	if len(a.Registered()) != 0 {
		t.Errorf("Registered() = %v after NewMailbox, want none", a.Registered())
	}
	if err := a.SendPID(ctx, pid, term.Atom("hi")); err != nil {
		t.Fatalf("SendPID: %v", err)
	}
	if msgs := mb.Flush(); len(msgs) != 1 || msgs[0] != term.Atom("hi") {
		t.Errorf("mailbox holds %v, want [:hi]", msgs)
	}
	if err := a.RegisterName("named", pid); err != nil {
		t.Fatal(err)
	}
	a.ReleaseMailbox(mb)
	if err := a.SendPID(ctx, pid, term.Atom("late")); !errors.Is(err, node.ErrNotRegistered) {
		t.Errorf("SendPID after ReleaseMailbox: error = %v, want ErrNotRegistered", err)
	}
	if _, ok := a.Whereis("named"); ok {
		t.Error("the name registered for a released mailbox is still there")
	}
}
