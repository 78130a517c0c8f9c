package discovery

import "context"

// Peer is a node that a strategy found.
type Peer struct {
	// Name is the node's full name, such as "b@vm".
	Name string
	// Addr is the host:port of the node's transport listener.
	Addr string
	// Strategy is the Name of the strategy that found the node.
	Strategy string
}

// Cluster is the part of the local node that a strategy uses. Its methods
// may be called from any goroutine.
type Cluster interface {
	// Self returns the local node's full name, such as "a@vm".
	Self() string
	// Connected reports whether the node named name is connected now.
	Connected(name string) bool
	// Connect starts a connection attempt to p and returns without waiting
	// for it. A strategy calls it again on every later sighting of p while
	// p is not connected, so Connect must also tolerate an attempt that is
	// already under way.
	Connect(p Peer)
}

// Strategy is a way of finding nodes.
type Strategy interface {
	// Name returns the strategy's short name, such as "gossip".
	Name() string
	// Run finds nodes and reports them to c until ctx is done. It returns
	// nil when ctx ends it and an error when it cannot start or go on.
	Run(ctx context.Context, c Cluster) error
}
