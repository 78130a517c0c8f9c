package epmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultTimeout bounds a client call whose context has no deadline.
const DefaultTimeout = 5 * time.Second

var (
	// ErrNameInUse is returned by Register when epmd rejects the name,
	// which Erlang's epmd and Server both do when another connection has
	// registered it.
	ErrNameInUse = errors.New("epmd: node name in use")
	// ErrNotFound is returned by Lookup when no node of that name is
	// registered.
	ErrNotFound = errors.New("epmd: node not found")
	// ErrRegistrationClosed is the Err of a Registration ended by Close.
	ErrRegistrationClosed = errors.New("epmd: registration closed")
)

// maxPort2Reply is the size of the largest PORT2_RESP: code, result,
// 10 bytes of fixed fields, a MaxNameLen name and the largest Extra.
const maxPort2Reply = 2 + 10 + MaxNameLen + 2 + 65535

// exchange is a client connection whose deadline follows ctx, or
// DefaultTimeout when ctx has none, and which a cancel of ctx interrupts.
type exchange struct {
	ctx    context.Context // the call's context, with DefaultTimeout applied
	conn   net.Conn
	cancel context.CancelFunc
	stop   func() bool // detaches ctx from conn; false if ctx already fired
}

func dialExchange(ctx context.Context, addr string) (*exchange, error) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		cancel()
		return nil, err
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() {
		// A deadline in the past wakes any blocked read or write.
		conn.SetDeadline(time.Unix(1, 0))
	})
	return &exchange{ctx: ctx, conn: conn, cancel: cancel, stop: stop}, nil
}

// requestError wraps err, the failure of the request step to the epmd at
// addr, and names addr unless err is a dial error, which names it already.
func requestError(step, addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Errorf("epmd: %s: %w", step, err)
	}
	return fmt.Errorf("epmd: %s at %s: %w", step, addr, err)
}

// close closes the connection and releases the context.
func (e *exchange) close() {
	e.stop()
	e.cancel()
	e.conn.Close()
}

