package rawio

import (
	"testing"
	"time"
)

func TestPollerPollsOncePerRead(t *testing.T) {
	p := poller{budget: time.Hour}
	p.begin()
	if !p.again() {
		t.Fatal("again() = false on the first empty read, want a poll")
	}
	p.arrived()
	if p.again() {
		t.Error("again() = true after data arrived in the same Read, want a wait")
	}
	p.begin()
	if !p.again() {
		t.Error("again() = false on the next Read, want a poll")
	}
}

func TestPollerEndsAtBudget(t *testing.T) {
	p := poller{budget: time.Millisecond}
	p.begin()
	if !p.again() {
		t.Fatal("again() = false on the first empty read")
	}
	time.Sleep(2 * time.Millisecond)
	if p.again() {
		t.Error("again() = true after the budget passed")
	}
	if p.misses != 1 {
		t.Errorf("misses = %d after one poll without data, want 1", p.misses)
	}
}

func TestPollerOff(t *testing.T) {
	p := poller{}
	p.begin()
	if p.again() {
		t.Error("again() = true with a budget of 0")
	}
}

func TestPollerBacksOffAfterMisses(t *testing.T) {
	p := poller{budget: time.Hour, misses: missLimit}
	polls := 0
	for range probeEvery {
		p.begin()
		if p.again() {
			polls++
			p.start = time.Time{} // the poll ends without data
		}
	}
	if polls != 1 {
		t.Errorf("%d polls in %d reads after %d misses, want 1 probe", polls, probeEvery, missLimit)
	}
}

func TestPollerProbeResetsMisses(t *testing.T) {
	p := poller{budget: time.Hour, misses: missLimit + probeEvery - 1}
	p.begin()
	if !p.again() {
		t.Fatal("again() = false on the read that is due to probe")
	}
	p.arrived()
	if p.misses != 0 {
		t.Errorf("misses = %d after a probe found data, want 0", p.misses)
	}
}
