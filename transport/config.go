package transport

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults and limits of [Config].
const (
	// DefaultMaxFrameSize is the maximum frame body size when
	// Config.MaxFrameSize is 0.
	DefaultMaxFrameSize = 1 << 20

	// MinFrameSize is the smallest allowed Config.MaxFrameSize, so that
	// every handshake frame fits.
	MinFrameSize = handshakeMaxFrameSize

	// MaxNameLen is the maximum length of a node name in bytes. The
	// handshake digest encodes each name's length in one byte.
	MaxNameLen = 255

	DefaultHandshakeTimeout = 5 * time.Second
	DefaultTickInterval     = time.Second

	// DefaultBusyPoll is Config.BusyPoll when it is 0. It is a few
	// loopback round trips between two polling processes (13 µs on the
	// 2-core VM of bench/README.md), and a quiet connection stops
	// polling after two polls that found nothing.
	DefaultBusyPoll = 50 * time.Microsecond

	// DefaultTickTimeoutFactor times the tick interval is the tick timeout
	// when Config.TickTimeout is 0.
	DefaultTickTimeoutFactor = 4
)

// Config configures both sides of a connection. The zero value of each
// optional field selects its default.
type Config struct {
	// Name is this node's full name, such as "a@vm". It is required.
	Name string

	// Cookie is the shared secret that both nodes must have. It is required
	// and never sent or logged.
	Cookie []byte

	// MaxFrameSize is the maximum frame body size in bytes, for frames
	// sent and received. 0 means DefaultMaxFrameSize. Both nodes should use
	// the same value, because a peer closes the connection on a frame
	// larger than its own maximum.
	MaxFrameSize int

	// HandshakeTimeout bounds the whole handshake, dial included. 0 means
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// TickInterval is how long the connection may go without sending
	// before it sends a tick. 0 means DefaultTickInterval.
	TickInterval time.Duration

	// TickTimeout is how long the connection may go without receiving
	// before it is down with ErrTickTimeout. The check runs twice per tick
	// interval, so a silent peer is found between TickTimeout and
	// TickTimeout + TickInterval/2 after its last frame. TickTimeout also
	// bounds each write. 0 means DefaultTickTimeoutFactor * TickInterval.
	TickTimeout time.Duration

	// NoEncrypt turns frame encryption off: frames after the handshake
	// are sent in clear, authenticated only by the TCP connection that the
	// handshake proved. Both nodes must agree, or the handshake fails with
	// ErrEncryptionMismatch. The package documentation describes the
	// construction.
	NoEncrypt bool

	// Hidden makes this a hidden node: it sets FlagHidden in the
	// handshake, so that peers keep the connection out of their visible
	// node lists.
	Hidden bool

	// BusyPoll is how long a reader keeps reading a socket that has
	// nothing to read before it sleeps until data comes, as the BEAM's
	// schedulers busy-wait before they sleep (erl +sbwt). Polling spends
	// CPU to save the wake-up of a sleeping thread on each message (see
	// package rawio), and stops while polls keep finding nothing. 0 means
	// DefaultBusyPoll, and a negative value turns polling off.
	BusyPoll time.Duration

	// Creation identifies this run of the node, so that a peer can tell a
	// restarted node from a second connection of the same run. A later run
	// should have a larger value; the node uses its start time in
	// nanoseconds. 0 means unknown.
	Creation uint64

	// Logger receives debug logs, with the attribute component=transport
	// added. nil means no logging.
	Logger *slog.Logger

	// version, when not 0, is the handshake version a client sends in
	// place of HandshakeVersion, so that tests can act as an older node.
	version uint64
}

// LogValue returns the configuration as a log group, with the cookie
// redacted, so that logging a Config never prints the secret.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", c.Name),
		slog.String("cookie", "REDACTED"),
		slog.Int("max_frame_size", c.MaxFrameSize),
		slog.Duration("handshake_timeout", c.HandshakeTimeout),
		slog.Duration("tick_interval", c.TickInterval),
		slog.Duration("tick_timeout", c.TickTimeout),
		slog.Bool("encrypt", !c.NoEncrypt),
		slog.Bool("hidden", c.Hidden),
		slog.Duration("busy_poll", c.BusyPoll),
		slog.Uint64("creation", c.Creation),
	)
}

// withDefaults validates c and returns a copy with every default filled in.
func (c Config) withDefaults() (Config, error) {
	if err := validateName(c.Name); err != nil {
		return c, fmt.Errorf("invalid config: %w", err)
	}
	if len(c.Cookie) == 0 {
		return c, fmt.Errorf("invalid config: missing cookie: set Config.Cookie")
	}
	switch {
	case c.MaxFrameSize == 0:
		c.MaxFrameSize = DefaultMaxFrameSize
	case c.MaxFrameSize < MinFrameSize || c.MaxFrameSize > maxUint32:
		return c, fmt.Errorf("invalid config: max frame size %d is outside [%d, %d]", c.MaxFrameSize, MinFrameSize, maxUint32)
	}
	if c.HandshakeTimeout < 0 || c.TickInterval < 0 || c.TickTimeout < 0 {
		return c, fmt.Errorf("invalid config: negative timeout or interval")
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.TickTimeout == 0 {
		c.TickTimeout = DefaultTickTimeoutFactor * c.TickInterval
	}
	if c.TickTimeout < c.TickInterval {
		return c, fmt.Errorf("invalid config: tick timeout %v is shorter than tick interval %v", c.TickTimeout, c.TickInterval)
	}
	switch {
	case c.BusyPoll == 0:
		c.BusyPoll = DefaultBusyPoll
	case c.BusyPoll < 0:
		c.BusyPoll = 0 // rawio reads 0 as no polling
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("component", "transport")
	return c, nil
}

// validateName checks that name has the form "name@host" and fits
// MaxNameLen.
func validateName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("node name of %d bytes is longer than %d", len(name), MaxNameLen)
	}
	local, host, ok := strings.Cut(name, "@")
	if !ok || local == "" || host == "" {
		return fmt.Errorf("node name %q is not of the form name@host", name)
	}
	return nil
}
