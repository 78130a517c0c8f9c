package transport

import (
	"fmt"
	"time"
)

// The write side of a Conn.
//
// At most one goroutine at a time holds the write side (Conn.writing):
// it alone takes frames from the queue, seals them and writes them. A
// goroutine that queues a frame while the write side is free takes it, in
// kickLocked, and then either writes the queue itself or hands the write
// side to the writer goroutine:
//
//   - It writes itself when the connection is interactive: a frame arrived
//     since the last write, as for a ping, a pong or a request and its
//     reply, or nothing was written for burstGap. Its writes do not block
//     (rawio.Writer.TryWrite), and what the socket does not take at once goes to the
//     writer goroutine. This saves the wake-up of a second goroutine, which
//     on an idle core takes tens of microseconds, on each round trip.
//   - Otherwise the queue is part of a stream, and the writer goroutine
//     takes it, so frames queued while it writes go out in one write.
//
// The writer goroutine keeps the write side until the queue is empty, with
// writes that block under a deadline. Once Close has queued the goodbye,
// the write side goes to the writer goroutine for good, which writes the
// rest and returns.

// burstGap is the pause after a write past which a sender writes the next
// frame itself even when nothing was read in between. Senders of a stream
// queue frames faster than this, so their frames are batched.
const burstGap = 50 * time.Microsecond

// maxDirectWrites bounds the batches one sender writes from its own
// goroutine before it leaves the rest to the writer goroutine.
const maxDirectWrites = 4

// kickLocked makes sure that a goroutine writes the queue, after a frame
// was queued. It returns true when the caller took the write side and is
// to write the queue with writeDirect once it has unlocked mu.
func (c *Conn) kickLocked() bool {
	if c.writing {
		return false // the holder writes the new frame too
	}
	c.writing = true
	if c.raw != nil && (c.framesRead.Load() != c.readsAtWrite || time.Since(c.lastWrite) >= burstGap) {
		return true
	}
	c.handOff()
	return false
}

// handOff gives the write side, held by the caller, to the writer
// goroutine.
func (c *Conn) handOff() {
	select {
	case c.wake <- struct{}{}:
	default:
		// Only the holder hands off, and the writer goroutine takes the
		// value before it gives the write side up, so the channel is
		// empty here.
	}
}

// takeLocked moves the queue into c.batch for the holder of the write side
// and returns it, or returns nil when the queue is empty.
func (c *Conn) takeLocked() []byte {
	if len(c.pending) == 0 {
		return nil
	}
	c.batch, c.pending = c.pending, c.batch[:0]
	c.lastWrite = time.Now()
	c.readsAtWrite = c.framesRead.Load()
	c.cond.Broadcast()
	return c.batch
}

// sealBatch returns the bytes to write for batch: batch itself, or its
// sealed form on an encrypted connection.
func (c *Conn) sealBatch(batch []byte) ([]byte, error) {
	if c.seal == nil {
		return batch, nil
	}
	var err error
	if c.sealed, err = c.seal.sealFrames(c.sealed[:0], batch); err != nil {
		return nil, fmt.Errorf("seal frames to %q: %w", c.peer, err)
	}
	return c.sealed, nil
}

