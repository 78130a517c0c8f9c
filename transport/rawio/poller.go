package rawio

import "time"

// poller decides when a Reader polls its socket instead of waiting.
type poller struct {
	budget time.Duration
	start  time.Time // when the current poll began; zero between polls
	polled bool      // the current Read has polled already
	// misses counts the polls in a row whose budget passed without data.
	// From missLimit on, only one wait in probeEvery polls, to notice
	// when data comes fast again.
	misses int
}

const (
	missLimit  = 2
	probeEvery = 64
)

// begin starts a Read.
func (p *poller) begin() { p.polled = false }

// again reports whether the reader is to read again, after a read that
// found no data, rather than wait in the network poller. It starts a poll
// once per Read.
func (p *poller) again() bool {
	if !p.start.IsZero() {
		if time.Since(p.start) < p.budget {
			return true
		}
		p.start = time.Time{}
		p.misses++
		return false
	}
	if p.polled || p.budget <= 0 {
		return false
	}
	p.polled = true
	if p.misses >= missLimit {
		p.misses++
		if (p.misses-missLimit)%probeEvery != 0 {
			return false
		}
	}
	p.start = time.Now()
	return true
}

// arrived records that a read returned data or the end of the stream.
func (p *poller) arrived() {
	if !p.start.IsZero() {
		p.start = time.Time{}
		p.misses = 0
	}
}
