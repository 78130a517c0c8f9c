package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/gonode/gonode/node/epmd"
	"github.com/gonode/gonode/node/ratelog"
	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

// peer is one connected node.
type peer struct {
	name     string
	conn     *transport.Conn
	since    time.Time
	outgoing bool   // this node dialed
	via      string // origin of the connection: a strategy name, "node" or "incoming"
	creation uint64 // the peer's run, proven in the handshake
	// hidden is set when either side is a hidden node; the peer is then
	// left out of List and of the peer lists sent to others.
	hidden     bool
	listenPort int // guarded by Node.mu; the port the peer announced in its peer list, or 0
}

// dial is an outgoing connection attempt in flight. Other callers that
// want the same node wait for done instead of dialing again.
type dial struct {
	done chan struct{}
	err  error // set before done is closed
}

// retry is the back-off state of a peer that a strategy failed to reach.
type retry struct {
	failures int
	next     time.Time
}

// Back-off of ConnectLater, the connection attempts that discovery
// strategies start. After a failed attempt to a peer, later attempts to it
// are skipped until the back-off passes. It starts at MinConnectBackoff
// and doubles with each failure up to MaxConnectBackoff, and a successful
// connection resets it. Connect, Ping and Send do not wait for it.
const (
	MinConnectBackoff = 500 * time.Millisecond
	MaxConnectBackoff = 10 * time.Second
)

// maxBackoffPeers bounds the back-off table, which unauthenticated
// traffic (forged heartbeats) can fill with names.
const maxBackoffPeers = 4096

// EventKind distinguishes a nodeup from a nodedown.
type EventKind int

const (
	NodeUp EventKind = iota + 1
	NodeDown
)

func (k EventKind) String() string {
	switch k {
	case NodeUp:
		return "nodeup"
	case NodeDown:
		return "nodedown"
	}
	return "event(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change in the connection table. For NodeDown, Reason is one
// of Erlang's words: connection_closed, net_tick_timeout or disconnect,
// or restarted when a new run of the node replaced the connection to its
// previous run.
type Event struct {
	Kind   EventKind
	Node   string
	Reason string
}

// Watch returns a channel that receives every later nodeup and nodedown.
// The channel is closed when the node closes. Events are dropped, not
// queued without bound, for a watcher that keeps more than 256 unread.
func (n *Node) Watch() <-chan Event {
	ch := make(chan Event, 256)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		close(ch)
		return ch
	}
	n.watchers = append(n.watchers, ch)
	return ch
}

func (n *Node) emitLocked(ev Event) {
	for _, w := range n.watchers {
		select {
		case w <- ev:
		default:
		}
	}
	n.broadcastLocked()
}

// broadcastLocked wakes every goroutine waiting on n.changed.
func (n *Node) broadcastLocked() {
	close(n.changed)
	n.changed = make(chan struct{})
}

// List returns the nodes connected over visible connections, in the
// order they connected, as Erlang's nodes(). ListHidden returns the
// others.
func (n *Node) List() []string { return n.listWhere(false) }

// listWhere returns the connected nodes whose connection is hidden or
// not, in the order they connected.
func (n *Node) listWhere(hidden bool) []string {
	n.mu.Lock()
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		if p.hidden == hidden {
			peers = append(peers, p)
		}
	}
	n.mu.Unlock()
	sort.Slice(peers, func(i, j int) bool { return peers[i].since.Before(peers[j].since) })
	names := make([]string, len(peers))
	for i, p := range peers {
		names[i] = p.name
	}
	return names
}

