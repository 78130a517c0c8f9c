package shell

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

// The call methods of the remote shell. Requests and replies are terms
// encoded with term.Marshal, maps with atom keys:
//
//	shell.open   request nil                         reply %{session: id, counter: n}
//	shell.eval   request %{session: id, src: input}  reply %{counter:, variables:, ...}
//	shell.close  request %{session: id}              reply :ok
//
// The reply of shell.eval holds output (the lines that commands printed),
// value, quiet, clear, halt and exit_code, as in commands.Result, or
// error, a map of kind, message, line and column, or empty: true for an
// input without an expression.
const (
	methodOpen  = "shell.open"
	methodEval  = "shell.eval"
	methodClose = "shell.close"
)

// maxRemoteSessions bounds the remote shells that one node serves at once.
const maxRemoteSessions = 64

// RemoteServer serves remote shells (gonode --remsh) on a node. Each
// remote shell is a commands.Session with a Runtime and a mailbox of its
// own on the node, so self(), flush() and receive use a mailbox there. A
// session belongs to the peer that opened it and ends when that peer
// closes it or disconnects. Every peer that passed the cookie handshake
// may open one.
type RemoteServer struct {
	node *node.Node

	mu       sync.Mutex
	sessions map[int64]*remoteSession // guarded by mu
	lastID   int64                    // guarded by mu
	closed   bool                     // guarded by mu

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// remoteSession is one remote shell on the serving node.
type remoteSession struct {
	id      int64
	peer    string
	busy    chan struct{} // capacity 1, held while an input runs, because a Session is for one goroutine
	session *commands.Session
	rt      *Runtime
	mailbox *node.Mailbox
}

// ServeRemote registers the remote shell's call methods on n and starts
// following n's events, to end the sessions of a peer that goes down.
// Close stops it.
func ServeRemote(n *node.Node) *RemoteServer {
	s := &RemoteServer{
		node:     n,
		sessions: make(map[int64]*remoteSession),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	n.HandleCall(methodOpen, s.open)
	n.HandleCall(methodEval, s.eval)
	n.HandleCall(methodClose, s.closeSession)
	events := n.Watch()
	go s.follow(events)
	return s
}

// Close ends every remote session and waits for the goroutine that
// follows the node's events.
func (s *RemoteServer) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	s.closed = true
	sessions := s.sessions
	s.sessions = make(map[int64]*remoteSession)
	s.mu.Unlock()
	for _, rs := range sessions {
		s.release(rs)
	}
}

func (s *RemoteServer) follow(events <-chan node.Event) {
	defer close(s.done)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind == node.NodeDown {
				s.endSessionsOf(ev.Node)
			}
		case <-s.stop:
			return
		}
	}
}

func (s *RemoteServer) endSessionsOf(peer string) {
	s.mu.Lock()
	var ended []*remoteSession
	for id, rs := range s.sessions {
		if rs.peer == peer {
			ended = append(ended, rs)
			delete(s.sessions, id)
		}
	}
	s.mu.Unlock()
	for _, rs := range ended {
		s.release(rs)
	}
}

// release stops a session's runtime and removes its mailbox. An input
// that still runs in it ends when the context of its call is done.
func (s *RemoteServer) release(rs *remoteSession) {
	rs.rt.Close()
	s.node.ReleaseMailbox(rs.mailbox)
}

func (s *RemoteServer) open(ctx context.Context, peer string, _ []byte) ([]byte, error) {
	mb, _ := s.node.NewMailbox()
	rs := &remoteSession{
		peer:    peer,
		busy:    make(chan struct{}, 1),
		session: commands.NewSession(),
		rt:      newRuntime(s.node, mb, term.Atom(peer)),
		mailbox: mb,
	}

	s.mu.Lock()
	if s.closed || len(s.sessions) >= maxRemoteSessions {
		closed := s.closed
		s.mu.Unlock()
		s.release(rs)
		if closed {
			return nil, errors.New("the node is shutting down")
		}
		return nil, fmt.Errorf("too many remote shells: at most %d at once", maxRemoteSessions)
	}
	s.lastID++
	rs.id = s.lastID
	s.sessions[rs.id] = rs
	s.mu.Unlock()

	// A peer that went down before the session was stored would leave it
	// behind, because its nodedown has passed.
	if peer != s.node.Name() && !s.node.Connected(peer) {
		s.endSessionsOf(peer)
		return nil, fmt.Errorf("%s disconnected while its remote shell opened", peer)
	}
	return term.Marshal(term.NewMap(
		term.Pair{Key: term.Atom("session"), Value: rs.id},
		term.Pair{Key: term.Atom("counter"), Value: int64(rs.session.Counter())},
	))
}

