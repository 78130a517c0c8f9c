// Package node is the gonode runtime: a named node that listens for other
// nodes, registers its name with the host's port mapper, keeps a table of
// authenticated connections, and delivers messages to registered
// mailboxes. It follows Erlang distribution: Connect and Ping connect on
// demand, a connection is shared by both directions, and nodeup and
// nodedown events carry a reason.
//
// A program embeds a node with Start and ends it with Close:
//
//	n, err := node.Start(ctx, node.Config{Name: "a@host", Cookie: node.NewCookie("secret")})
//	...
//	defer n.Close()
//	inbox := n.Register("inbox")
//
// Every method of Node is safe for concurrent use.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gonode/gonode/node/epmd"
	"github.com/gonode/gonode/node/ratelog"
	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

// ErrNotRegistered is the error Send wraps for a message to a name that
// is not registered on this node.
var ErrNotRegistered = errors.New("no process registered under that name")

// Defaults for the zero values of Config.
const (
	// DefaultConnectTimeout bounds one connection attempt, port mapper
	// lookup and handshake included, and each incoming handshake. A
	// handshake that takes longer fails and its connection is closed.
	DefaultConnectTimeout = 5 * time.Second
	DefaultPingTimeout    = 5 * time.Second
	// DefaultMailboxLimit is the maximum number of messages one mailbox
	// holds. A message to a full mailbox is dropped, counted in
	// Mailbox.Dropped and logged at most once per mailbox every 10 s.
	DefaultMailboxLimit = 100_000
)

// MaxHandshakes is the maximum number of incoming handshakes in flight.
// A connection accepted while that many run is closed at once, before a
// byte is read, and logged at most once per remote host every 10 s. With
// DefaultConnectTimeout, a host that opens idle connections holds at most
// this many for 5 s each, and established connections are not affected.
//
// NOTE: the limit is shared by all remote hosts, so a flood of idle
// connections delays the handshakes of real peers until it stops; their
// strategies retry with back-off.
const MaxHandshakes = 64

// Config sets up a node. Name and Cookie are required.
type Config struct {
	// Name is the full node name, "name@host".
	Name string
	// Cookie is the secret that every peer must prove it shares.
	Cookie Cookie
	// ListenAddr is the TCP address to listen on; empty means ":0", any
	// free port on every interface.
	ListenAddr string
	// EPMDAddr is the port mapper to register with. Empty means
	// 127.0.0.1 and the port from GONODE_EPMD_PORT, else 4369.
	EPMDAddr string
	// NoEPMD turns the port mapper off: the node does not register, and
	// peers must be reached by address.
	NoEPMD bool
	// StartEPMD starts a port mapper, as "gonode epmd -daemon" run from
	// the executable Executable, when none replies. Empty means the
	// running executable.
	StartEPMD  bool
	Executable string

	// ConnectTimeout bounds one connection attempt; PingTimeout bounds
	// Ping, connection included.
	ConnectTimeout time.Duration
	PingTimeout    time.Duration
	// TickInterval and TickTimeout set the transport's heartbeat: a peer
	// silent for TickTimeout is declared down.
	TickInterval time.Duration
	TickTimeout  time.Duration
	// NoEncrypt sends frames to peers in clear, as --dist-encrypt=false
	// does. Every node of a cluster must agree.
	NoEncrypt bool
	// BusyPoll is how long a connection's reader polls an empty socket
	// before it sleeps, as transport.Config.BusyPoll: 0 means
	// transport.DefaultBusyPoll, and a negative value turns polling off.
	BusyPoll time.Duration
	// Hidden makes this a hidden node, as erl -hidden: its connections
	// are hidden on both sides, so it is not in its peers' List, only in
	// ListHidden, and it is not passed on in their peer lists. A hidden
	// node does not connect to its peers' peers either.
	Hidden bool
	// NoConnectAll turns the transitive mesh off, as erl -connect_all
	// false: the node sends no peer lists and connects to no node that a
	// peer lists. By default each node connects to its peers' peers.
	NoConnectAll bool
	// MailboxLimit is the most messages a mailbox holds; more are dropped
	// and counted.
	MailboxLimit int

	// Resolver looks up the hosts of node names; nil means
	// net.DefaultResolver.
	Resolver *net.Resolver

	// Logger receives the node's log records; nil discards them.
	Logger *slog.Logger
}