// Connected reports whether node is connected, or is this node.
func (n *Node) Connected(node string) bool {
	if node == n.name {
		return true
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.peers[node]
	return ok
}

// Connect connects to node and reports whether it is connected, as
// Node.connect does: true when connected already or when node is this
// node, false when the connection failed.
// A failure is logged with its reason, at most once per second and node.
func (n *Node) Connect(ctx context.Context, node string) bool {
	if node == n.name {
		return true
	}
	_, err := n.connect(ctx, node, "", "node")
	if err != nil {
		n.logCallFailure(node, err)
	}
	return err == nil
}

// ConnectError is Connect with the reason for a failure.
func (n *Node) ConnectError(ctx context.Context, node string) error {
	_, err := n.connect(ctx, node, "", "node")
	return err
}

// ConnectAddr connects to node at a known transport address, as a
// discovery strategy does; via names the strategy in the nodeup log line.
func (n *Node) ConnectAddr(ctx context.Context, node, addr, via string) error {
	_, err := n.connect(ctx, node, addr, via)
	return err
}

// Disconnect closes the connection to node with a goodbye and reports
// whether there was one. Like erlang:disconnect_node, a strategy may
// connect again later.
func (n *Node) Disconnect(node string) bool {
	n.mu.Lock()
	p, ok := n.peers[node]
	n.mu.Unlock()
	if !ok {
		return false
	}
	p.conn.Close()
	return true
}

// Ping connects to node when needed and checks that it replies, within
// the configured ping timeout. It returns the round-trip time. A failure
// is logged with its reason, as Connect does.
func (n *Node) Ping(ctx context.Context, node string) (time.Duration, error) {
	if node == n.name {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.PingTimeout)
	defer cancel()
	p, err := n.peerOrConnect(ctx, node)
	if err != nil {
		n.logCallFailure(node, err)
		return 0, err
	}
	rtt, err := p.conn.Ping(ctx)
	if err != nil {
		n.logCallFailure(node, fmt.Errorf("ping %s: %w", node, err))
	}
	return rtt, err
}

// peerOrConnect returns the connected peer node, or connects to it. A
// connected peer is the common case, so it is looked up first, because
// connect checks the name and starts a timer on every call.
func (n *Node) peerOrConnect(ctx context.Context, node string) (*peer, error) {
	n.mu.Lock()
	p := n.peers[node]
	n.mu.Unlock()
	if p != nil {
		return p, nil
	}
	return n.connect(ctx, node, "", "node")
}

// connect returns the connection to node, dialing it when there is none.
// addr may be empty, and then the port mapper on node's host is asked.
func (n *Node) connect(ctx context.Context, node, addr, via string) (*peer, error) {
	if _, err := ParseName(node); err != nil {
		return nil, err
	}
	if node == n.name {
		return nil, errors.New("cannot connect to this node itself")
	}
	if err := n.checkNameKind(node); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ConnectTimeout)
	defer cancel()
	redials := 0
	waitedAccepting := false
	for {
		n.mu.Lock()
		if n.closed {
			n.mu.Unlock()
			return nil, errors.New("node is closed")
		}
		if p, ok := n.peers[node]; ok {
			n.mu.Unlock()
			return p, nil
		}
		if n.accepting[node] > 0 && !waitedAccepting {
			// The node may be connecting to us: wait a moment for that
			// handshake instead of dialing a second connection. The
			// wait is short, because the claim is not proven yet.
			changed := n.changed
			n.mu.Unlock()
			select {
			case <-changed:
				continue
			case <-time.After(alreadyConnectedWait):
				waitedAccepting = true
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("connect to %s: %w", node, ctx.Err())
			}
		}
		d, dialing := n.dials[node]
		if !dialing {
			d = &dial{done: make(chan struct{})}
			n.dials[node] = d
			n.mu.Unlock()
			n.runDial(ctx, d, node, addr, via)
		} else {
			n.mu.Unlock()
		}
		select {
		case <-d.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: %w", node, ctx.Err())
		}
		if errors.Is(d.err, transport.ErrAlreadyConnected) {
			// The peer kept its own connection to us (simultaneous
			// connect), which shows up in the table once its
			// handshake ends. Or the peer is still cleaning up after
			// an attempt of ours that failed a moment ago, as with a
			// wrong cookie: then dialing again returns the real error.
			waitCtx, cancelWait := context.WithTimeout(ctx, alreadyConnectedWait)
			p, err := n.waitPeer(waitCtx, node)
			cancelWait()
			if err == nil {
				return p, nil
			}
			if redials < maxAlreadyConnectedRedials && ctx.Err() == nil {
				redials++
				continue
			}
		}
		if d.err != nil {
			return nil, d.err
		}
	}
}

// After a peer rejects a dial as already connected, connect waits up to
// alreadyConnectedWait for the peer's own connection to show up, and then
// dials again, up to maxAlreadyConnectedRedials times.
const (
	alreadyConnectedWait       = 250 * time.Millisecond
	maxAlreadyConnectedRedials = 2
)

