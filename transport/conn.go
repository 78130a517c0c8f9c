package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gonode/gonode/transport/rawio"
	"github.com/gonode/gonode/transport/wire"
)

// Limits of a connection's send queue and writes.
const (
	// queueLimit is the size in bytes of encoded frames that Send queues
	// before it blocks. A frame larger than the room left waits until the
	// queue is empty, so any frame within the maximum frame size fits.
	queueLimit = 1 << 20

	// controlQueueLimit is the queue size up to which pings and pongs are
	// still queued, so that they are not stuck behind a full queue of
	// messages.
	controlQueueLimit = 2 * queueLimit

	// writeChunk is the largest single write, so that each write gets a
	// fresh deadline and a slow but live peer is not timed out.
	writeChunk = 256 << 10

	// maxRetainedBatch is the largest write buffer the writer keeps for
	// the next batch.
	maxRetainedBatch = 4 << 20

	// maxCloseTimeout bounds how long Close waits for queued frames and
	// the goodbye to be written.
	maxCloseTimeout = time.Second
)

// Handler receives what arrives on a started Conn. Its methods run on the
// connection's reader goroutine, one call at a time: a slow HandleMessage
// delays the next message and reading from the peer. HandleDown is called
// exactly once, after the last HandleMessage. Both may call Conn.Close and
// Conn.Send.
type Handler interface {
	// HandleMessage receives one message. payload belongs to the handler,
	// which may keep it.
	HandleMessage(to, from string, payload []byte)

	// HandleDown receives why the connection went down: ErrClosed (Close
	// was called), ErrClosedByPeer (goodbye), ErrTickTimeout, or a read,
	// write or protocol error. Reason turns it into a word for logs.
	HandleDown(reason error)
}

// HandlerFuncs is a Handler made of two functions. A nil function ignores
// its event.
type HandlerFuncs struct {
	Message func(to, from string, payload []byte)
	Down    func(reason error)
}

// HandleMessage calls h.Message if it is set.
func (h HandlerFuncs) HandleMessage(to, from string, payload []byte) {
	if h.Message != nil {
		h.Message(to, from, payload)
	}
}

// HandleDown calls h.Down if it is set.
func (h HandlerFuncs) HandleDown(reason error) {
	if h.Down != nil {
		h.Down(reason)
	}
}

// Conn is a connection whose handshake has completed. Its methods are safe
// for concurrent use.
//
// After Start, a reader goroutine reads frames and calls the Handler, and a
// writer goroutine sends ticks, checks the tick timeout and writes what
// the senders leave to it. Send encodes each frame straight into a byte
// queue. One goroutine at a time holds the write side (see write.go). A
// sender that finds it free writes the queue itself when that cannot
// block. Otherwise the writer goroutine takes the whole queue at once, so
// frames queued while a write is in progress go out together in the next
// write.
type Conn struct {
	nc   net.Conn
	raw  *rawio.Writer // non-blocking writes to nc; nil when nc is not a socket
	fr   *FrameReader  // owned by the reader goroutine after Start
	cfg  Config
	peer string
	log  *slog.Logger

	peerCreation uint64       // the creation the peer proved in the handshake
	peerFlags    Flag         // the flags the peer proved in the handshake
	seal         *frameCipher // nil when frames go in clear; owned by the write side after Start

	wake       chan struct{} // capacity 1; a value hands the write side to the writer goroutine
	stop       chan struct{} // closed when downErr is set
	writerDone chan struct{} // closed when the writer goroutine returns
	done       chan struct{} // closed after HandleDown returns, or when an unstarted Conn is closed

	framesRead atomic.Uint64 // frames read, for the tick timeout
	writes     atomic.Uint64 // writes that sent bytes, for ticks
	inCallback atomic.Int32  // > 0 while a Handler method or a served call runs
	closeOnce  sync.Once
	stats      connStats

	peerVersion uint64      // the peer's handshake version
	calls       callState   // outgoing and served calls
	callHandler CallHandler // set by Start when the Handler serves calls

	// Owned by the goroutine that holds the write side.
	batch  []byte // the frames taken from pending
	sealed []byte // batch sealed
	rest   []byte // the unwritten tail of a non-blocking write, which the writer goroutine writes first
	// deadlineSet is set while the socket has the write deadline of the
	// writer goroutine's last write, which a non-blocking write must
	// clear first: the raw write checks it too.
	deadlineSet bool

	mu            sync.Mutex
	cond          sync.Cond                // signalled, with L = &mu, when pending shrinks or the connection goes down
	pending       []byte                   // guarded by mu; encoded frames no writer has taken yet
	writing       bool                     // guarded by mu; a goroutine holds the write side
	lastWrite     time.Time                // guarded by mu; when the last batch was taken for writing
	readsAtWrite  uint64                   // guarded by mu; framesRead at lastWrite
	started       bool                     // guarded by mu
	closing       bool                     // guarded by mu; Close has queued the goodbye
	closeDeadline time.Time                // guarded by mu; the write deadline once closing
	downErr       error                    // guarded by mu; why the connection went down, nil while it is up
	nextPing      uint64                   // guarded by mu
	pings         map[uint64]chan struct{} // guarded by mu; pings waiting for their pong, by id
}