// lookup decodes a request and returns it with the session it names,
// if peer owns that session.
func (s *RemoteServer) lookup(peer string, payload []byte) (*remoteSession, *term.Map, error) {
	req, err := decodeRequest(payload)
	if err != nil {
		return nil, nil, err
	}
	v, _ := req.Get(term.Atom("session"))
	id, ok := v.(int64)
	if !ok {
		return nil, nil, fmt.Errorf("invalid session %s: expected an integer", term.Inspect(v))
	}
	s.mu.Lock()
	rs := s.sessions[id]
	s.mu.Unlock()
	if rs == nil || rs.peer != peer {
		return nil, nil, fmt.Errorf("no remote shell session %d for %s", id, peer)
	}
	return rs, req, nil
}

func decodeRequest(payload []byte) (*term.Map, error) {
	v, err := term.Unmarshal(payload)
	if err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	m, ok := v.(*term.Map)
	if !ok {
		return nil, fmt.Errorf("invalid request %s: expected a map", term.Inspect(v))
	}
	return m, nil
}

func (s *RemoteServer) eval(ctx context.Context, peer string, payload []byte) ([]byte, error) {
	rs, req, err := s.lookup(peer, payload)
	if err != nil {
		return nil, err
	}
	v, _ := req.Get(term.Atom("src"))
	src, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("invalid src %s: expected a string", term.Inspect(v))
	}
	select {
	case rs.busy <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	res, evalErr := rs.session.Eval(ctx, rs.rt, src)
	reply := evalReply(rs.session, res, evalErr)
	<-rs.busy
	return term.Marshal(reply)
}

// evalReply encodes the outcome of one input for the caller.
func evalReply(session *commands.Session, res commands.Result, err error) *term.Map {
	vars := term.List{}
	for _, name := range session.Variables() {
		vars = append(vars, name)
	}
	m := term.NewMap(
		term.Pair{Key: term.Atom("counter"), Value: int64(session.Counter())},
		term.Pair{Key: term.Atom("variables"), Value: vars},
	)
	put := func(key string, v any) { m.Put(term.Atom(key), v) }
	var e *commands.Error
	switch {
	case errors.Is(err, commands.ErrEmpty):
		put("empty", true)
	case errors.As(err, &e):
		put("error", term.NewMap(
			term.Pair{Key: term.Atom("kind"), Value: e.Kind},
			term.Pair{Key: term.Atom("message"), Value: e.Message},
			term.Pair{Key: term.Atom("line"), Value: int64(e.Line)},
			term.Pair{Key: term.Atom("column"), Value: int64(e.Column)},
		))
	case err != nil:
		put("error", term.NewMap(
			term.Pair{Key: term.Atom("kind"), Value: "RuntimeError"},
			term.Pair{Key: term.Atom("message"), Value: err.Error()},
		))
	default:
		output := term.List{}
		for _, line := range res.Output {
			output = append(output, line)
		}
		put("output", output)
		put("value", res.Value)
		put("quiet", res.Quiet)
		put("clear", res.Clear)
		put("halt", res.Halt)
		put("exit_code", int64(res.ExitCode))
	}
	return m
}

func (s *RemoteServer) closeSession(ctx context.Context, peer string, payload []byte) ([]byte, error) {
	rs, _, err := s.lookup(peer, payload)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.sessions, rs.id)
	s.mu.Unlock()
	s.release(rs)
	return term.Marshal(term.Atom("ok"))
}
