package transport

import (
	"context"
	"fmt"

	"github.com/gonode/gonode/transport/wire"
)

// MaxPeerEntries is the maximum number of entries in a FramePeers.
// SendPeers sends the first MaxPeerEntries of a longer list. A decoder
// keeps the first MaxPeerEntries of a longer frame and counts the others
// in Frame.PeersSkipped, so one forged frame yields at most that many.
const MaxPeerEntries = 256

// maxPeerAddrLen bounds the address of one entry, which is host:port with
// an IPv6 zone at most.
const maxPeerAddrLen = 128

// PeerAddr is one entry of a FramePeers: a node that the sender is
// connected to, and the transport address the sender reaches it at. An
// empty Addr means that the sender has no address that other hosts can
// use (the peer dialed in from a loopback address, for one), so the
// receiver looks the node up by its name.
type PeerAddr struct {
	Name string
	Addr string
}

// PeersHandler is implemented by a Handler that receives the peer lists
// that a peer sends with FramePeers. A Handler without it ignores them.
// listenPort is the port the sender listens on (0 when the frame has none),
// so that a connection the sender dialed can be dialed back; skipped
// counts the entries beyond MaxPeerEntries that were dropped.
type PeersHandler interface {
	HandlePeers(listenPort int, peers []PeerAddr, skipped int)
}

// peersBodySize returns the body size of a FramePeers.
func peersBodySize(f *Frame) int {
	n := 2 + wire.UintSize(uint64(f.ListenPort)) + wire.ArrayHeaderSize(len(f.Peers))
	for _, p := range f.Peers {
		n += 1 + strSize(p.Name) + strSize(p.Addr)
	}
	return n
}

// appendPeersBody appends a FramePeers body, without the length header.
func appendPeersBody(dst []byte, f *Frame) []byte {
	dst = wire.AppendArrayHeader(dst, 3)
	dst = append(dst, byte(FramePeers))
	dst = wire.AppendUint(dst, uint64(f.ListenPort))
	dst = wire.AppendArrayHeader(dst, len(f.Peers))
	for _, p := range f.Peers {
		dst = wire.AppendArrayHeader(dst, 2)
		dst = wire.AppendStr(dst, p.Name)
		dst = wire.AppendStr(dst, p.Addr)
	}
	return dst
}

// decodePeers decodes the listen port and the entries of a FramePeers.
// Entries past MaxPeerEntries are skipped and counted, and each entry may
// carry fields after the address, which are skipped too.
func decodePeers(d *wire.Decoder, f *Frame) error {
	port, err := d.ReadUint()
	if err != nil {
		return err
	}
	if port > 65535 {
		return d.Errorf("listen port %d out of range", port)
	}
	f.ListenPort = uint16(port)
	count, err := d.ReadArrayLen(noArrayLimit)
	if err != nil {
		return err
	}
	f.Peers = make([]PeerAddr, 0, min(count, MaxPeerEntries))
	for i := range count {
		if i >= MaxPeerEntries {
			if err := d.Skip(0); err != nil {
				return err
			}
			f.PeersSkipped++
			continue
		}
		p, err := decodePeerEntry(d)
		if err != nil {
			return err
		}
		f.Peers = append(f.Peers, p)
	}
	return nil
}

func decodePeerEntry(d *wire.Decoder) (PeerAddr, error) {
	fields, err := d.ReadArrayLen(noArrayLimit)
	if err != nil {
		return PeerAddr{}, err
	}
	if fields < 2 {
		return PeerAddr{}, d.Errorf("peer entry of %d fields, want at least 2", fields)
	}
	name, err := d.ReadBytes()
	if err != nil {
		return PeerAddr{}, err
	}
	if len(name) > MaxNameLen {
		return PeerAddr{}, d.Errorf("peer name of %d bytes is longer than %d", len(name), MaxNameLen)
	}
	addr, err := d.ReadBytes()
	if err != nil {
		return PeerAddr{}, err
	}
	if len(addr) > maxPeerAddrLen {
		return PeerAddr{}, d.Errorf("peer address of %d bytes is longer than %d", len(addr), maxPeerAddrLen)
	}
	for range fields - 2 {
		if err := d.Skip(0); err != nil {
			return PeerAddr{}, err
		}
	}
	return PeerAddr{Name: string(name), Addr: string(addr)}, nil
}

// SendPeers queues a FramePeers with the sender's listen port and its
// peer list, of which it sends the first MaxPeerEntries. Like pings, it is
// queued ahead of a full message queue, up to twice the queue limit. It
// fails with ErrNotStarted before Start and with an error wrapping
// ErrClosed once the connection is closing or down.
func (c *Conn) SendPeers(listenPort int, peers []PeerAddr) error {
	if listenPort < 0 || listenPort > 65535 {
		return fmt.Errorf("send peers to %q: listen port %d out of range", c.peer, listenPort)
	}
	f := Frame{Type: FramePeers, ListenPort: uint16(listenPort), Peers: peers[:min(len(peers), MaxPeerEntries)]}
	if err := c.enqueueFrame(context.Background(), &f, controlQueueLimit); err != nil {
		return fmt.Errorf("send peers to %q: %w", c.peer, err)
	}
	return nil
}

// PeerHidden reports whether the peer announced FlagHidden in the
// handshake.
func (c *Conn) PeerHidden() bool { return c.peerFlags&FlagHidden != 0 }