// Node is a running node. Make one with Start.
type Node struct {
	cfg      Config
	name     string
	log      *slog.Logger
	tcfg     transport.Config
	listener net.Listener
	epmdReg  *epmd.Registration
	epmdAddr string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	peers     map[string]*peer    // guarded by mu; connected nodes by name
	dials     map[string]*dial    // guarded by mu; outgoing attempts in flight
	accepting map[string]int      // guarded by mu; incoming handshakes admitted, by peer
	changed   chan struct{}       // guarded by mu; closed when peers changes
	mailboxes map[string]*Mailbox // guarded by mu
	watchers  []chan Event        // guarded by mu
	backoff   map[string]*retry   // guarded by mu; failed attempts per peer
	callFuncs map[string]CallFunc // guarded by mu; call methods served, by name
	closed    bool                // guarded by mu

	handshakes chan struct{}   // one token per incoming handshake in flight
	reports    ratelog.Limiter // log records of failed connections, by peer and kind
	drops      ratelog.Limiter // log records of messages dropped at a full mailbox, by name

	meshWake         chan struct{}   // capacity 1; a value requests a round of peer lists from meshLoop
	meshBudget       tokenBucket     // guarded by mu; the rate limit of connects from peer lists
	dialBudget       tokenBucket     // guarded by mu; the rate limit of ConnectLater's attempts
	connectLogBudget tokenBucket     // guarded by mu; the rate limit of "cannot connect" lines
	connectLogHeld   int             // guarded by mu; "cannot connect" lines held back since the last one
	meshLoggedAt     time.Time       // guarded by mu; when skipped peer list entries were last logged
	callLogs         ratelog.Limiter // log records of failed Connect and Ping calls, by node

	closeOnce sync.Once
}

// Start starts a node: it listens, registers the name with the port
// mapper and accepts connections until Close. When the port mapper
// already holds the name, Start fails with an error wrapping
// epmd.ErrNameInUse.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if _, err := ParseName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Cookie.IsZero() {
		return nil, errors.New("node: the cookie is empty")
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ":0"
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.MailboxLimit <= 0 {
		cfg.MailboxLimit = DefaultMailboxLimit
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{
		cfg:       cfg,
		name:      cfg.Name,
		log:       logger.With("component", "node"),
		peers:     make(map[string]*peer),
		dials:     make(map[string]*dial),
		accepting: make(map[string]int),
		changed:   make(chan struct{}),
		mailboxes: make(map[string]*Mailbox),
		backoff:   make(map[string]*retry),
		callFuncs: make(map[string]CallFunc),
		meshWake:  make(chan struct{}, 1),

		handshakes: make(chan struct{}, MaxHandshakes),
		callLogs:   ratelog.Limiter{Window: time.Second},
	}
	n.tcfg = transport.Config{
		Name:         cfg.Name,
		Cookie:       cfg.Cookie.Bytes(),
		TickInterval: cfg.TickInterval,
		TickTimeout:  cfg.TickTimeout,
		// An incoming handshake is bounded as a connection attempt is.
		HandshakeTimeout: cfg.ConnectTimeout,
		NoEncrypt:        cfg.NoEncrypt,
		BusyPoll:         cfg.BusyPoll,
		Hidden:           cfg.Hidden,
		// A restarted node starts later, so its creation is larger.
		Creation: uint64(time.Now().UnixNano()),
		Logger:   logger,
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())

	l, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	n.listener = l

	if !cfg.NoEPMD {
		if err := n.register(ctx); err != nil {
			l.Close()
			n.cancel()
			return nil, err
		}
	}

	n.wg.Add(1)
	go n.acceptLoop()
	if n.meshEnabled() {
		n.wg.Add(1)
		go n.meshLoop()
	}
	return n, nil
}

func (n *Node) register(ctx context.Context) error {
	addr := n.cfg.EPMDAddr
	if addr == "" {
		port, err := epmd.PortFromEnv()
		if err != nil {
			return err
		}
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	n.epmdAddr = addr
	if n.cfg.StartEPMD {
		exe := n.cfg.Executable
		if exe == "" {
			var err error
			if exe, err = os.Executable(); err != nil {
				return fmt.Errorf("find executable to start the port mapper: %w", err)
			}
		}
		if err := epmd.EnsureRunning(ctx, addr, exe); err != nil {
			return fmt.Errorf("start port mapper at %s: %w", addr, err)
		}
	}
	local, host := SplitName(n.name)
	reg, err := epmd.Register(ctx, addr, local, n.Port())
	if errors.Is(err, epmd.ErrNameInUse) {
		return &nameInUseError{local: local, host: host, err: err}
	}
	if err != nil {
		return fmt.Errorf("register %s with the port mapper at %s: %w", local, addr, err)
	}
	n.epmdReg = reg
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		select {
		case <-reg.Done():
			// NOTE: the node does not register again, so after this,
			// peers can reach it by address (gossip) but not by name.
			if n.ctx.Err() == nil {
				n.log.Error("lost the port mapper registration; peers cannot find this node by name", "epmd", addr, "err", reg.Err())
			}
		case <-n.ctx.Done():
		}
	}()
	return nil
}

// Name returns the node's full name.
func (n *Node) Name() string { return n.name }

// Addr returns the address the node listens on.
func (n *Node) Addr() net.Addr { return n.listener.Addr() }

// Port returns the TCP port the node listens on.
func (n *Node) Port() int { return n.listener.Addr().(*net.TCPAddr).Port }

// EPMDAddr returns the port mapper the node registered with, or "" when it
// runs without one.
func (n *Node) EPMDAddr() string {
	if n.epmdReg == nil {
		return ""
	}
	return n.epmdAddr
}

