package discovery

import (
	"context"
	"github.com/gonode/gonode/node/ratelog"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gonode/gonode/node/term"
)

// Defaults of the back-off that the host-list and DNS strategies apply to
// each peer. The node under Cluster backs off as well, and this back-off
// keeps a strategy from calling Connect for an unreachable peer on every
// poll.
const (
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = 5 * time.Second
)

// stillFailingLogEvery is the least time between two log lines about the
// same peer that still does not connect.
const stillFailingLogEvery = time.Minute

// maxTrackedPeers bounds the peers an attempts table remembers, because a
// hosts file or a DNS answer is input that can name any number of nodes.
const maxTrackedPeers = 4096

// attempts schedules the connection attempts of one strategy, per peer:
// the first attempt is made at once, and while the peer stays unconnected
// the wait before the next one doubles from min up to max. A peer that was
// connected and is not any more is tried again at once, so a node comes
// back soon after a network cut heals. An attempts is owned by the
// goroutine of the strategy's Run and is not safe for concurrent use.
type attempts struct {
	min, max time.Duration
	logger   *slog.Logger
	now      func() time.Time
	peers    map[string]*peerAttempts
}

type peerAttempts struct {
	next      time.Time
	failures  int // attempts made since the peer was last seen connected
	connected bool
	lastLog   time.Time
	seen      bool // the peer was in the latest round
}

// newAttempts returns an empty table. A zero minWait or maxWait selects
// DefaultMinBackoff or DefaultMaxBackoff.
func newAttempts(minWait, maxWait time.Duration, logger *slog.Logger) *attempts {
	if minWait <= 0 {
		minWait = DefaultMinBackoff
	}
	if maxWait <= 0 {
		maxWait = DefaultMaxBackoff
	}
	maxWait = max(maxWait, minWait)
	return &attempts{min: minWait, max: maxWait, logger: logger, now: time.Now, peers: make(map[string]*peerAttempts)}
}

// connect calls c.Connect for p when p is not connected and its back-off
// has passed. It never blocks, because Cluster.Connect does not.
func (a *attempts) connect(c Cluster, p Peer) {
	if a.due(c, p.Name) {
		c.Connect(p)
	}
}

// due reports whether an attempt to connect to name should be made now,
// and if so records it.
func (a *attempts) due(c Cluster, name string) bool {
	if name == c.Self() {
		return false
	}
	st := a.peers[name]
	if st == nil {
		if len(a.peers) >= maxTrackedPeers {
			a.logger.Warn("too many peers to track, ignoring "+name, "max", maxTrackedPeers)
			return false
		}
		st = &peerAttempts{}
		a.peers[name] = st
	}
	st.seen = true
	now := a.now()

	if c.Connected(name) {
		st.connected = true
		st.failures = 0
		return false
	}
	if st.connected {
		// The connection broke: start over at once.
		st.connected = false
		st.failures = 0
		st.next = time.Time{}
	}
	if now.Before(st.next) {
		return false
	}

	st.failures++
	wait := a.min << min(st.failures-1, 16)
	if wait > a.max || wait <= 0 {
		wait = a.max
	}
	st.next = now.Add(wait)

	if st.failures > 3 && now.Sub(st.lastLog) >= stillFailingLogEvery {
		st.lastLog = now
		a.logger.Warn("still not connected to "+quoteNode(name)+", retrying", "attempts", st.failures, "every", wait)
	}
	return true
}

// startRound and endRound bracket one pass over the wanted peers:
// endRound forgets the peers that the pass did not mention, so that the
// table follows a changing hosts file or DNS answer.
func (a *attempts) startRound() {
	for _, st := range a.peers {
		st.seen = false
	}
}

func (a *attempts) endRound() {
	for name, st := range a.peers {
		if !st.seen {
			delete(a.peers, name)
		}
	}
}

// limitedLog lets through the first of a run of repeated log records and
// then at most one each interval, counting the ones held back. It is the
// single-key form of ratelog.Limiter, which the node and gossip share.
type limitedLog struct {
	limiter ratelog.Limiter
}

func newLimitedLog(every time.Duration) *limitedLog {
	return &limitedLog{limiter: ratelog.Limiter{Window: every}}
}

// fail reports whether a failure that happens now should be logged, and
// how many failures since the last logged one were not.
func (l *limitedLog) fail(now time.Time) (log bool, suppressed int) {
	log, suppressed, _ = l.limiter.AllowAt("", now)
	return log, suppressed
}

// recover reports whether the run of failures just ended, and resets l.
func (l *limitedLog) recover() bool {
	return l.limiter.Reset("")
}

// repeatsAttrs returns the log attributes attrs, with "repeats" added
// when a limitedLog suppressed some failures before this one.
func repeatsAttrs(suppressed int, attrs ...any) []any {
	if suppressed > 0 {
		attrs = append(attrs, "repeats", suppressed)
	}
	return attrs
}

// quoteNode returns a node name as the shell prints the atom, :"a@b".
func quoteNode(name string) string { return term.Inspect(term.Atom(name)) }

// poll calls f at once and then about every interval, jittered by up to a
// quarter of it, until ctx is done.
func poll(ctx context.Context, interval time.Duration, f func(ctx context.Context)) {
	for {
		f(ctx)
		jitter := time.Duration((rand.Float64()*2 - 1) * jitterFraction * float64(interval))
		t := time.NewTimer(interval + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
