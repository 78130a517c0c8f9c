package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Limits of the calls that a peer makes.
const (
	// MaxCallDuration bounds each call that a peer makes, whatever
	// timeout it requests. The handler's context is done after it.
	MaxCallDuration = 10 * time.Minute

	// maxCallsServed is the most calls from one peer that run at once.
	// A call beyond it gets an error reply at once.
	maxCallsServed = 16
)

// CallHandler is implemented by a Handler that serves the peer's calls.
// A connection whose Handler does not implement it replies to every call
// with an error.
type CallHandler interface {
	// HandleCall runs method on payload and returns the result for the
	// reply, or an error whose text the peer gets. Each call runs on a
	// goroutine of its own, at most 16 at once per connection, under a
	// context that is done when the caller cancels, when the caller's
	// timeout or MaxCallDuration passes, or when the connection goes
	// down. HandleCall must return soon after ctx is done, because
	// HandleDown waits for every call to return. payload belongs to the
	// handler. A panic is recovered and returned to the peer as an
	// error.
	HandleCall(ctx context.Context, method string, payload []byte) ([]byte, error)
}

// CallError is the error of a call that reached the peer and failed
// there, or that the peer rejected, such as a call over the limit of
// calls in flight.
type CallError struct {
	Method  string
	Message string // the peer's error text
}

func (e *CallError) Error() string {
	return fmt.Sprintf("call %s failed on the peer: %s", e.Method, e.Message)
}

// callState is the bookkeeping of a connection's calls. It has a lock of
// its own, so that calls do not contend with Send for Conn.mu.
type callState struct {
	mu      sync.Mutex
	next    uint64                        // guarded by mu; the id of the last outgoing call
	pending map[uint64]*pendingCall       // guarded by mu; outgoing calls waiting for a reply
	serving map[uint64]context.CancelFunc // guarded by mu; the peer's calls that run
	stopped bool                          // guarded by mu; set when the connection is down

	ctx    context.Context // parent of every served call, canceled when the connection is down
	cancel context.CancelFunc
	wg     sync.WaitGroup // served calls that run
}

type pendingCall struct {
	method string
	done   chan callResult // capacity 1
}

type callResult struct {
	payload []byte
	err     error
}

func (cs *callState) init() {
	cs.pending = make(map[uint64]*pendingCall)
	cs.serving = make(map[uint64]context.CancelFunc)
	cs.ctx, cs.cancel = context.WithCancel(context.Background())
}

// stopServing cancels the calls that the peer made and waits until they
// returned. The reader goroutine calls it once the connection is down.
func (cs *callState) stopServing() {
	cs.mu.Lock()
	cs.stopped = true
	cs.mu.Unlock()
	cs.cancel()
	cs.wg.Wait()
}

func (cs *callState) forget(id uint64) {
	cs.mu.Lock()
	delete(cs.pending, id)
	cs.mu.Unlock()
}

// Call sends a call of method on payload to the peer and waits for the
// result, which the peer's Handler computes through CallHandler. When ctx
// has a deadline, the call frame carries it and the peer stops the call
// then too. When ctx is done first, Call sends a cancel frame and returns
// ctx's error. A call that failed on the peer returns a *CallError. Call fails
// with ErrCallUnsupported on a connection to a peer of handshake version
// 2, with ErrFrameTooLarge for a payload over the maximum frame size, and
// with an error wrapping ErrClosed when the connection goes down first.
func (c *Conn) Call(ctx context.Context, method string, payload []byte) ([]byte, error) {
	if method == "" {
		return nil, errors.New("call: empty method name")
	}
	if c.peerVersion < callVersion {
		return nil, fmt.Errorf("call %s on %q: %w (it speaks handshake version %d)", method, c.peer, ErrCallUnsupported, c.peerVersion)
	}
	var timeout uint64
	if deadline, ok := ctx.Deadline(); ok {
		// Rounded up, so that the peer does not give up before the
		// caller does.
		left := time.Until(deadline) + time.Millisecond - 1
		timeout = uint64(max(left.Milliseconds(), 1))
	}
	cs := &c.calls
	done := make(chan callResult, 1)
	cs.mu.Lock()
	cs.next++
	id := cs.next
	cs.pending[id] = &pendingCall{method: method, done: done}
	cs.mu.Unlock()

	call := Frame{Type: FrameCall, ID: id, Method: method, Payload: payload, Timeout: timeout}
	if err := c.enqueueFrame(ctx, &call, queueLimit); err != nil {
		cs.forget(id)
		return nil, fmt.Errorf("call %s on %q: %w", method, c.peer, err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			// The peer stops the call at the deadline it got from ctx,
			// which is no earlier than ctx's own. Its reply can come
			// before ctx's timer has fired, so the clock is checked
			// too.
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("call %s on %q: %w", method, c.peer, err)
			}
			if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
				return nil, fmt.Errorf("call %s on %q: %w", method, c.peer, context.DeadlineExceeded)
			}
		}
		return r.payload, r.err
	case <-ctx.Done():
		cs.forget(id)
		// An error means the connection is down, which ends the call on
		// the peer too.
		c.enqueueFrame(context.Background(), &Frame{Type: FrameCall, ID: id}, controlQueueLimit)
		return nil, fmt.Errorf("call %s on %q: %w", method, c.peer, ctx.Err())
	case <-c.stop:
		cs.forget(id)
		c.mu.Lock()
		err := c.closedErrLocked()
		c.mu.Unlock()
		return nil, fmt.Errorf("call %s on %q: %w", method, c.peer, err)
	}
}

