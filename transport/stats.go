package transport

import "sync/atomic"

// ConnStats counts the message frames (FrameMessage) of a connection in
// each direction since the handshake. Bytes are those of the frames'
// length headers and bodies before sealing, so the figures of one end
// match the other end's figures for the opposite direction. Ticks,
// pings, calls and the goodbye are not counted.
type ConnStats struct {
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
}

// connStats are the counters behind ConnStats, updated without a lock.
type connStats struct {
	msgsIn, msgsOut   atomic.Uint64
	bytesIn, bytesOut atomic.Uint64
}

func (s *connStats) sent(frameBytes int) {
	s.msgsOut.Add(1)
	s.bytesOut.Add(uint64(frameBytes))
}

func (s *connStats) received(frameBytes int) {
	s.msgsIn.Add(1)
	s.bytesIn.Add(uint64(frameBytes))
}

// Stats returns the connection's message counters. The four counters are
// read one after the other, so a message in flight may be counted in
// MessagesOut but not yet in BytesOut.
func (c *Conn) Stats() ConnStats {
	return ConnStats{
		MessagesIn:  c.stats.msgsIn.Load(),
		MessagesOut: c.stats.msgsOut.Load(),
		BytesIn:     c.stats.bytesIn.Load(),
		BytesOut:    c.stats.bytesOut.Load(),
	}
}