func newConn(nc net.Conn, fr *FrameReader, cfg Config, peer string) *Conn {
	fr.maxSize = cfg.MaxFrameSize
	c := &Conn{
		nc:         nc,
		raw:        rawio.NewWriter(nc),
		fr:         fr,
		cfg:        cfg,
		peer:       peer,
		log:        cfg.Logger.With("peer", peer),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		done:       make(chan struct{}),
		pings:      make(map[uint64]chan struct{}),
	}
	c.cond.L = &c.mu
	c.calls.init()
	return c
}

// Peer returns the node name that the peer proved in the handshake.
func (c *Conn) Peer() string { return c.peer }

// PeerCreation returns the creation that the peer proved in the handshake
// (its Config.Creation), which tells one run of a node from the next.
func (c *Conn) PeerCreation() uint64 { return c.peerCreation }

// Encrypted reports whether the connection seals its frames.
func (c *Conn) Encrypted() bool { return c.seal != nil }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Start starts the reader and writer goroutines, which deliver to h. The
// owner calls it once it has decided to keep the connection. Calls after
// the first, and calls after Close, do nothing.
func (c *Conn) Start(h Handler) {
	if h == nil {
		h = HandlerFuncs{}
	}
	c.mu.Lock()
	if c.started || c.downErr != nil {
		c.mu.Unlock()
		return
	}
	c.started = true
	c.callHandler, _ = h.(CallHandler)
	c.mu.Unlock()
	go c.writeLoop()
	go c.run(h)
}

// Send queues a message to the registered name to on the peer, from the
// sender from, and returns without waiting for it to be written. Messages
// are sent in the order of the Send calls. Send copies payload, so the
// caller may reuse it. Send blocks while 1 MiB of encoded frames is
// queued. A peer that stops reading takes the connection down once a write
// has made no progress for Config.TickTimeout, which ends the wait. Send
// fails with
// ErrNotStarted before Start, with ErrFrameTooLarge for a message over the
// maximum frame size, and with an error wrapping ErrClosed once the
// connection is closing or down.
func (c *Conn) Send(to, from string, payload []byte) error {
	return c.SendContext(context.Background(), to, from, payload)
}

// SendContext is Send, except that a wait for room in the queue also ends
// when ctx is done, with an error wrapping ctx's error. A message that
// SendContext returned nil for is queued, whatever ctx does later.
func (c *Conn) SendContext(ctx context.Context, to, from string, payload []byte) error {
	size := messageBodySize(to, from, len(payload))
	if size > c.cfg.MaxFrameSize {
		return fmt.Errorf("send to %q: %w: message body of %d bytes exceeds the maximum %d", to, ErrFrameTooLarge, size, c.cfg.MaxFrameSize)
	}
	c.mu.Lock()
	if err := c.waitRoomLocked(ctx, frameHeaderSize+size, queueLimit); err != nil {
		c.mu.Unlock()
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return fmt.Errorf("waiting for room in the send queue to %q: %w", c.peer, err)
		}
		return err
	}
	c.pending = binary.BigEndian.AppendUint32(c.pending, uint32(size))
	c.pending = appendMessageBody(c.pending, to, from, payload)
	direct := c.kickLocked()
	c.mu.Unlock()
	if direct {
		c.writeDirect()
	}
	c.stats.sent(frameHeaderSize + size)
	return nil
}