// waitPeer waits until node is in the table or ctx is done.
func (n *Node) waitPeer(ctx context.Context, node string) (*peer, error) {
	for {
		n.mu.Lock()
		p, ok := n.peers[node]
		changed := n.changed
		n.mu.Unlock()
		if ok {
			return p, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to %s: %w", node, ctx.Err())
		}
	}
}

// runDial dials node and settles the result into the table.
func (n *Node) runDial(ctx context.Context, d *dial, node, addr, via string) {
	var err error
	defer func() {
		n.mu.Lock()
		delete(n.dials, node)
		n.mu.Unlock()
		d.err = err
		close(d.done)
	}()
	if addr == "" {
		addr, err = n.resolve(ctx, node)
		if err != nil {
			err = fmt.Errorf("connect to %s: %w", node, err)
			return
		}
	}
	c, err := transport.Dial(ctx, addr, n.tcfg, node)
	if err != nil {
		err = fmt.Errorf("connect to %s at %s: %w", node, addr, err)
		return
	}
	if via == "" {
		via = "node"
	}
	n.keep(c, true, via)
}

// resolve looks up node's port with the port mapper on node's host.
func (n *Node) resolve(ctx context.Context, node string) (string, error) {
	local, host := SplitName(node)
	ip, err := n.hostIP(ctx, host)
	if err != nil {
		return "", err
	}
	port, err := epmd.PortFromEnv()
	if err != nil {
		return "", err
	}
	epmdAddr := net.JoinHostPort(ip, strconv.Itoa(port))
	nodePort, err := epmd.Lookup(ctx, epmdAddr, local)
	if errors.Is(err, epmd.ErrNotFound) {
		return "", fmt.Errorf("no node named %s is registered on host %s", local, host)
	}
	if err != nil {
		// The epmd error names epmdAddr.
		return "", err
	}
	return net.JoinHostPort(ip, strconv.Itoa(nodePort)), nil
}

// hostIP resolves host to one address. This machine's own host name is
// served by loopback, so a node on the same host is reached even where
// the host name resolves to an address of another interface.
func (n *Node) hostIP(ctx context.Context, host string) (string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	_, own := SplitName(n.name)
	if host == own {
		return "127.0.0.1", nil
	}
	resolver := n.cfg.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupHost(ctx, host)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return "", fmt.Errorf("%w: host %s does not resolve (no such host in DNS or the hosts file): %w", ErrHostNotFound, host, err)
	}
	if err != nil {
		return "", fmt.Errorf("resolve host %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("%w: host %s resolves to no addresses", ErrHostNotFound, host)
	}
	return addrs[0], nil
}

func (n *Node) acceptLoop() {
	defer n.wg.Done()
	for {
		c, err := n.listener.Accept()
		if err != nil {
			if n.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Such as too many open files: retried every 100 ms.
			if ok, repeats := n.shouldReport("listener", "accept"); ok {
				n.log.Error("accept failed"+repeats, "addr", n.listener.Addr().String(), "err", err)
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-n.ctx.Done():
				return
			}
			continue
		}
		select {
		case n.handshakes <- struct{}{}:
		default:
			n.rejectBusy(c)
			continue
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer func() { <-n.handshakes }()
			n.handshake(c)
		}()
	}
}

// rejectBusy closes a connection accepted while MaxHandshakes handshakes
// are in flight.
func (n *Node) rejectBusy(c net.Conn) {
	remote := c.RemoteAddr().String()
	c.Close()
	if ok, repeats := n.shouldReport(reportKey("", remote), "busy"); ok {
		n.log.Warn("rejected connection from "+remote+": too many handshakes in flight"+repeats, "addr", remote, "max", MaxHandshakes)
	}
}

// handshake runs the server side of the handshake on an incoming
// connection. From admit until the connection is kept or fails, the peer
// counts as accepting, so that connect waits for it instead of dialing a
// second connection to the same node.
func (n *Node) handshake(c net.Conn) {
	// The transport bounds the handshake by ConnectTimeout and names the
	// timeout; a deadline here too would expire with it and hide that.
	ctx := n.ctx
	var admitted string
	admit := func(peerName string, creation uint64) transport.Status {
		status := n.admit(peerName, creation)
		if status == transport.StatusOK {
			admitted = peerName
		}
		return status
	}
	tc, err := transport.Accept(ctx, c, n.tcfg, admit)
	if err == nil {
		n.keep(tc, false, "incoming")
	} else {
		n.reportRejected(c.RemoteAddr().String(), err)
	}
	if admitted != "" {
		n.mu.Lock()
		n.accepting[admitted]--
		if n.accepting[admitted] <= 0 {
			delete(n.accepting, admitted)
		}
		n.broadcastLocked()
		n.mu.Unlock()
	}
}

