package shell

import (
	"context"
	"errors"
	"fmt"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

// Runtime is a node as the shell's commands see it: package commands
// evaluates against it, and the shell's own mailbox is the one flush()
// drains.
type Runtime struct {
	Node    *node.Node
	Mailbox *node.Mailbox
}

// Self returns the node's name.
func (r *Runtime) Self() term.Atom { return term.Atom(r.Node.Name()) }

// List returns the connected nodes.
func (r *Runtime) List() []term.Atom {
	names := r.Node.List()
	atoms := make([]term.Atom, len(names))
	for i, name := range names {
		atoms[i] = term.Atom(name)
	}
	return atoms
}

// Ping reports whether peer answered a ping.
func (r *Runtime) Ping(ctx context.Context, peer term.Atom) bool {
	_, err := r.Node.Ping(ctx, string(peer))
	return err == nil
}

// Connect reports whether peer is connected after trying.
func (r *Runtime) Connect(ctx context.Context, peer term.Atom) bool {
	if string(peer) == r.Node.Name() {
		return true
	}
	return r.Node.Connect(ctx, string(peer))
}

// Disconnect closes the connection to peer.
func (r *Runtime) Disconnect(peer term.Atom) bool {
	return r.Node.Disconnect(string(peer))
}

// Send sends msg to the mailbox registered as name on peer.
func (r *Runtime) Send(ctx context.Context, name, peer term.Atom, msg any) error {
	err := r.Node.Send(ctx, string(name), string(peer), msg)
	if errors.Is(err, node.ErrNotRegistered) {
		return fmt.Errorf("%w: %v", commands.ErrNoProcess, err)
	}
	return err
}

// Flush removes and returns the messages in the shell's mailbox.
func (r *Runtime) Flush() []any { return r.Mailbox.Flush() }
