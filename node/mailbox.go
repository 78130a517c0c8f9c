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

	mu      sync.Mutex
	msgs    []any         // guarded by mu
	dropped uint64        // guarded by mu
	signal  chan struct{} // guarded by mu; closed when a message arrives
}

func newMailbox(name string, limit int) *Mailbox {
	return &Mailbox{name: name, limit: limit, signal: make(chan struct{})}
}

// Name returns the name the mailbox is registered under.
func (m *Mailbox) Name() string { return m.name }

// put appends msg and reports whether it fit.
func (m *Mailbox) put(msg any) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.msgs) >= m.limit {
		m.dropped++
		return false
	}
	m.msgs = append(m.msgs, msg)
	close(m.signal)
	m.signal = make(chan struct{})
	return true
}

// Flush removes and returns every message in the mailbox.
func (m *Mailbox) Flush() []any {
	m.mu.Lock()
	defer m.mu.Unlock()
	msgs := m.msgs
	m.msgs = nil
	return msgs
}

// Len returns the number of messages waiting.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.msgs)
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
		if len(m.msgs) > 0 {
			msg := m.msgs[0]
			m.msgs[0] = nil
			m.msgs = m.msgs[1:]
			m.mu.Unlock()
			return msg, nil
		}
		signal := m.signal
		m.mu.Unlock()
		select {
		case <-signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