// enqueueFrame queues any frame, waiting while limit bytes are queued and
// ctx is not done.
func (c *Conn) enqueueFrame(ctx context.Context, f *Frame, limit int) error {
	size, err := bodySize(f)
	if err != nil {
		return err
	}
	if size > c.cfg.MaxFrameSize {
		return fmt.Errorf("%w: %s body of %d bytes exceeds the maximum %d", ErrFrameTooLarge, f.Type, size, c.cfg.MaxFrameSize)
	}
	c.mu.Lock()
	if err := c.waitRoomLocked(ctx, frameHeaderSize+size, limit); err != nil {
		c.mu.Unlock()
		return err
	}
	c.pending, err = AppendFrame(c.pending, f, c.cfg.MaxFrameSize)
	direct := err == nil && c.kickLocked()
	c.mu.Unlock()
	if direct {
		c.writeDirect()
	}
	return err
}

// serveCall starts a call frame from the peer on a goroutine of its own,
// or cancels a call for a frame with an empty method. It runs on the
// reader goroutine. Rejections are queued like pongs, so that they are
// not stuck behind a full queue.
func (c *Conn) serveCall(f *Frame) {
	cs := &c.calls
	if f.Method == "" {
		cs.mu.Lock()
		cancel := cs.serving[f.ID]
		cs.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		return
	}
	if c.callHandler == nil {
		c.replyCall(f.ID, nil, "this node serves no calls", controlQueueLimit)
		return
	}

	cs.mu.Lock()
	reject := ""
	switch {
	case cs.stopped:
		cs.mu.Unlock()
		return
	case len(cs.serving) >= maxCallsServed:
		reject = fmt.Sprintf("too many calls in flight: at most %d at once", maxCallsServed)
	case cs.serving[f.ID] != nil:
		reject = fmt.Sprintf("call id %d is in use", f.ID)
	}
	if reject != "" {
		cs.mu.Unlock()
		c.replyCall(f.ID, nil, reject, controlQueueLimit)
		return
	}

	timeout := MaxCallDuration
	if f.Timeout > 0 && f.Timeout < uint64(MaxCallDuration/time.Millisecond) {
		timeout = time.Duration(f.Timeout) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(cs.ctx, timeout)
	cs.serving[f.ID] = cancel
	cs.wg.Add(1)
	cs.mu.Unlock()
	go c.runCall(ctx, cancel, f.ID, f.Method, bytes.Clone(f.Payload))
}

// runCall runs one served call and queues its reply. A reply for a call
// that the peer canceled is sent too, and the peer drops it.
func (c *Conn) runCall(ctx context.Context, cancel context.CancelFunc, id uint64, method string, payload []byte) {
	defer c.calls.wg.Done()
	c.inCallback.Add(1)
	result, err := handleCallSafely(ctx, c.callHandler, method, payload)
	c.inCallback.Add(-1)
	c.calls.mu.Lock()
	delete(c.calls.serving, id)
	c.calls.mu.Unlock()
	cancel()
	if err != nil {
		msg := err.Error()
		if msg == "" {
			msg = "call failed"
		}
		c.replyCall(id, nil, msg, queueLimit)
		return
	}
	c.replyCall(id, result, "", queueLimit)
}

func handleCallSafely(ctx context.Context, h CallHandler, method string, payload []byte) (result []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, fmt.Errorf("internal error in %s: %v", method, r)
		}
	}()
	return h.HandleCall(ctx, method, payload)
}

// replyCall queues a reply. A result too large for one frame is replaced
// by an error reply that reports its size. An error from the queue means the
// connection is closing, so no reply is due.
func (c *Conn) replyCall(id uint64, result []byte, errText string, limit int) {
	reply := Frame{Type: FrameCallReply, ID: id, Reason: errText, Payload: result}
	err := c.enqueueFrame(context.Background(), &reply, limit)
	if errors.Is(err, ErrFrameTooLarge) {
		reply = Frame{Type: FrameCallReply, ID: id, Reason: fmt.Sprintf("result of %d bytes is larger than the maximum frame size %d", len(result), c.cfg.MaxFrameSize)}
		c.enqueueFrame(context.Background(), &reply, limit)
	}
}

// finishCall hands a reply to the Call waiting for it. A reply to a call
// that gave up is dropped.
func (c *Conn) finishCall(f *Frame) {
	cs := &c.calls
	cs.mu.Lock()
	p := cs.pending[f.ID]
	delete(cs.pending, f.ID)
	cs.mu.Unlock()
	if p == nil {
		return
	}
	if f.Reason != "" {
		p.done <- callResult{err: &CallError{Method: p.method, Message: f.Reason}}
		return
	}
	p.done <- callResult{payload: bytes.Clone(f.Payload)}
}