// request sends req and reads the reply until epmd closes the connection,
// accepting at most limit bytes.
func request(ctx context.Context, addr string, req []byte, limit int) ([]byte, error) {
	e, err := dialExchange(ctx, addr)
	if err != nil {
		return nil, err
	}
	defer e.close()
	if _, err := e.conn.Write(req); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	reply, err := io.ReadAll(io.LimitReader(e.conn, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	if len(reply) > limit {
		return nil, fmt.Errorf("%w: reply exceeds %d bytes", errMalformed, limit)
	}
	return reply, nil
}

// Lookup sends PORT_PLEASE2_REQ to the epmd at addr and returns the
// distribution port of the node called name, the part of the node name
// before '@'. It returns an error wrapping ErrNotFound when no such node
// is registered.
func Lookup(ctx context.Context, addr string, name string) (port int, err error) {
	if err := validateName(name); err != nil {
		return 0, fmt.Errorf("epmd: look up at %s: %w", addr, err)
	}
	reply, err := request(ctx, addr, encodePortPlease2Request(name), maxPort2Reply)
	if err != nil {
		return 0, requestError(fmt.Sprintf("look up %q", name), addr, err)
	}
	info, found, err := parsePort2Response(reply)
	if err != nil {
		return 0, fmt.Errorf("epmd: look up %q at %s: %w", name, addr, err)
	}
	if !found {
		return 0, fmt.Errorf("%w: %q at %s", ErrNotFound, name, addr)
	}
	return int(info.Port), nil
}

// Names returns the nodes registered with the epmd at addr, in the order
// epmd lists them.
func Names(ctx context.Context, addr string) ([]NameEntry, error) {
	reply, err := request(ctx, addr, encodeSimpleRequest(codeNames), maxNamesReply)
	if err != nil {
		return nil, requestError("list names", addr, err)
	}
	_, entries, err := parseNamesResponse(reply)
	if err != nil {
		return nil, fmt.Errorf("epmd: list names at %s: %w", addr, err)
	}
	return entries, nil
}

// kill sends KILL_REQ to the epmd at addr. It returns false with a nil
// error when epmd declines because nodes are registered.
func kill(ctx context.Context, addr string) (bool, error) {
	reply, err := request(ctx, addr, encodeSimpleRequest(codeKill), 2)
	if err != nil {
		return false, requestError("kill", addr, err)
	}
	switch string(reply) {
	case "OK":
		return true, nil
	case "NO":
		return false, nil
	}
	return false, fmt.Errorf("epmd: kill at %s: %w: reply %q, want \"OK\" or \"NO\"", addr, errMalformed, reply)
}

// Registration is a node name registered with an epmd. It lasts until
// Close is called or epmd closes the connection, and Done reports either.
// Its methods are safe for concurrent use.
type Registration struct {
	// Name and Port are the values sent in ALIVE2_REQ.
	Name string
	Port int
	// Creation is the incarnation number epmd assigned to this
	// registration.
	Creation uint32

	conn      net.Conn
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex // guards err and closing
	err     error
	closing bool
}

// Register registers name, the part of the node name before '@', with
// distribution port port at the epmd at addr, as a normal node of
// distribution version 6. The registration keeps a TCP connection open
// until Close. It returns an error wrapping ErrNameInUse when epmd
// rejects the name.
func Register(ctx context.Context, addr string, name string, port int) (*Registration, error) {
	if err := validateName(name); err != nil {
		return nil, fmt.Errorf("epmd: register at %s: %w", addr, err)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("epmd: register %q at %s: invalid port %d", name, addr, port)
	}
	e, err := dialExchange(ctx, addr)
	if err != nil {
		return nil, requestError(fmt.Sprintf("register %q", name), addr, err)
	}
	reply, err := sendAlive2(e.conn, name, port)
	if stopped := e.stop(); !stopped && err == nil {
		// ctx fired after the reply arrived, but it may have set the
		// past deadline already, so the connection is not usable.
		err = e.ctx.Err()
	}
	e.cancel()
	if err != nil {
		e.conn.Close()
		return nil, fmt.Errorf("epmd: register %q at %s: %w", name, addr, err)
	}
	if reply.Result != 0 {
		e.conn.Close()
		return nil, fmt.Errorf("%w: %q at %s (result %d)", ErrNameInUse, name, addr, reply.Result)
	}

	e.conn.SetDeadline(time.Time{})
	r := &Registration{
		Name:     name,
		Port:     port,
		Creation: reply.Creation,
		conn:     e.conn,
		done:     make(chan struct{}),
	}
	go r.watch()
	return r, nil
}

// sendAlive2 sends ALIVE2_REQ on c and reads the ALIVE2_X_RESP or
// ALIVE2_RESP, which has no length prefix and is not followed by a close.
func sendAlive2(c net.Conn, name string, port int) (alive2Response, error) {
	req := encodeAlive2Request(nodeInfo{
		Port:           uint16(port),
		NodeType:       NodeTypeNormal,
		Protocol:       ProtocolTCPIPv4,
		HighestVersion: DistributionVersion,
		LowestVersion:  DistributionVersion,
		Name:           name,
	})
	if _, err := c.Write(req); err != nil {
		return alive2Response{}, fmt.Errorf("send ALIVE2_REQ: %w", err)
	}
	reply := make([]byte, 2, 6)
	if _, err := io.ReadFull(c, reply); err != nil {
		return alive2Response{}, fmt.Errorf("read ALIVE2 reply: %w", err)
	}
	size, err := alive2CreationSize(reply[0])
	if err != nil {
		return alive2Response{}, err
	}
	reply = reply[:2+size]
	if _, err := io.ReadFull(c, reply[2:]); err != nil {
		return alive2Response{}, fmt.Errorf("read ALIVE2 creation: %w", err)
	}
	return parseAlive2Response(reply)
}

// watch waits for the registration's connection to end. epmd never sends
// after its reply, so any read result ends the registration.
func (r *Registration) watch() {
	var buf [1]byte
	n, err := r.conn.Read(buf[:])
	r.conn.Close()

	r.mu.Lock()
	switch {
	case r.closing:
		r.err = ErrRegistrationClosed
	case n > 0:
		r.err = fmt.Errorf("epmd: registration of %q ended: %w: data after the ALIVE2 reply", r.Name, errMalformed)
	case errors.Is(err, io.EOF):
		r.err = fmt.Errorf("epmd: registration of %q ended: epmd closed the connection", r.Name)
	default:
		r.err = fmt.Errorf("epmd: registration of %q ended: %w", r.Name, err)
	}
	r.mu.Unlock()
	close(r.done)
}

// Done returns a channel that is closed when the registration ends,
// either by Close or because epmd closed the connection.
func (r *Registration) Done() <-chan struct{} {
	return r.done
}

// Err returns nil while the registration lasts, ErrRegistrationClosed
// after Close, and otherwise the reason epmd's connection ended.
func (r *Registration) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Close unregisters the node by closing the connection and waits until
// the registration's goroutine has ended. It is idempotent and returns nil.
func (r *Registration) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closing = true
		r.mu.Unlock()
		r.conn.Close()
	})
	<-r.done
	return nil
}
