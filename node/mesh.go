package node

import (
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

// The transitive mesh, as Erlang's connect_all: each visible node sends
// its visible peers to every visible peer (transport.FramePeers), and a
// node connects to the ones it lacks. A hidden node, and a node with
// Config.NoConnectAll, sends no lists and ignores the lists it receives.
// Connections with a hidden node on either side are hidden, so they are
// neither listed by List nor passed on.
const (
	// meshInterval is the least time between two rounds of peer lists,
	// so that a burst of nodeups costs one round.
	meshInterval = 200 * time.Millisecond

	// meshBurst and meshRate bound the connection attempts that received
	// peer lists start: at most meshBurst at once, then meshRate per
	// second, so a forged or huge list cannot make the node dial without
	// bound.
	meshBurst = 64
	meshRate  = 8

	// meshLogInterval is the least time between two log lines about
	// skipped peer list entries.
	meshLogInterval = 10 * time.Second
)

// tokenBucket is a rate limit of burst tokens that refill at rate per
// second. It is guarded by Node.mu.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time, burst, rate float64) bool {
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// meshEnabled reports whether this node takes part in the transitive
// mesh.
func (n *Node) meshEnabled() bool { return !n.cfg.Hidden && !n.cfg.NoConnectAll }

// wakeMeshLocked requests a round of peer lists from the mesh loop.
func (n *Node) wakeMeshLocked() {
	select {
	case n.meshWake <- struct{}{}:
	default:
	}
}

// meshLoop sends a round of peer lists each time the set of visible
// peers changes, at most once per meshInterval, until the node closes.
func (n *Node) meshLoop() {
	defer n.wg.Done()
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.meshWake:
		}
		n.sendPeerLists()
		pause.Reset(meshInterval)
		select {
		case <-n.ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// sendPeerLists sends every visible peer the list of the other visible
// peers.
func (n *Node) sendPeerLists() {
	n.mu.Lock()
	visible := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		if !p.hidden {
			visible = append(visible, p)
		}
	}
	entries := make([]transport.PeerAddr, len(visible))
	for i, p := range visible {
		entries[i] = transport.PeerAddr{Name: p.name, Addr: p.reachableAddrLocked()}
	}
	n.mu.Unlock()

	port := n.Port()
	list := make([]transport.PeerAddr, 0, len(entries))
	for i, p := range visible {
		list = list[:0]
		for j, e := range entries {
			if j != i {
				list = append(list, e)
			}
		}
		// An error means the connection is going down, and its nodedown
		// starts the next round.
		if err := p.conn.SendPeers(port, list); err != nil {
			n.log.Debug("peer list not sent", "peer", p.name, "err", err)
		}
	}
}

// reachableAddrLocked returns the transport address at which other hosts
// can reach p, or "" when this node has none: the address it dialed,
// or the peer's address with the listen port the peer announced. A
// loopback or unspecified address is never passed on, because on
// another host it names that host.
func (p *peer) reachableAddrLocked() string {
	var ap netip.AddrPort
	if tcp, ok := p.conn.RemoteAddr().(*net.TCPAddr); ok {
		ap = tcp.AddrPort()
	}
	if !p.outgoing {
		if p.listenPort == 0 {
			return ""
		}
		ap = netip.AddrPortFrom(ap.Addr(), uint16(p.listenPort))
	}
	ip := ap.Addr().Unmap()
	// NOTE: a link-local IPv6 address keeps its zone, the interface name
	// on this host, which is right on another host only when the two
	// interfaces have the same name.
	if !ip.IsValid() || ip.IsLoopback() || ip.IsUnspecified() {
		return ""
	}
	return netip.AddrPortFrom(ip, ap.Port()).String()
}

// HandlePeers receives a peer's list of its visible peers and connects to
// the ones this node lacks, within the mesh rate limit.
func (h *peerHandler) HandlePeers(listenPort int, peers []transport.PeerAddr, skipped int) {
	n := h.n
	n.mu.Lock()
	h.p.listenPort = listenPort
	n.mu.Unlock()
	if !n.meshEnabled() || h.p.hidden {
		return
	}
	fromLoopback := false
	if tcp, ok := h.p.conn.RemoteAddr().(*net.TCPAddr); ok {
		fromLoopback = tcp.IP.IsLoopback()
	}
	invalid, limited := 0, 0
	for _, e := range peers {
		if e.Name == n.name {
			continue
		}
		if _, err := ParseName(e.Name); err != nil || n.checkNameKind(e.Name) != nil {
			invalid++
			continue
		}
		addr, ok := meshAddr(e.Addr, fromLoopback)
		if !ok {
			invalid++
			continue
		}
		if n.connectLater(e.Name, addr, "mesh", true) == startLimited {
			limited++
		}
	}
	if invalid+limited+skipped > 0 {
		n.logSkippedEntries(h.p.name, invalid, limited, skipped)
	}
}

// meshAddr checks the address of a peer list entry, and returns "" for
// one that is empty, or loopback in a list that did not come over
// loopback, so that the node is looked up by name instead.
func meshAddr(addr string, fromLoopback bool) (string, bool) {
	if addr == "" {
		return "", true
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || ap.Port() == 0 {
		return "", false
	}
	ip := ap.Addr()
	if ip.IsUnspecified() || ip.IsMulticast() {
		return "", false
	}
	if ip.Unmap().IsLoopback() && !fromLoopback {
		return "", true
	}
	return addr, true
}

// logSkippedEntries logs, at most once per meshLogInterval, the entries
// of a peer list that were not acted on.
func (n *Node) logSkippedEntries(from string, invalid, limited, skipped int) {
	n.mu.Lock()
	now := time.Now()
	due := now.Sub(n.meshLoggedAt) >= meshLogInterval
	if due {
		n.meshLoggedAt = now
	}
	n.mu.Unlock()
	if !due {
		return
	}
	n.log.With("component", "mesh").Warn("peer list from "+term.Inspect(term.Atom(from))+" had entries that were not connected",
		"invalid", invalid, "rate_limited", limited, "over_limit", skipped,
		"limit", strconv.Itoa(meshBurst)+" at once, then "+strconv.Itoa(meshRate)+"/s")
}

// ListHidden returns the nodes connected over hidden connections, in the
// order they connected, as Erlang's nodes(hidden).
func (n *Node) ListHidden() []string { return n.listWhere(true) }
