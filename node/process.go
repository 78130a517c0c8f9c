package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gonode/gonode/node/term"
)

// A mailbox gets a pid on first use by PID. The pid is registered as a
// name of its own, "#PID<0.ID.0>", so that a message to a pid travels as
// a message to that name: a remote gonode node delivers it like one to a
// registered name. Names that users register may not take that form.
const pidNamePrefix = "#PID<0."

// NOTE: pidIDs keeps every mailbox that got a pid until the process
// exits, which suits the few long-lived mailboxes of a shell but not a
// program that makes mailboxes without end.
var (
	nextPID atomic.Uint64 // last pid ID handed out, shared by all nodes of the process
	pidIDs  sync.Map      // *Mailbox -> uint64 pid ID
)

// Errors of RegisterName.
var (
	ErrNameTaken  = errors.New("the name is already registered")
	ErrNoProcess  = errors.New("no such local process")
	ErrBadPIDName = errors.New(`names starting with "#PID<0." are reserved for pids`)
)

func pidName(id uint64) string { return pidNamePrefix + strconv.FormatUint(id, 10) + ".0>" }

// PID returns the pid of mb, a mailbox of this node, giving it one on the
// first call.
func (n *Node) PID(mb *Mailbox) term.PID {
	id, loaded := pidIDs.Load(mb)
	if !loaded {
		id, loaded = pidIDs.LoadOrStore(mb, nextPID.Add(1))
	}
	if !loaded {
		n.mu.Lock()
		n.mailboxes[pidName(id.(uint64))] = mb
		n.mu.Unlock()
	}
	return term.PID{Node: term.Atom(n.name), ID: id.(uint64)}
}

// NewMailbox makes a mailbox that no name is registered for, so that only
// its pid reaches it, and returns it with that pid. ReleaseMailbox
// removes it.
func (n *Node) NewMailbox() (*Mailbox, term.PID) {
	mb := newMailbox("", n.cfg.MailboxLimit)
	return mb, n.PID(mb)
}

// ReleaseMailbox removes mb's pid and every name registered for mb, so
// that messages to them are dropped from then on.
func (n *Node) ReleaseMailbox(mb *Mailbox) {
	n.mu.Lock()
	for name, registered := range n.mailboxes {
		if registered == mb {
			delete(n.mailboxes, name)
		}
	}
	n.mu.Unlock()
	pidIDs.Delete(mb)
}

// SendPID sends msg to the mailbox with pid, on this node or another.
func (n *Node) SendPID(ctx context.Context, pid term.PID, msg any) error {
	return n.Send(ctx, pidName(pid.ID), string(pid.Node), msg)
}

// RegisterName registers the local mailbox with pid under name as well,
// as Erlang's register/2 does. It fails with ErrNameTaken when name is
// registered already and with ErrNoProcess when pid is not a mailbox of
// this node.
func (n *Node) RegisterName(name string, pid term.PID) error {
	if strings.HasPrefix(name, pidNamePrefix) {
		return fmt.Errorf("register %q: %w", name, ErrBadPIDName)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if string(pid.Node) != n.name {
		return fmt.Errorf("register %q: %w: the pid is on %s", name, ErrNoProcess, pid.Node)
	}
	mb, ok := n.mailboxes[pidName(pid.ID)]
	if !ok {
		return fmt.Errorf("register %q: %w", name, ErrNoProcess)
	}
	if _, taken := n.mailboxes[name]; taken {
		return fmt.Errorf("register %q: %w", name, ErrNameTaken)
	}
	n.mailboxes[name] = mb
	return nil
}

// UnregisterName removes a registered name and reports whether it was
// registered. Pids cannot be unregistered.
func (n *Node) UnregisterName(name string) bool {
	if strings.HasPrefix(name, pidNamePrefix) {
		return false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.mailboxes[name]
	delete(n.mailboxes, name)
	return ok
}

// Whereis returns the pid of the mailbox registered under name.
func (n *Node) Whereis(name string) (term.PID, bool) {
	n.mu.Lock()
	mb, ok := n.mailboxes[name]
	n.mu.Unlock()
	if !ok || strings.HasPrefix(name, pidNamePrefix) {
		return term.PID{}, false
	}
	return n.PID(mb), true
}

// Registered returns the registered names, sorted, without pids.
func (n *Node) Registered() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var names []string
	for name := range n.mailboxes {
		if !strings.HasPrefix(name, pidNamePrefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}