// Ping sends a ping and waits for the peer's pong. It returns the round
// trip time, or ctx's error, or an error wrapping ErrClosed when the
// connection goes down first.
func (c *Conn) Ping(ctx context.Context) (time.Duration, error) {
	ch := make(chan struct{})
	start := time.Now()
	c.mu.Lock()
	c.nextPing++
	id := c.nextPing
	direct, err := c.enqueueControlLocked(FramePing, id)
	if err != nil {
		c.mu.Unlock()
		return 0, err
	}
	c.pings[id] = ch
	c.mu.Unlock()
	if direct {
		c.writeDirect()
	}

	select {
	case <-ch:
		return time.Since(start), nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pings, id)
		c.mu.Unlock()
		return 0, ctx.Err()
	case <-c.stop:
		c.mu.Lock()
		delete(c.pings, id)
		err := c.closedErrLocked()
		c.mu.Unlock()
		return 0, err
	}
}

// Close sends goodbye after the frames already queued, closes the
// connection and waits until HandleDown has returned. Writing the queue and
// the goodbye is bounded by the smaller of one second and
// Config.TickTimeout. Close is idempotent and always returns nil.
//
// Called from a Handler method, Close does not wait for the reader
// goroutine, which is the caller. It then still waits for the writer.
func (c *Conn) Close() error {
	c.closeOnce.Do(c.shutdown)
	// NOTE: the callback check cannot tell the reader goroutine from
	// another goroutine, so a Close on another goroutine during a Handler
	// call or a served call also returns without waiting for HandleDown.
	if c.inCallback.Load() == 0 {
		<-c.done
	}
	return nil
}

func (c *Conn) closeTimeout() time.Duration {
	return min(maxCloseTimeout, c.cfg.TickTimeout)
}

func (c *Conn) shutdown() {
	c.mu.Lock()
	if !c.started {
		// No goroutines run, so Close writes the goodbye itself.
		if c.downErr == nil {
			c.downErr = ErrClosed
			close(c.stop)
		}
		c.mu.Unlock()
		goodbye := appendGoodbye(nil)
		if c.seal != nil {
			// Without the goodbye the peer still sees the socket close.
			goodbye, _ = c.seal.sealFrames(nil, goodbye)
		}
		c.nc.SetWriteDeadline(time.Now().Add(c.closeTimeout()))
		c.nc.Write(goodbye)
		c.nc.Close()
		close(c.writerDone)
		close(c.done)
		return
	}
	if c.downErr == nil && !c.closing {
		c.closing = true
		c.closeDeadline = time.Now().Add(c.closeTimeout())
		c.nc.SetWriteDeadline(c.closeDeadline)
		c.pending = appendGoodbye(c.pending)
		if !c.writing {
			// The writer goroutine writes the goodbye and returns.
			c.writing = true
			c.handOff()
		}
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.writerDone
	c.nc.Close()
}

func appendGoodbye(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, 3)
	return append(dst, 0x92, byte(FrameGoodbye), 0xa0)
}

// waitRoomLocked waits until size more bytes fit a queue of limit bytes,
// the connection cannot send, or ctx is done.
func (c *Conn) waitRoomLocked(ctx context.Context, size, limit int) error {
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if c.downErr != nil || c.closing {
			return c.closedErrLocked()
		}
		if !c.started {
			return ErrNotStarted
		}
		if len(c.pending) == 0 || len(c.pending)+size <= limit {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if stop == nil && ctx.Done() != nil {
			// The cond has no channel to select on, so ctx wakes the
			// waiters when it is done.
			stop = context.AfterFunc(ctx, func() {
				c.mu.Lock()
				c.cond.Broadcast()
				c.mu.Unlock()
			})
		}
		c.cond.Wait()
	}
}