// admit decides whether to go on with the handshake of an incoming
// connection from peerName, whose hello claims the run creation (not
// proven yet). When both nodes dial each other at the same moment, the attempt
// made by the node with the smaller name wins on both sides, so exactly
// one connection is left. A node that is connected already is rejected as
// alive, unless the claim is a later run (a restart). A later run may go
// on to prove the cookie, and keep then replaces the stale connection. A
// claim of an earlier run than the connected one is rejected as a name in
// use, so two live runs of one name do not take turns.
func (n *Node) admit(peerName string, creation uint64) transport.Status {
	if peerName == n.name {
		return transport.StatusNameInUse
	}
	if _, err := ParseName(peerName); err != nil {
		return transport.StatusNotAllowed
	}
	if err := n.checkNameKind(peerName); err != nil {
		if ok, repeats := n.shouldReport(peerName, "name kind"); ok {
			n.log.Warn("rejected connection from "+term.Inspect(term.Atom(peerName))+repeats, "peer", peerName, "err", err)
		}
		return transport.StatusNotAllowed
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return transport.StatusNotAllowed
	}
	if p, ok := n.peers[peerName]; ok {
		switch {
		case creation > p.creation:
		case creation < p.creation:
			return transport.StatusNameInUse
		default:
			return transport.StatusAlive
		}
	}
	// NOTE: an incoming handshake that claims peerName and has not yet
	// proven the cookie does not block another: anyone can send a hello
	// with any name, and a stalled one must not lock out the real node.
	// When both prove the cookie, keep leaves one connection.
	if _, dialing := n.dials[peerName]; dialing && n.name < peerName {
		return transport.StatusAlive
	}
	n.accepting[peerName]++
	return transport.StatusOK
}

// keep puts a connection whose handshake finished into the table. If the
// table holds one to the same node already, the connection to the later
// run of the node stays (a restart) and the other is closed. Two
// connections to the same run exist when both sides dialed and both
// handshakes passed admit. Then the one dialed by the node with the
// smaller name stays, and both nodes decide alike.
func (n *Node) keep(c *transport.Conn, outgoing bool, via string) {
	name := c.Peer()
	p := &peer{name: name, conn: c, since: time.Now(), outgoing: outgoing, via: via, creation: c.PeerCreation(),
		hidden: n.cfg.Hidden || c.PeerHidden()}

	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		c.Close()
		return
	}
	old, exists := n.peers[name]
	var drop *transport.Conn
	restarted := exists && p.creation > old.creation
	switch {
	case !exists:
		n.peers[name] = p
		delete(n.backoff, name)
		n.emitLocked(Event{Kind: NodeUp, Node: name})
	case restarted:
		drop = old.conn
		n.peers[name] = p
		n.emitLocked(Event{Kind: NodeDown, Node: name, Reason: "restarted"})
		n.emitLocked(Event{Kind: NodeUp, Node: name})
	case p.creation == old.creation && dialedBySmaller(n.name, name, outgoing) && !dialedBySmaller(n.name, name, old.outgoing):
		drop = old.conn
		p.since = old.since
		n.peers[name] = p
	default:
		drop = c
	}
	kept := n.peers[name] == p
	if kept && !p.hidden && n.meshEnabled() {
		n.wakeMeshLocked()
	}
	if kept {
		// Start before unlocking, so that no Send finds the peer in the
		// table before its connection runs. Start does not block.
		c.Start(&peerHandler{n: n, p: p})
	}
	n.mu.Unlock()

	if kept {
		logVia := via
		if via == "incoming" {
			logVia = "node"
		}
		switch {
		case restarted:
			n.log.With("component", logVia).Info("connected to "+term.Inspect(term.Atom(name))+", which restarted; dropped the stale connection to its previous run", "addr", c.RemoteAddr().String())
		case !exists:
			n.log.With("component", logVia).Info("connected to " + term.Inspect(term.Atom(name)))
		}
	}
	if drop != nil {
		drop.Close()
	}
}

