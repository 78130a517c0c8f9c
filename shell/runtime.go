package shell

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

// Runtime is a node as the shell's commands see it: package commands
// evaluates against it, and the shell's own mailbox is the one flush()
// drains. A goroutine follows the node's nodeup and nodedown events to
// keep the known nodes and deliver the messages of Node.monitor; Close
// stops it.
type Runtime struct {
	node    *node.Node
	mailbox *node.Mailbox
	pid     term.PID

	// hidden is left out of List and Known: the node that runs a remote
	// shell on this one. Its connection is hidden too (gonode --remsh
	// starts a hidden node), so other shells list it only as hidden.
	hidden term.Atom

	mu        sync.Mutex
	known     []term.Atom                 // guarded by mu; every node seen connected, in order
	monitored map[term.Atom]bool          // guarded by mu
	rtt       map[term.Atom]time.Duration // guarded by mu; last round trip per node

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

var _ commands.Runtime = (*Runtime)(nil)

// NewRuntime returns the runtime of a shell whose mailbox is mb, and
// starts following n's events.
func NewRuntime(n *node.Node, mb *node.Mailbox) *Runtime {
	return newRuntime(n, mb, "")
}

// newRuntime is NewRuntime with a node to leave out of List and Known.
func newRuntime(n *node.Node, mb *node.Mailbox, hidden term.Atom) *Runtime {
	r := &Runtime{
		hidden:    hidden,
		node:      n,
		mailbox:   mb,
		pid:       n.PID(mb),
		monitored: make(map[term.Atom]bool),
		rtt:       make(map[term.Atom]time.Duration),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, name := range n.List() {
		if term.Atom(name) != hidden {
			r.known = append(r.known, term.Atom(name))
		}
	}
	events := n.Watch()
	go r.follow(events)
	return r
}

// Close stops following the node's events and waits for that goroutine.
func (r *Runtime) Close() {
	r.once.Do(func() { close(r.stop) })
	<-r.done
}

func (r *Runtime) follow(events <-chan node.Event) {
	defer close(r.done)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			r.handle(ev)
		case <-r.stop:
			return
		}
	}
}

func (r *Runtime) handle(ev node.Event) {
	name := term.Atom(ev.Node)
	r.mu.Lock()
	if name != r.hidden && !slices.Contains(r.known, name) {
		r.known = append(r.known, name)
	}
	monitored := r.monitored[name]
	r.mu.Unlock()
	if !monitored {
		return
	}
	kind := term.Atom("nodeup")
	if ev.Kind == node.NodeDown {
		kind = "nodedown"
	}
	r.node.SendPID(context.Background(), r.pid, term.Tuple{kind, name})
}

// Self returns the node's name.
func (r *Runtime) Self() term.Atom { return term.Atom(r.node.Name()) }

// List returns the connected nodes.
func (r *Runtime) List() []term.Atom {
	names := r.node.List()
	atoms := make([]term.Atom, 0, len(names))
	for _, name := range names {
		if term.Atom(name) != r.hidden {
			atoms = append(atoms, term.Atom(name))
		}
	}
	return atoms
}

// Hidden returns the nodes connected over hidden connections.
func (r *Runtime) Hidden() []term.Atom {
	names := r.node.ListHidden()
	atoms := make([]term.Atom, len(names))
	for i, name := range names {
		atoms[i] = term.Atom(name)
	}
	return atoms
}

// Known returns every node seen connected since the shell started.
func (r *Runtime) Known() []term.Atom {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.known)
}

// Ping checks that peer replies to a ping and records the round trip for
// Node.info.
func (r *Runtime) Ping(ctx context.Context, peer term.Atom) (time.Duration, error) {
	rtt, err := r.node.Ping(ctx, string(peer))
	if err == nil {
		r.mu.Lock()
		r.rtt[peer] = rtt
		r.mu.Unlock()
	}
	return rtt, err
}

