package node

import (
	"time"

	"github.com/gonode/gonode/transport"
)

// PeerInfo describes the connection to a connected node.
type PeerInfo struct {
	Name string
	// Addr is the peer's transport address, host:port.
	Addr string
	// Via is what made the connection: a discovery strategy's name such as
	// "gossip", "node" for Connect, Ping or Send, or "incoming" when the
	// peer dialed this node.
	Via   string
	Since time.Time
	// Outgoing is set when this node dialed the connection.
	Outgoing bool
	// Stats counts the messages and their bytes in each direction.
	Stats transport.ConnStats
}

// PeerInfo describes the connection to node, and reports false when node
// is not connected.
func (n *Node) PeerInfo(node string) (PeerInfo, bool) {
	n.mu.Lock()
	p, ok := n.peers[node]
	n.mu.Unlock()
	if !ok {
		return PeerInfo{}, false
	}
	return PeerInfo{
		Name:     p.name,
		Addr:     p.conn.RemoteAddr().String(),
		Via:      p.via,
		Since:    p.since,
		Outgoing: p.outgoing,
		Stats:    p.conn.Stats(),
	}, true
}
