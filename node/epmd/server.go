package epmd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"time"
)

// Server defaults, used when the matching Server field is zero.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultMaxConns       = 4096
	DefaultMaxPending     = 256
)

// maxRequestSize bounds the body of a request. The largest valid one is an
// ALIVE2_REQ with a name of MaxNameLen bytes and a short extra field. A
// length above the bound closes the connection before anything is
// allocated for it.
const maxRequestSize = 1024

var (
	// ErrServerClosed is returned by Serve after Close.
	ErrServerClosed = errors.New("epmd: server closed")
	// ErrKilled is returned by Serve after a client sent KILL_REQ while no
	// node was registered. The caller still calls Close.
	ErrKilled = errors.New("epmd: server killed by KILL_REQ")
)

// Server is a port mapper that speaks the EPMD protocol, so Erlang nodes
// and gonode nodes can both register with it and look each other up.
// A registration lasts as long as the TCP connection that made it.
//
// Set the exported fields before the first call to Serve. Serve and Close
// are safe for concurrent use, and one Server may serve several listeners.
type Server struct {
	// Logger receives registrations, unregistrations and errors. Nil
	// discards them.
	Logger *slog.Logger
	// RequestTimeout bounds how long a connection may take to send its
	// request and to read the reply. Zero means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConns bounds the number of open connections, registered nodes
	// included. A connection over the limit is closed at once. Zero means
	// DefaultMaxConns.
	MaxConns int
	// MaxPending bounds the connections that have not sent their request
	// yet. When a connection arrives with MaxPending waiting, the oldest
	// waiting one is closed, so a flood of idle connections cannot keep
	// clients out: a real client sends its request at once. Zero means
	// DefaultMaxPending.
	MaxPending int

	initOnce sync.Once
	log      *slog.Logger
	slots    chan struct{} // one token per open connection
	done     chan struct{} // closed by Close or by KILL_REQ
	wg       sync.WaitGroup

	mu        sync.Mutex // guards the fields below
	closed    bool
	killed    bool
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	pending   map[net.Conn]uint64 // connections without a request yet, by arrival number
	arrivals  uint64              // connections accepted so far
	evicted   int                 // pending connections closed for MaxPending since the last log
	lastEvict time.Time           // time of the last MaxPending log
	nodes     map[string]registeredNode
	creation  uint32
	rejected  int       // connections closed for MaxConns since the last log
	lastLog   time.Time // time of the last MaxConns log
}

// registeredNode is a node in the table, with the connection that keeps
// it registered.
type registeredNode struct {
	info     nodeInfo
	creation uint32
	conn     net.Conn
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		logger := s.Logger
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		s.log = logger.With("component", "epmd")
		maxConns := s.MaxConns
		if maxConns <= 0 {
			maxConns = DefaultMaxConns
		}
		s.slots = make(chan struct{}, maxConns)
		s.done = make(chan struct{})
		s.listeners = make(map[net.Listener]struct{})
		s.conns = make(map[net.Conn]struct{})
		s.pending = make(map[net.Conn]uint64)
		s.nodes = make(map[string]registeredNode)
		// Erlang reserves creation 0 for "unknown", and a random start
		// makes a restarted server unlikely to reuse a recent value.
		s.creation = rand.Uint32()
	})
}

// ListenAndServe listens on the TCP address addr and serves the EPMD
// protocol there until the listener fails or a client kills the server.
func ListenAndServe(addr string, logger *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("epmd: listen on %s: %w", addr, err)
	}
	s := &Server{Logger: logger}
	err = s.Serve(l)
	s.Close()
	return err
}

// Serve accepts connections on l and serves each in its own goroutine.
// It blocks until l fails, Close is called (ErrServerClosed) or a client
// sends KILL_REQ (ErrKilled), and it closes l before it returns.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if !s.addListener(l) {
		l.Close()
		return ErrServerClosed
	}
	defer s.removeListener(l)
	s.log.Info("epmd listening", "addr", l.Addr().String())

	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if stopErr := s.stopError(); stopErr != nil {
				return stopErr
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("epmd: accept on %s: %w", l.Addr(), err)
			}
			// Errors such as EMFILE pass, so retry with a growing pause
			// that Close can interrupt.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed, retrying", "addr", l.Addr().String(), "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-s.done:
			}
			continue
		}
		backoff = 0
		s.startConn(c)
	}
}