// dialedBySmaller reports whether a connection between self and peer was
// dialed by the one of the two with the smaller name.
func dialedBySmaller(self, peer string, outgoing bool) bool {
	if outgoing {
		return self < peer
	}
	return peer < self
}

// peerHandler receives a kept connection's messages and its end.
type peerHandler struct {
	n *Node
	p *peer
}

func (h *peerHandler) HandleMessage(to, from string, payload []byte) {
	msg, err := term.Unmarshal(payload)
	if err != nil {
		if ok, repeats := h.n.shouldReport(h.p.name, "undecodable"); ok {
			h.n.log.Warn("undecodable message dropped"+repeats, "peer", h.p.name, "to", to, "err", err)
		}
		return
	}
	h.n.deliver(to, msg) // a message to an unregistered name is dropped, as in Erlang
}

func (h *peerHandler) HandleDown(err error) {
	n := h.n
	n.mu.Lock()
	current := n.peers[h.p.name] == h.p
	if current {
		delete(n.peers, h.p.name)
	}
	reason := transport.Reason(err)
	if current && !n.closed {
		n.emitLocked(Event{Kind: NodeDown, Node: h.p.name, Reason: reason})
		if !h.p.hidden && n.meshEnabled() {
			n.wakeMeshLocked()
		}
	}
	closing := n.closed
	n.mu.Unlock()
	if current && !closing {
		n.log.Info("disconnected from "+term.Inspect(term.Atom(h.p.name)), "reason", reason)
	}
}

// NOTE: dials and back-off are keyed by node name only, so a forged
// heartbeat that names a real peer with an address that never replies
// holds up the real connection until that dial times out and its
// back-off passes; a --gossip-secret does not stop a replayed heartbeat.
//
// ConnectLater starts a connection attempt to node at addr in the
// background and returns at once; via names the strategy. Attempts to a
// node that failed recently are skipped until its back-off passes, which
// doubles with each failure from MinConnectBackoff up to
// MaxConnectBackoff. Repeated failures of one kind to one node are logged
// at most once every ratelog.DefaultWindow, with a count.
//
// Attempts started by ConnectLater share one rate limit, at most
// MaxDiscoveryDials at once and then DiscoveryDialRate a second, so that
// a flood of forged heartbeats naming many nodes cannot make the node
// dial without bound. A call over the limit is dropped: discovery calls
// again with the peer's next heartbeat or lookup.
func (n *Node) ConnectLater(node, addr, via string) {
	n.connectLater(node, addr, via, false)
}

// The rate limit of ConnectLater's attempts, a token bucket.
const (
	MaxDiscoveryDials = 128
	DiscoveryDialRate = 16
)

// startResult is the outcome of connectLater.
type startResult int

const (
	startSkipped startResult = iota // connected, dialing or backing off already
	startLimited                    // over the mesh or discovery rate limit
	started
)

// connectLater is ConnectLater. With limited, the attempt takes a token
// of the mesh rate limit, else one of the discovery rate limit.
func (n *Node) connectLater(node, addr, via string, limited bool) startResult {
	n.mu.Lock()
	now := time.Now()
	_, connected := n.peers[node]
	_, dialing := n.dials[node]
	r := n.backoff[node]
	if n.closed || connected || dialing || (r != nil && now.Before(r.next)) {
		n.mu.Unlock()
		return startSkipped
	}
	if limited && !n.meshBudget.take(now, meshBurst, meshRate) ||
		!limited && !n.dialBudget.take(now, MaxDiscoveryDials, DiscoveryDialRate) {
		n.mu.Unlock()
		return startLimited
	}
	n.mu.Unlock()

	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		_, err := n.connect(n.ctx, node, addr, via)
		if err == nil || n.ctx.Err() != nil {
			return
		}
		n.mu.Lock()
		r := n.backoff[node]
		if r == nil {
			if len(n.backoff) >= maxBackoffPeers {
				n.pruneBackoffLocked()
			}
			r = &retry{}
			n.backoff[node] = r
		}
		r.failures++
		wait := MinConnectBackoff << min(r.failures-1, 5)
		r.next = time.Now().Add(min(wait, MaxConnectBackoff))
		n.mu.Unlock()
		n.reportConnectError(node, via, err)
	}()
	return started
}

