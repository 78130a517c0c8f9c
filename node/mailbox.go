package node

import (
	"context"
	"sync"
)

// Mailbox is a registered name's queue of messages, in arrival order. It
// holds at most its limit; a message that arrives at a full mailbox is
// dropped and counted. A Mailbox is safe for concurrent use.
//
// NOTE: the limit counts messages, not bytes: a peer with the cookie can
// fill a mailbox of 100,000 messages of up to the maximum frame size each.
type Mailbox struct {
	name  string
	limit int

	// ready has capacity 1. A value in it means that a message may be
	// waiting, so a receiver that finds none waits on ready again.
	ready chan struct{}

	mu      sync.Mutex
	msgs    []any  // guarded by mu; msgs[head:] are waiting, oldest first
	head    int    // guarded by mu
	dropped uint64 // guarded by mu
}

// compactHead is the count of taken messages at the front of msgs past
// which Receive moves the waiting ones to the front, when they are fewer.
const compactHead = 1024

func newMailbox(name string, limit int) *Mailbox {
	return &Mailbox{name: name, limit: limit, ready: make(chan struct{}, 1)}
}

// Name returns the name the mailbox is registered under.
func (m *Mailbox) Name() string { return m.name }

// put appends msg and reports whether it fit.
func (m *Mailbox) put(msg any) bool {
	m.mu.Lock()
	if len(m.msgs)-m.head >= m.limit {
		m.dropped++
		m.mu.Unlock()
		return false
	}
	m.msgs = append(m.msgs, msg)
	m.mu.Unlock()
	m.signal()
	return true
}

// signal wakes one receiver that waits, or the next one to wait.
//
// NOTE: while a P is idle, waking a goroutine also makes the Go runtime
// wake a second thread (runtime.wakep). On a 2-core VM that futex wake
// took 3 µs at the median inside this call, and 13 µs or more for a
// quarter of the calls. It is most of what a remote echo round trip
// costs beyond the plain-TCP limit (see bench/README.md).
func (m *Mailbox) signal() {
	select {
	case m.ready <- struct{}{}:
	default:
	}
}

// Flush removes and returns every message in the mailbox.
func (m *Mailbox) Flush() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs := m.msgs[m.head:]
	m.msgs, m.head = nil, 0
	if len(msgs) == 0 {
		return nil
	}
	return msgs
}

// Len returns the number of messages waiting.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs) - m.head
}

// Dropped returns how many messages were dropped because the mailbox was
// full.
func (m *Mailbox) Dropped() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropped
}

// Receive removes and returns the oldest message, waiting for one until
// ctx is done.
func (m *Mailbox) Receive(ctx context.Context) (any, error) {
	for {
		m.mu.Lock()
		if msg, ok := m.takeLocked(); ok {
			more := len(m.msgs) > m.head
			m.mu.Unlock()
			if more {
				// Puts that found ready full left one value for several
				// messages, so pass the wake-up on.
				m.signal()
			}
			return msg, nil
		}
		m.mu.Unlock()
		select {
		case <-m.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// takeLocked removes the oldest message, if there is one.
func (m *Mailbox) takeLocked() (any, bool) {
	if m.head == len(m.msgs) {
		return nil, false
	}
	msg := m.msgs[m.head]
	m.msgs[m.head] = nil
	m.head++
	switch {
	case m.head == len(m.msgs):
		// Empty: reuse the array from its start.
		m.msgs, m.head = m.msgs[:0], 0
	case m.head >= compactHead && m.head > len(m.msgs)/2:
		n := copy(m.msgs, m.msgs[m.head:])
		clear(m.msgs[n:])
		m.msgs, m.head = m.msgs[:n], 0
	}
	return msg, true
}