// closedErrLocked returns the error for a send on a connection that is
// closing or down.
func (c *Conn) closedErrLocked() error {
	if c.downErr == nil || errors.Is(c.downErr, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.downErr)
}

// enqueueControlLocked queues a ping or pong. It reports, as kickLocked
// does, whether the caller writes the queue itself.
func (c *Conn) enqueueControlLocked(t FrameType, id uint64) (direct bool, err error) {
	size := 2 + wire.UintSize(id)
	if err := c.waitRoomLocked(context.Background(), frameHeaderSize+size, controlQueueLimit); err != nil {
		return false, err
	}
	c.pending = binary.BigEndian.AppendUint32(c.pending, uint32(size))
	c.pending = appendControl(c.pending, t, id)
	return c.kickLocked(), nil
}

// fail records err as the reason the connection went down, unless one is
// recorded already, and wakes everything that waits on the connection.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.downErr == nil {
		c.downErr = err
		close(c.stop)
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// run is the reader goroutine. When reading ends it takes the connection
// down, waits for the writer and calls HandleDown.
func (c *Conn) run(h Handler) {
	defer close(c.done)
	err := c.readLoop(h)
	c.mu.Lock()
	if c.closing && !errors.Is(err, ErrClosedByPeer) {
		// The read failed because Close closed the socket.
		err = ErrClosed
	}
	c.mu.Unlock()
	c.fail(err)
	c.nc.Close()
	<-c.writerDone
	c.calls.stopServing()

	c.mu.Lock()
	reason := c.downErr
	c.mu.Unlock()
	c.log.Debug("connection down", "reason", Reason(reason), "err", reason)
	c.inCallback.Add(1)
	defer c.inCallback.Add(-1)
	h.HandleDown(reason)
}

func (c *Conn) readLoop(h Handler) error {
	var f Frame
	loggedUnknown := false
	for {
		if err := c.fr.ReadFrame(&f); err != nil {
			return fmt.Errorf("read from %q: %w", c.peer, err)
		}
		c.framesRead.Add(1)
		switch f.Type {
		case FrameTick:
		case FrameMessage:
			c.stats.received(frameHeaderSize + messageBodySize(f.To, f.From, len(f.Payload)))
			payload := append([]byte(nil), f.Payload...)
			c.inCallback.Add(1)
			h.HandleMessage(f.To, f.From, payload)
			c.inCallback.Add(-1)
		case FramePing:
			c.mu.Lock()
			// An error means the connection is closing, so no pong is due.
			direct, _ := c.enqueueControlLocked(FramePong, f.ID)
			c.mu.Unlock()
			if direct {
				c.writeDirect()
			}
		case FramePong:
			c.mu.Lock()
			ch := c.pings[f.ID]
			delete(c.pings, f.ID)
			c.mu.Unlock()
			if ch != nil {
				close(ch)
			}
		case FrameCall:
			c.serveCall(&f)
		case FrameCallReply:
			c.finishCall(&f)
		case FramePeers:
			if ph, ok := h.(PeersHandler); ok {
				c.inCallback.Add(1)
				ph.HandlePeers(int(f.ListenPort), f.Peers, f.PeersSkipped)
				c.inCallback.Add(-1)
			}
		case FrameGoodbye:
			return ErrClosedByPeer
		case FrameHello, FrameStatus, FrameReply, FrameAck:
			return fmt.Errorf("read from %q: %w: %s frame after the handshake", c.peer, ErrProtocol, f.Type)
		default:
			// A newer peer may send frame types this version does not
			// know; they are skipped.
			if !loggedUnknown {
				c.log.Debug("skipping frames of unknown type", "type", uint8(f.Type))
				loggedUnknown = true
			}
		}
	}
}