// pruneBackoffLocked drops the back-off of peers whose wait is over, and
// all of them when none is.
func (n *Node) pruneBackoffLocked() {
	now := time.Now()
	for name, r := range n.backoff {
		if now.After(r.next) {
			delete(n.backoff, name)
		}
	}
	if len(n.backoff) >= maxBackoffPeers {
		clear(n.backoff)
	}
}

// reportConnectError logs a failed attempt to node, at most once per
// node and kind of failure every ratelog.DefaultWindow.
//
// Lines about different nodes share a second limit, connectLogBurst and
// then connectLogRate a second, because forged heartbeats can name any
// number of nodes. The lines it holds back are counted in the next one.
func (n *Node) reportConnectError(node, via string, err error) {
	ok, repeats := n.shouldReport(node, errorKind(err))
	if !ok {
		return
	}
	n.mu.Lock()
	if !n.connectLogBudget.take(time.Now(), connectLogBurst, connectLogRate) {
		n.connectLogHeld++
		n.mu.Unlock()
		return
	}
	held := n.connectLogHeld
	n.connectLogHeld = 0
	n.mu.Unlock()
	if held > 0 {
		repeats += fmt.Sprintf(" (%d lines about other nodes held back)", held)
	}
	msg := "cannot connect to " + term.Inspect(term.Atom(node))
	if errors.Is(err, transport.ErrBadCookie) {
		msg += ": the cookies differ (the peer rejected ours, or its proof failed)"
	}
	n.log.With("component", via).Warn(msg+repeats, "peer", node, "err", err)
}

// The limit on "cannot connect" lines across all nodes: a burst of
// connectLogBurst, then connectLogRate a second.
const (
	connectLogBurst = 20
	connectLogRate  = 0.5
)

// logCallFailure logs why a Connect or Ping to node failed, at most once
// per second and node, so that the caller's false or pang is explained.
func (n *Node) logCallFailure(node string, err error) {
	if ok, _, _ := n.callLogs.Allow(node); !ok || n.ctx.Err() != nil {
		return
	}
	n.log.With("component", "node").Warn("cannot connect to "+term.Inspect(term.Atom(node)), "err", err)
}

// reportRejected logs a failed incoming handshake, at most once per peer
// and kind of failure every ratelog.DefaultWindow.
func (n *Node) reportRejected(remote string, err error) {
	var herr *transport.HandshakeError
	peerName := ""
	if errors.As(err, &herr) {
		peerName = herr.Peer
	}
	if errors.Is(err, transport.ErrAlreadyConnected) {
		return
	}
	ok, repeats := n.shouldReport(reportKey(peerName, remote), errorKind(err))
	if !ok {
		return
	}
	msg := "rejected connection from " + remote
	if peerName != "" {
		msg = "rejected connection from " + term.Inspect(term.Atom(peerName))
	}
	if errors.Is(err, transport.ErrBadCookie) {
		msg += ": it does not have our cookie"
	}
	n.log.Warn(msg+repeats, "peer", peerName, "addr", remote, "err", err)
}

// reportKey returns the key under which failures of a connection from
// remote that claimed peerName are counted: the name when there is one,
// else the host. Each connection comes from a new port, so keying by the
// host makes a stream of garbage connections from one host one key.
func reportKey(peerName, remote string) string {
	if peerName != "" {
		return peerName
	}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// shouldReport reports whether a failure of kind with who should be
// logged now, and returns the note on how many were held back before it.
func (n *Node) shouldReport(who, kind string) (bool, string) {
	ok, suppressed, since := n.reports.Allow(who + " " + kind)
	return ok, ratelog.Suffix(suppressed, since)
}

// errorKind names the kind of a connection error, so that a repeated
// failure of the same kind is logged once.
func errorKind(err error) string {
	for _, known := range []error{
		transport.ErrBadCookie, transport.ErrNameInUse, transport.ErrNotAllowed,
		transport.ErrVersion, context.DeadlineExceeded, ErrNameKind, ErrHostNotFound,
	} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op
	}
	return "other"
}