// writeDirect writes the queue from the calling goroutine, which holds the
// write side, without blocking. It gives the write side up when the queue
// is empty, and hands it to the writer goroutine when the socket takes
// less than a whole batch, when more keeps coming, or when Close has
// queued the goodbye.
func (c *Conn) writeDirect() {
	for range maxDirectWrites {
		c.mu.Lock()
		if c.downErr != nil {
			c.mu.Unlock()
			return
		}
		batch := c.takeLocked()
		if batch == nil {
			if c.closing {
				c.handOff()
			} else {
				c.writing = false
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()

		out, err := c.sealBatch(batch)
		if err != nil {
			c.fail(err)
			c.nc.Close()
			return
		}
		if c.deadlineSet {
			c.nc.SetWriteDeadline(time.Time{})
			c.deadlineSet = false
		}
		n, err := c.raw.TryWrite(out)
		if err != nil {
			c.writeFailed(err)
			return
		}
		if n > 0 {
			c.writes.Add(1)
		}
		if n < len(out) {
			c.rest = out[n:]
			c.handOff()
			return
		}
		c.trimBuffers()
	}
	c.handOff()
}

// trimBuffers drops write buffers that a large batch grew, so that one
// burst does not pin them for the life of the connection.
func (c *Conn) trimBuffers() {
	if cap(c.batch) > maxRetainedBatch {
		c.batch = nil
	}
	if cap(c.sealed) > maxRetainedBatch {
		c.sealed = nil
	}
}

// writeFailed takes the connection down after a failed write, unless the
// write failed because Close is closing the socket.
func (c *Conn) writeFailed(err error) {
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if !closing {
		c.fail(fmt.Errorf("write to %q: %w", c.peer, err))
	}
	c.nc.Close()
}

// writeLoop is the writer goroutine. It writes the queue whenever it is
// handed the write side, sends a tick when a tick interval passed without
// a write, and takes the connection down when nothing was read for the
// tick timeout.
func (c *Conn) writeLoop() {
	defer close(c.writerDone)
	// The ticker fires twice per tick interval. Every fire checks the
	// tick timeout, so a silent peer is found within half an interval of
	// it, and every second fire sends a tick unless something was written
	// since the last tick check.
	period := max(c.cfg.TickInterval/2, 1)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	fires := 0
	// The silence is measured between two fires, each delivered a little
	// late, so it may read just under a whole number of periods. The
	// slack keeps such a reading from costing one more period.
	timeout := c.cfg.TickTimeout - period/8

	lastWrites := c.writes.Load()
	lastRead := c.framesRead.Load()
	lastReadAt := time.Now()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case now := <-ticker.C:
			if n := c.framesRead.Load(); n != lastRead {
				lastRead, lastReadAt = n, now
			} else if now.Sub(lastReadAt) >= timeout {
				c.fail(fmt.Errorf("%w: nothing received from %q for %v", ErrTickTimeout, c.peer, now.Sub(lastReadAt).Round(time.Millisecond)))
				c.nc.Close()
				return
			}
			fires++
			if fires%2 != 0 {
				continue
			}
			wrote := c.writes.Load() != lastWrites
			lastWrites = c.writes.Load()
			if wrote || !c.claimForTick() {
				continue
			}
			if !c.writeHeld() {
				return
			}
			// The tick's own write is not traffic. Without this, the
			// next check would skip its tick, and ticks would go out
			// every other interval.
			lastWrites = c.writes.Load()
			continue
		}
		if !c.writeHeld() {
			return
		}
	}
}

// claimForTick queues a tick and takes the write side when the queue is
// empty and no goroutine holds the write side. When one does, it writes
// soon, which makes a tick needless.
func (c *Conn) claimForTick() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writing || c.closing || len(c.pending) != 0 {
		return false
	}
	c.pending = append(c.pending, 0, 0, 0, 0)
	c.writing = true
	return true
}

// writeHeld writes, from the writer goroutine, which holds the write side,
// what a non-blocking write left and then the queue until it is empty,
// and gives the write side up. It returns false when the writer goroutine
// is to return: the connection is down, or closing and written out.
func (c *Conn) writeHeld() bool {
	if len(c.rest) > 0 {
		rest := c.rest
		c.rest = nil
		if err := c.writeBatch(rest); err != nil {
			c.writeFailed(err)
			return false
		}
		c.writes.Add(1)
	}
	for {
		c.mu.Lock()
		batch := c.takeLocked()
		if batch == nil {
			closing := c.closing
			if !closing {
				c.writing = false
			}
			c.mu.Unlock()
			return !closing
		}
		c.mu.Unlock()

		out, err := c.sealBatch(batch)
		if err != nil {
			c.fail(err)
			c.nc.Close()
			return false
		}
		if err := c.writeBatch(out); err != nil {
			c.writeFailed(err)
			return false
		}
		c.writes.Add(1)
		c.trimBuffers()
	}
}

// writeBatch writes b in chunks, each under a fresh write deadline. The
// non-blocking writes of writeDirect check the deadline too, so it leaves
// deadlineSet for writeDirect to clear the deadline first.
func (c *Conn) writeBatch(b []byte) error {
	for len(b) > 0 {
		n := min(len(b), writeChunk)
		c.mu.Lock()
		deadline := time.Now().Add(c.cfg.TickTimeout)
		if c.closing && c.closeDeadline.Before(deadline) {
			deadline = c.closeDeadline
		}
		c.nc.SetWriteDeadline(deadline)
		c.deadlineSet = true
		c.mu.Unlock()
		if _, err := c.nc.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
