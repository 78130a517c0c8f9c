package discovery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/gonode/gonode/node/ratelog"
)

// receive reads datagrams from conn and handles each until conn is
// closed, which returns nil, or a read fails, which returns the error.
func (g *Gossip) receive(conn net.PacketConn, c Cluster, self string) error {
	// The kernel truncates a datagram to the buffer, so a buffer one byte
	// larger than MaxPacketSize lets Decode see and reject oversized ones.
	buf := make([]byte, MaxPacketSize+1)
	for {
		n, src, err := conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("gossip read: %w", err)
		}
		udp, ok := src.(*net.UDPAddr)
		if !ok {
			continue
		}
		g.handle(buf[:n], udp.AddrPort(), c, self)
	}
}

// handle decodes one datagram from src and reports a new peer to c.
func (g *Gossip) handle(packet []byte, src netip.AddrPort, c Cluster, self string) {
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	if !g.rate.allow(src.Addr(), time.Now()) {
		g.stats.overRate.Add(1)
		g.logOverRate(src.Addr())
		return
	}
	hb, err := g.codec.Decode(packet)
	switch {
	case errors.Is(err, ErrUnopenable):
		g.stats.unopenable.Add(1)
		g.logUnopenable(src, err)
		return
	case err != nil:
		// Foreign packets are common on a shared group, so they are only
		// counted and summarized.
		g.stats.foreign.Add(1)
		if errors.Is(err, ErrLibcluster) {
			g.stats.libcluster.Add(1)
		}
		return
	}
	if hb.Name == self {
		g.stats.own.Add(1)
		if hb.Port != g.tcpPort || !isLocalAddr(src.Addr()) {
			g.logNameClash(src, hb)
		}
		return
	}
	g.stats.received.Add(1)
	if c.Connected(hb.Name) {
		return
	}
	addr := netip.AddrPortFrom(src.Addr(), uint16(hb.Port))
	c.Connect(Peer{Name: hb.Name, Addr: addr.String(), Strategy: g.Name()})
}

// logUnopenable logs an unopenable heartbeat from src, at most once per
// sender address every ratelog.DefaultWindow.
func (g *Gossip) logUnopenable(src netip.AddrPort, err error) {
	key := src.String()
	ok, suppressed, since := g.senders.Allow("unopenable " + key)
	if !ok {
		return
	}
	msg := fmt.Sprintf("cannot open gossip heartbeat from %s: %v (%s)", key, err, unopenableHint(err))
	g.logger.Warn(msg+ratelog.Suffix(suppressed, since), "sender", key)
}

// logOverRate logs a packet dropped over the rate of its source, at most
// once per source every ratelog.DefaultWindow.
func (g *Gossip) logOverRate(src netip.Addr) {
	key := src.String()
	ok, suppressed, since := g.senders.Allow("rate " + key)
	if !ok {
		return
	}
	msg := fmt.Sprintf("dropping gossip packets from %s: it sends more than %d per second", key, g.rate.perSecond)
	g.logger.Warn(msg+ratelog.Suffix(suppressed, since), "sender", key)
}

// unopenableHint returns the likely cause of an unopenable heartbeat.
func unopenableHint(err error) string {
	switch {
	case errors.Is(err, ErrAuthentication):
		return "another --gossip-secret?"
	case errors.Is(err, ErrSealed):
		return "the sender has a --gossip-secret and this node has none"
	case errors.Is(err, ErrNotSealed):
		return "this node has a --gossip-secret and the sender has none"
	default:
		return "another gonode version?"
	}
}

// isLocalAddr reports whether ip is an address of one of this host's
// interfaces. It is asked only about heartbeats that carry this node's
// own name, which the per-source rate limit bounds.
func isLocalAddr(ip netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell, so do not warn
	}
	ip = ip.Unmap().WithZone("")
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if local, ok := netip.AddrFromSlice(n.IP); ok && local.Unmap() == ip {
				return true
			}
		}
	}
	return false
}

// logNameClash logs, once, a heartbeat that has this node's name but
// another transport port or another host's address, which means a second
// node uses the same name.
func (g *Gossip) logNameClash(src netip.AddrPort, hb Heartbeat) {
	g.mu.Lock()
	logged := g.loggedNameClash
	g.loggedNameClash = true
	g.mu.Unlock()
	if logged {
		return
	}
	if hb.Port == g.tcpPort {
		g.logger.Warn(fmt.Sprintf("gossip heartbeat from %s, another host, advertises this node's name %q (another node with the same name? Give each host its own host name, or use --name)",
			src, hb.Name))
		return
	}
	g.logger.Warn(fmt.Sprintf("gossip heartbeat from %s advertises this node's name %q with transport port %d, not %d (another node with the same name?)",
		src, hb.Name, hb.Port, g.tcpPort))
}