// Connect reports whether peer is connected after trying.
func (r *Runtime) Connect(ctx context.Context, peer term.Atom) bool {
	if string(peer) == r.node.Name() {
		return true
	}
	return r.node.Connect(ctx, string(peer))
}

// Disconnect closes the connection to peer.
func (r *Runtime) Disconnect(peer term.Atom) bool {
	return r.node.Disconnect(string(peer))
}

// Send sends msg to the mailbox registered as name on peer.
func (r *Runtime) Send(ctx context.Context, name, peer term.Atom, msg any) error {
	err := r.node.Send(ctx, string(name), string(peer), msg)
	if errors.Is(err, node.ErrNotRegistered) {
		return fmt.Errorf("%w: %v", commands.ErrNoProcess, err)
	}
	return err
}

// SendPID sends msg to the mailbox with pid.
func (r *Runtime) SendPID(ctx context.Context, pid term.PID, msg any) error {
	return r.node.SendPID(ctx, pid, msg)
}

// Flush removes and returns the messages in the shell's mailbox.
func (r *Runtime) Flush() []any { return r.mailbox.Flush() }

// Receive returns the oldest message of the shell's mailbox, waiting up
// to timeout, or until ctx is done when timeout is negative.
func (r *Runtime) Receive(ctx context.Context, timeout time.Duration) (any, bool, error) {
	wait := ctx
	if timeout >= 0 {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	msg, err := r.mailbox.Receive(wait)
	switch {
	case err == nil:
		return msg, true, nil
	case ctx.Err() != nil:
		return nil, false, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return nil, false, nil
	}
	return nil, false, err
}

// SelfPID returns the pid of the shell's mailbox.
func (r *Runtime) SelfPID() term.PID { return r.pid }

// Register registers the local mailbox pid under name.
func (r *Runtime) Register(name term.Atom, pid term.PID) error {
	return r.node.RegisterName(string(name), pid)
}

// Unregister removes a registered name.
func (r *Runtime) Unregister(name term.Atom) bool { return r.node.UnregisterName(string(name)) }

// Whereis returns the pid registered under name.
func (r *Runtime) Whereis(name term.Atom) (term.PID, bool) { return r.node.Whereis(string(name)) }

// Registered returns the registered names.
func (r *Runtime) Registered() []term.Atom {
	names := r.node.Registered()
	atoms := make([]term.Atom, len(names))
	for i, name := range names {
		atoms[i] = term.Atom(name)
	}
	return atoms
}

// Monitor turns the nodeup and nodedown messages for peer on or off.
// Turning it on connects to peer, and a failure puts {:nodedown, peer} in
// the mailbox at once, as Erlang's monitor_node does.
func (r *Runtime) Monitor(ctx context.Context, peer term.Atom, on bool) error {
	r.mu.Lock()
	if on {
		r.monitored[peer] = true
	} else {
		delete(r.monitored, peer)
	}
	r.mu.Unlock()
	if on && !r.Connect(ctx, peer) {
		return r.node.SendPID(ctx, r.pid, term.Tuple{term.Atom("nodedown"), peer})
	}
	return nil
}

// Info describes the connection to peer.
func (r *Runtime) Info(peer term.Atom) (commands.NodeInfo, error) {
	r.mu.Lock()
	rtt := r.rtt[peer]
	r.mu.Unlock()
	if string(peer) == r.node.Name() {
		return commands.NodeInfo{Connected: true, Strategy: "this", Address: r.node.Addr().String()}, nil
	}
	p, ok := r.node.PeerInfo(string(peer))
	if !ok {
		return commands.NodeInfo{LastRTT: rtt}, nil
	}
	return commands.NodeInfo{
		Connected: true, Strategy: p.Via, Address: p.Addr, Since: p.Since, LastRTT: rtt,
		MessagesIn: p.Stats.MessagesIn, MessagesOut: p.Stats.MessagesOut,
		BytesIn: p.Stats.BytesIn, BytesOut: p.Stats.BytesOut,
	}, nil
}
