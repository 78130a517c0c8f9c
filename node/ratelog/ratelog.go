// Package ratelog rate-limits repeated log records, such as a wrong cookie
// on every heartbeat, a flood of forged packets or a full mailbox. The
// first record of a key is logged at once. After it, at most one record
// per window is logged, with the count of the records suppressed since.
package ratelog

import (
	"fmt"
	"sync"
	"time"
)

// DefaultWindow is the window of a Limiter whose Window is zero.
const DefaultWindow = 10 * time.Second

// MaxKeys bounds the keys a Limiter tracks, because keys often come from
// the network (peer names, sender addresses) and forged traffic could
// otherwise grow the table without bound. When the table is full, keys
// idle for a window are dropped, and if none is, the table is cleared,
// so a key may then log its next record early.
const MaxKeys = 4096

// Limiter decides, per key, which records of a repeated event to log. The
// zero value is ready to use. A Limiter is safe for concurrent use.
//
// NOTE: the count of suppressed records is reported only with the next
// logged record of the key, so the tail of a burst that then stops is
// never reported. Counters such as Mailbox.Dropped and GossipStats keep
// the totals.
type Limiter struct {
	// Window is the minimum time between two logged records of one key;
	// zero means DefaultWindow.
	Window time.Duration

	mu   sync.Mutex
	keys map[string]*entry // guarded by mu
}

type entry struct {
	logged     time.Time // when the last record of the key was logged
	suppressed int       // records not logged since then
}

// Allow reports whether a record for key that happens now should be
// logged. When it should, suppressed is the number of records for key not
// logged since the last logged one, and since is how long ago that was.
func (l *Limiter) Allow(key string) (ok bool, suppressed int, since time.Duration) {
	return l.AllowAt(key, time.Now())
}

// AllowAt is Allow for a record that happens at now.
func (l *Limiter) AllowAt(key string, now time.Time) (ok bool, suppressed int, since time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	window := l.window()
	e := l.keys[key]
	if e == nil {
		if l.keys == nil {
			l.keys = make(map[string]*entry)
		}
		if len(l.keys) >= MaxKeys {
			l.pruneLocked(now, window)
		}
		l.keys[key] = &entry{logged: now}
		return true, 0, 0
	}
	if now.Sub(e.logged) < window {
		e.suppressed++
		return false, 0, 0
	}
	suppressed, since = e.suppressed, now.Sub(e.logged)
	e.logged, e.suppressed = now, 0
	return true, suppressed, since
}

// Reset removes key, so that its next record is logged at once, and
// reports whether key was tracked. A caller resets a key when its failure
// has ended, such as when the peer connects.
func (l *Limiter) Reset(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.keys[key]
	delete(l.keys, key)
	return ok
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (l *Limiter) window() time.Duration {
	if l.Window <= 0 {
		return DefaultWindow
	}
	return l.Window
}

func (l *Limiter) pruneLocked(now time.Time, window time.Duration) {
	for key, e := range l.keys {
		if now.Sub(e.logged) >= window {
			delete(l.keys, key)
		}
	}
	if len(l.keys) >= MaxKeys {
		clear(l.keys)
	}
}

// Suffix returns the note to append to a logged record after suppressed
// records over the duration since, such as " (12 more in the last 10s)",
// or "" when suppressed is 0.
func Suffix(suppressed int, since time.Duration) string {
	if suppressed == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d more in the last %s)", suppressed, since.Round(time.Second))
}