// CloseTimeout bounds Node.Close. Close gives every peer up to one second
// at once (less with a tick timeout below one second) to take the frames
// queued for it and a goodbye, so each peer sees the reason disconnect,
// not a tick timeout. It then removes the port mapper registration and
// waits for the node's goroutines for the rest of CloseTimeout.
const CloseTimeout = 3 * time.Second

// ErrCloseTimeout is the error Close returns when the node's goroutines
// did not end within CloseTimeout.
var ErrCloseTimeout = errors.New("node goroutines still running after the close timeout")

// Close sends a goodbye to every peer, closes the listener and the port
// mapper registration, and waits for the node's goroutines, within
// CloseTimeout. When a goroutine does not end in time (a discovery
// strategy that ignores its context), Close logs it and returns
// ErrCloseTimeout. Close is safe to call more than once; later calls
// return nil at once.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() { err = n.close() })
	return err
}

func (n *Node) close() error {
	start := time.Now()
	n.mu.Lock()
	n.closed = true
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.mu.Unlock()

	n.cancel()
	n.listener.Close()
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Go(func() { p.conn.Close() })
	}
	wg.Wait()
	if n.epmdReg != nil {
		n.epmdReg.Close()
	}

	var err error
	ended := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(ended)
	}()
	timer := time.NewTimer(CloseTimeout - time.Since(start))
	defer timer.Stop()
	select {
	case <-ended:
	case <-timer.C:
		err = ErrCloseTimeout
		n.log.Error("close: goroutines still running", "timeout", CloseTimeout)
	}
	n.log.Debug("closed", "peers", len(peers), "took", time.Since(start).Round(time.Millisecond))

	n.mu.Lock()
	for _, w := range n.watchers {
		close(w)
	}
	n.watchers = nil
	n.mu.Unlock()
	return err
}

// Done returns a channel that is closed when the node starts closing.
func (n *Node) Done() <-chan struct{} { return n.ctx.Done() }

// Register makes a mailbox under name, or returns the one already there.
// Messages sent to {name, node} are put in it.
func (n *Node) Register(name string) *Mailbox {
	n.mu.Lock()
	defer n.mu.Unlock()
	if mb, ok := n.mailboxes[name]; ok {
		return mb
	}
	mb := newMailbox(name, n.cfg.MailboxLimit)
	n.mailboxes[name] = mb
	return mb
}

// Unregister removes the mailbox registered under name.
func (n *Node) Unregister(name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.mailboxes, name)
}

// Send sends msg to the mailbox registered as name on node, connecting to
// node first when needed. A message to this node is delivered at once.
// A message to a name nobody registered on another node is dropped there
// without an error, as in Erlang; on this node, Send returns
// ErrNotRegistered. Any other error means the message was not sent. ctx
// bounds the connect and a wait for room in a full send queue.
func (n *Node) Send(ctx context.Context, name, node string, msg any) error {
	if node == n.name {
		if !n.deliver(name, msg) {
			return fmt.Errorf("%w: %s", ErrNotRegistered, name)
		}
		return nil
	}
	buf := payloadBuffers.Get().(*[]byte)
	defer payloadBuffers.Put(buf)
	payload, err := term.AppendMarshal((*buf)[:0], msg)
	if err != nil {
		return fmt.Errorf("encode message: %w", err)
	}
	if cap(payload) <= maxPooledPayload {
		*buf = payload
	}
	// A connected peer is the common case: look it up before connect,
	// which checks the name and makes a timeout context on every call.
	n.mu.Lock()
	p := n.peers[node]
	n.mu.Unlock()
	if p == nil {
		if p, err = n.connect(ctx, node, "", ""); err != nil {
			return err
		}
	}
	// Conn.Send copies the payload, so the buffer goes back to the pool.
	return p.conn.SendContext(ctx, name, n.name, payload)
}

// payloadBuffers holds encoding buffers for Send, of at most
// maxPooledPayload bytes, so that sending a message allocates none.
var payloadBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledPayload = 64 << 10

// deliver puts msg in the mailbox registered as name and reports whether
// there is one. A message to a full mailbox is dropped and logged.
func (n *Node) deliver(name string, msg any) bool {
	n.mu.Lock()
	mb := n.mailboxes[name]
	n.mu.Unlock()
	if mb == nil {
		n.log.Debug("message to an unregistered name dropped", "name", name)
		return false
	}
	if !mb.put(msg) {
		if ok, suppressed, since := n.drops.Allow(name); ok {
			n.log.Warn("mailbox "+name+" full, message dropped"+ratelog.Suffix(suppressed, since), "name", name, "limit", n.cfg.MailboxLimit, "dropped_total", mb.Dropped())
		}
	}
	return true
}

// nameInUseError is Start's error for a name that the port mapper already
// holds. It wraps the port mapper's error but prints one plain sentence.
type nameInUseError struct {
	local, host string
	err         error
}

func (e *nameInUseError) Error() string {
	return fmt.Sprintf("the name %s is already in use on host %s: stop that node or pick another name", e.local, e.host)
}

func (e *nameInUseError) Unwrap() error { return e.err }
