package ratelog

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiterFirstThenOnePerWindow(t *testing.T) {
	var l Limiter
	start := time.Unix(1000, 0)
	if ok, suppressed, _ := l.AllowAt("a", start); !ok || suppressed != 0 {
		t.Fatalf("first record: ok=%v suppressed=%d, want true 0", ok, suppressed)
	}
	for i := range 5 {
		if ok, _, _ := l.AllowAt("a", start.Add(time.Duration(i+1)*time.Second)); ok {
			t.Fatalf("record %d within the window was allowed", i+2)
		}
	}
	ok, suppressed, since := l.AllowAt("a", start.Add(12*time.Second))
	if !ok {
		t.Fatal("record after the window was held back")
	}
	if suppressed != 5 {
		t.Errorf("suppressed = %d, want 5", suppressed)
	}
	if since != 12*time.Second {
		t.Errorf("since = %v, want 12s", since)
	}
	if got, want := Suffix(suppressed, since), " (5 more in the last 12s)"; got != want {
		t.Errorf("Suffix = %q, want %q", got, want)
	}
}

func TestLimiterKeysIndependent(t *testing.T) {
	var l Limiter
	now := time.Unix(1000, 0)
	l.AllowAt("a", now)
	if ok, _, _ := l.AllowAt("b", now); !ok {
		t.Error("first record of b held back by a's window")
	}
}

func TestLimiterReset(t *testing.T) {
	l := Limiter{Window: time.Minute}
	now := time.Unix(1000, 0)
	l.AllowAt("a", now)
	if !l.Reset("a") {
		t.Error("Reset(a) = false, want true for a tracked key")
	}
	if ok, _, _ := l.AllowAt("a", now.Add(time.Second)); !ok {
		t.Error("record after Reset was held back")
	}
	if l.Reset("never") {
		t.Error("Reset(never) = true, want false")
	}
}

func TestLimiterBoundsKeys(t *testing.T) {
	var l Limiter
	now := time.Unix(1000, 0)
	for i := range 3 * MaxKeys {
		l.AllowAt(strconv.Itoa(i), now)
	}
	if l.Len() > MaxKeys {
		t.Errorf("Len = %d after %d keys, want at most %d", l.Len(), 3*MaxKeys, MaxKeys)
	}
}

func TestSuffixEmptyWhenNoneHeld(t *testing.T) {
	if got := Suffix(0, time.Minute); got != "" {
		t.Errorf("Suffix(0) = %q, want empty", got)
	}
}
