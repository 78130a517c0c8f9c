package discovery

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func (c *fakeCluster) setConnected(name string, up bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected[name] = up
}

// fakeClock is a clock that a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestAttempts(logger *slog.Logger) (*attempts, *fakeClock) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	a := newAttempts(time.Second, 8*time.Second, logger)
	a.now = clock.now
	return a, clock
}

func TestAttemptsBackOff(t *testing.T) {
	a, clock := newTestAttempts(slog.New(slog.DiscardHandler))
	c := newFakeCluster("a@h")
	// Polled every 100ms for 20s, an unreachable peer is tried at 0, 1,
	// 3, 7 and 15 seconds: the wait doubles up to 8s.
	var at []time.Duration
	start := clock.t
	for range 200 {
		if a.due(c, "b@h") {
			at = append(at, clock.t.Sub(start))
		}
		clock.advance(100 * time.Millisecond)
	}
	want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second}
	if len(at) != len(want) {
		t.Fatalf("attempts at %v, want %v", at, want)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Errorf("attempt %d at %v, want %v", i, at[i], want[i])
		}
	}
}

func TestAttemptsSkipSelfAndConnected(t *testing.T) {
	a, _ := newTestAttempts(slog.New(slog.DiscardHandler))
	c := newFakeCluster("a@h", "b@h")
	if a.due(c, "a@h") {
		t.Error("due(self) = true, want false")
	}
	if a.due(c, "b@h") {
		t.Error("due(connected peer) = true, want false")
	}
}

func TestAttemptsRetryAtOnceAfterBreak(t *testing.T) {
	a, clock := newTestAttempts(slog.New(slog.DiscardHandler))
	c := newFakeCluster("a@h")
	for range 5 {
		a.due(c, "b@h")
		clock.advance(10 * time.Second)
	}
	c.setConnected("b@h", true)
	if a.due(c, "b@h") {
		t.Error("due while connected = true")
	}
	c.setConnected("b@h", false)
	if !a.due(c, "b@h") {
		t.Error("due right after the connection broke = false, want true")
	}
	clock.advance(time.Second)
	if !a.due(c, "b@h") {
		t.Error("due 1s after the first retry = false, want true (back-off starts over)")
	}
}

func TestAttemptsForgetUnseen(t *testing.T) {
	a, _ := newTestAttempts(slog.New(slog.DiscardHandler))
	c := newFakeCluster("a@h")
	a.startRound()
	a.due(c, "b@h")
	a.due(c, "c@h")
	a.endRound()
	a.startRound()
	a.due(c, "b@h")
	a.endRound()
	if _, ok := a.peers["c@h"]; ok {
		t.Error("c@h still tracked after a round without it")
	}
	if _, ok := a.peers["b@h"]; !ok {
		t.Error("b@h forgotten though the last round had it")
	}
}

func TestAttemptsLogRarely(t *testing.T) {
	var logs logBuffer
	a, clock := newTestAttempts(logs.logger())
	c := newFakeCluster("a@h")
	// Ten minutes of polls every 100ms.
	for range 6000 {
		a.due(c, "b@h")
		clock.advance(100 * time.Millisecond)
	}
	lines := strings.Count(logs.String(), "still not connected")
	if lines < 5 || lines > 11 {
		t.Errorf("%d log lines in 10 minutes about an unreachable peer, want about one a minute:\n%s", lines, logs.String())
	}
}

func TestLimitedLog(t *testing.T) {
	l := newLimitedLog(time.Minute)
	now := time.Unix(0, 0)
	if ok, held := l.fail(now); !ok || held != 0 {
		t.Errorf("first fail = %v, %d; want true, 0", ok, held)
	}
	for i := range 5 {
		if ok, _ := l.fail(now.Add(time.Duration(i+1) * time.Second)); ok {
			t.Errorf("fail %d seconds later logged", i+1)
		}
	}
	if ok, held := l.fail(now.Add(time.Minute)); !ok || held != 5 {
		t.Errorf("fail a minute later = %v, %d; want true, 5", ok, held)
	}
	if !l.recover() {
		t.Error("recover after failures = false")
	}
	if l.recover() {
		t.Error("second recover = true")
	}
	if ok, _ := l.fail(now.Add(61 * time.Second)); !ok {
		t.Error("first fail after recover not logged")
	}
}
