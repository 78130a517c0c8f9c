package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/gonode/gonode/transport"
)

// CallFunc serves one call method. peer is the calling node, whose name
// the handshake proved, and ctx is done when the caller cancels, its
// timeout passes or the connection goes down.
type CallFunc func(ctx context.Context, peer string, payload []byte) ([]byte, error)

// ErrUnknownMethod is the error of a call of a method that no HandleCall
// registered.
var ErrUnknownMethod = errors.New("unknown call method")

// HandleCall registers fn to serve calls of method from every peer, in
// place of an earlier fn for the same method. Any node that passed the
// cookie handshake may call it.
func (n *Node) HandleCall(method string, fn CallFunc) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.callFuncs[method] = fn
}

// Call runs method on node with payload and returns the result, as
// transport.Conn.Call does, connecting to node first when needed. A call
// to this node runs its CallFunc directly. A method that node does not
// serve fails with a *transport.CallError.
func (n *Node) Call(ctx context.Context, node, method string, payload []byte) ([]byte, error) {
	if node == n.name {
		return n.serveCall(ctx, n.name, method, payload)
	}
	p, err := n.peerOrConnect(ctx, node)
	if err != nil {
		return nil, err
	}
	return p.conn.Call(ctx, method, payload)
}

func (n *Node) serveCall(ctx context.Context, peer, method string, payload []byte) ([]byte, error) {
	n.mu.Lock()
	fn := n.callFuncs[method]
	n.mu.Unlock()
	if fn == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownMethod, method)
	}
	return fn(ctx, peer, payload)
}

// HandleCall serves a call from the peer with the node's CallFunc.
func (h *peerHandler) HandleCall(ctx context.Context, method string, payload []byte) ([]byte, error) {
	return h.n.serveCall(ctx, h.p.name, method, payload)
}

var _ transport.CallHandler = (*peerHandler)(nil)
