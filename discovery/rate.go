package discovery

import (
	"net/netip"
	"sync"
	"time"
)

// maxRateSources bounds the source addresses whose packet rate a Gossip
// tracks, because spoofed packets can come from any address. When the
// table is full, sources idle for a second are dropped, and if none is,
// the table is cleared, which lets every source send one more burst.
const maxRateSources = 4096

// sourceRate is a token bucket per source address: each source may send
// perSecond packets per second, and a burst of as many. It is safe for
// concurrent use.
type sourceRate struct {
	perSecond int

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket // guarded by mu
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newSourceRate(perSecond int) *sourceRate {
	return &sourceRate{perSecond: perSecond, buckets: make(map[netip.Addr]*bucket)}
}

// allow takes a token from src's bucket and reports whether there was one.
func (r *sourceRate) allow(src netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	capacity := float64(r.perSecond)
	b := r.buckets[src]
	if b == nil {
		if len(r.buckets) >= maxRateSources {
			r.pruneLocked(now)
		}
		b = &bucket{tokens: capacity, last: now}
		r.buckets[src] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(capacity, b.tokens+elapsed.Seconds()*capacity)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (r *sourceRate) pruneLocked(now time.Time) {
	for src, b := range r.buckets {
		if now.Sub(b.last) >= time.Second {
			delete(r.buckets, src)
		}
	}
	if len(r.buckets) >= maxRateSources {
		clear(r.buckets)
	}
}