// startConn hands c to a new goroutine, unless the server is closing or
// MaxConns connections are open already.
func (s *Server) startConn(c net.Conn) {
	select {
	case s.slots <- struct{}{}:
	default:
		c.Close()
		s.noteRejected()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		<-s.slots
		return
	}
	s.conns[c] = struct{}{}
	s.addPendingLocked(c)
	s.wg.Add(1)
	s.mu.Unlock()

	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		defer s.removeConn(c)
		defer c.Close()
		s.serveConn(c)
	}()
}

// addPendingLocked records c as waiting for its request, and closes the
// oldest waiting connection first when MaxPending are waiting.
func (s *Server) addPendingLocked(c net.Conn) {
	maxPending := s.MaxPending
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	if len(s.pending) >= maxPending {
		var oldest net.Conn
		var oldestArrival uint64
		for pc, arrival := range s.pending {
			if oldest == nil || arrival < oldestArrival {
				oldest, oldestArrival = pc, arrival
			}
		}
		delete(s.pending, oldest)
		oldest.Close()
		s.evicted++
		if time.Since(s.lastEvict) >= time.Second {
			s.log.Warn("closed idle connections that sent no request", "count", s.evicted, "max_pending", maxPending)
			s.evicted = 0
			s.lastEvict = time.Now()
		}
	}
	s.arrivals++
	s.pending[c] = s.arrivals
}

// settle records that c's request arrived, or that c ended without one.
func (s *Server) settle(c net.Conn) {
	s.mu.Lock()
	delete(s.pending, c)
	s.mu.Unlock()
}

// noteRejected counts a connection closed for MaxConns and logs the count
// at most once a second.
func (s *Server) noteRejected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected++
	if time.Since(s.lastLog) < time.Second {
		return
	}
	s.log.Warn("closed connections over the limit", "count", s.rejected, "max_conns", cap(s.slots))
	s.rejected = 0
	s.lastLog = time.Now()
}

// Close stops every Serve call, closes all connections, which unregisters
// every node, and waits for the connection goroutines to end. It is
// idempotent and always returns nil.
func (s *Server) Close() error {
	s.init()
	s.mu.Lock()
	s.stopLocked()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// stopLocked marks the server closed and closes its listeners without
// waiting, so a connection goroutine may call it.
func (s *Server) stopLocked() {
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	for l := range s.listeners {
		l.Close()
	}
}

// stopError returns the error Serve ends with once the server stopped,
// or nil while it runs.
func (s *Server) stopError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.killed:
		return ErrKilled
	case s.closed:
		return ErrServerClosed
	}
	return nil
}

func (s *Server) addListener(l net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.listeners[l] = struct{}{}
	return true
}

func (s *Server) removeListener(l net.Listener) {
	s.mu.Lock()
	delete(s.listeners, l)
	s.mu.Unlock()
	l.Close()
}

func (s *Server) removeConn(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	delete(s.pending, c)
	s.mu.Unlock()
}

// serveConn reads one request from c and replies to it. For ALIVE2_REQ
// it then holds the registration until c closes.
func (s *Server) serveConn(c net.Conn) {
	timeout := s.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	remote := c.RemoteAddr().String()
	c.SetDeadline(time.Now().Add(timeout))
	body, err := readRequest(c)
	s.settle(c)
	if err != nil {
		s.log.Debug("closing connection without a request", "remote", remote, "err", err)
		return
	}
	switch body[0] {
	case codeAlive2Req:
		s.serveAlive2(c, body[1:])
	case codePortPlease2:
		s.servePortPlease2(c, string(body[1:]))
	case codeNames:
		s.serveNames(c)
	case codeKill:
		s.serveKill(c)
	default:
		s.log.Debug("closing connection after an unsupported request", "remote", remote, "code", body[0])
	}
}

// readRequest reads a 2-byte length and then a body of that length, of 1
// to maxRequestSize bytes.
func readRequest(r io.Reader) ([]byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, fmt.Errorf("read request length: %w", err)
	}
	n := binary.BigEndian.Uint16(head[:])
	if n == 0 {
		return nil, fmt.Errorf("%w: request length is 0", errMalformed)
	}
	if n > maxRequestSize {
		return nil, fmt.Errorf("%w: request length %d exceeds the maximum %d", errMalformed, n, maxRequestSize)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("read %d-byte request: %w", n, err)
	}
	return body, nil
}

// isLocal reports whether addr is a loopback address. Addresses that are
// not TCP, such as pipes and Unix sockets, are local by construction.
func isLocal(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return true
	}
	return tcp.IP.IsLoopback()
}

func (s *Server) serveAlive2(c net.Conn, fields []byte) {
	remote := c.RemoteAddr().String()
	info, err := parseNodeFields(fields)
	if err != nil {
		s.log.Warn("closing connection after a malformed ALIVE2_REQ", "remote", remote, "err", err)
		return
	}
	// As Erlang's epmd does, only the local host may register names.
	if !isLocal(c.RemoteAddr()) {
		s.log.Warn("rejected ALIVE2_REQ from a non-loopback address", "remote", remote, "name", info.Name)
		return
	}
	extended := info.HighestVersion >= DistributionVersion
	creation, ok := s.register(info, c)
	if !ok {
		s.log.Info("rejected registration: name in use", "name", info.Name, "port", info.Port, "remote", remote)
		c.Write(encodeAlive2Response(extended, 1, 0))
		return
	}
	defer s.unregister(info.Name, c)
	if !extended {
		// ALIVE2_RESP dates from when creation was 2 bits wide (1 to 3).
		creation = creation%3 + 1
	}
	if _, err := c.Write(encodeAlive2Response(extended, 0, creation)); err != nil {
		s.log.Warn("sending ALIVE2 reply failed", "name", info.Name, "remote", remote, "err", err)
		return
	}
	s.log.Info("registered node", "name", info.Name, "port", info.Port, "creation", creation, "remote", remote)

	// The node sends nothing more. Any read result, data included, ends
	// the registration.
	c.SetDeadline(time.Time{})
	var buf [1]byte
	n, err := c.Read(buf[:])
	reason := "connection closed"
	switch {
	case n > 0:
		reason = "unexpected data after ALIVE2_REQ"
	case err != nil && !errors.Is(err, io.EOF):
		reason = err.Error()
	}
	s.log.Info("unregistered node", "name", info.Name, "port", info.Port, "reason", reason)
}

// register adds info to the table unless its name is taken. It returns the
// creation assigned to the new registration.
func (s *Server) register(info nodeInfo, c net.Conn) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, false
	}
	if _, taken := s.nodes[info.Name]; taken {
		return 0, false
	}
	s.creation++
	if s.creation == 0 {
		s.creation = 1
	}
	s.nodes[info.Name] = registeredNode{info: info, creation: s.creation, conn: c}
	return s.creation, true
}

// unregister removes name from the table if c still owns it.
func (s *Server) unregister(name string, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.nodes[name]; ok && n.conn == c {
		delete(s.nodes, name)
	}
}

func (s *Server) servePortPlease2(c net.Conn, name string) {
	s.mu.Lock()
	n, ok := s.nodes[name]
	s.mu.Unlock()
	var reply []byte
	if ok {
		reply = encodePort2Response(&n.info)
	} else {
		reply = encodePort2Response(nil)
	}
	if _, err := c.Write(reply); err != nil {
		s.log.Debug("sending PORT2_RESP failed", "remote", c.RemoteAddr().String(), "err", err)
	}
}

func (s *Server) serveNames(c net.Conn) {
	entries := s.names()
	var port uint32
	if tcp, ok := c.LocalAddr().(*net.TCPAddr); ok {
		port = uint32(tcp.Port)
	}
	if _, err := c.Write(encodeNamesResponse(port, entries)); err != nil {
		s.log.Debug("sending NAMES_RESP failed", "remote", c.RemoteAddr().String(), "err", err)
	}
}

// names returns the registered nodes sorted by name.
func (s *Server) names() []NameEntry {
	s.mu.Lock()
	entries := make([]NameEntry, 0, len(s.nodes))
	for name, n := range s.nodes {
		entries = append(entries, NameEntry{Name: name, Port: int(n.info.Port)})
	}
	s.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return entries
}

// serveKill stops the server when the request comes from the local host
// and no node is registered, as Erlang's epmd does without
// -relaxed_command_check.
func (s *Server) serveKill(c net.Conn) {
	remote := c.RemoteAddr().String()
	if !isLocal(c.RemoteAddr()) {
		s.log.Warn("rejected KILL_REQ from a non-loopback address", "remote", remote)
		return
	}
	s.mu.Lock()
	allowed := len(s.nodes) == 0 && !s.closed
	s.mu.Unlock()
	if !allowed {
		s.log.Info("rejected KILL_REQ: nodes are registered", "remote", remote)
		c.Write([]byte("NO"))
		return
	}
	s.log.Info("stopping on KILL_REQ", "remote", remote)
	// Reply before stopping: stopping closes every connection, this one
	// included, and the client would read an empty reply.
	c.Write([]byte("OK"))
	s.mu.Lock()
	if !s.closed {
		s.killed = true
		s.stopLocked()
	}
	s.mu.Unlock()
}
