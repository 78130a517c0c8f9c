package shell

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
	"github.com/gonode/gonode/transport"
)

// ErrRemoteDown is the error that RemoteShell.Eval wraps when the remote
// node cannot be reached any more. The shell then exits with status 1,
// as the session on the remote node is gone.
var ErrRemoteDown = errors.New("lost the remote shell")

// remoteCloseTimeout bounds the shell.close call when a remote shell ends.
const remoteCloseTimeout = 2 * time.Second

// RemoteShell is the caller's end of a remote shell: each input runs in a
// session on the remote node, whose name the prompt shows. A RemoteShell
// is for one goroutine.
//
// NOTE: the lines that a command prints, such as the replies of
// Node.ping(node, count: 3), arrive together with the input's result and
// not one by one.
type RemoteShell struct {
	local  *node.Node
	target string
	id     int64

	counter   int
	variables []string
	lost      bool // an Eval returned ErrRemoteDown

	// down is closed when the connection to target goes down after the
	// shell opened, and downReason is then the nodedown reason. The
	// remote session ends with that connection.
	down       chan struct{}
	downReason string
	stopWatch  chan struct{}
	watching   sync.WaitGroup
}

// OpenRemote connects to the node target and opens a remote shell on it.
// target is a full node name, or a short one that this host completes.
// The error is one line with the reason the shell could not open.
func OpenRemote(ctx context.Context, n *node.Node, target string) (*RemoteShell, error) {
	if !strings.Contains(target, "@") {
		full, err := node.ShortName(target)
		if err != nil {
			return nil, fmt.Errorf("invalid --remsh node %q: %w", target, err)
		}
		target = full
	}
	if _, err := node.ParseName(target); err != nil {
		return nil, fmt.Errorf("invalid --remsh node %q: %w", target, err)
	}
	if target == n.Name() {
		return nil, fmt.Errorf("cannot open a remote shell on %s: it is this node", target)
	}
	// Watch before the call, so that no nodedown after it is missed.
	events := n.Watch()
	reply, err := n.Call(ctx, target, methodOpen, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot open a remote shell on %s: %s", target, describeCallError(err))
	}
	m, err := decodeRequest(reply)
	if err != nil {
		return nil, fmt.Errorf("cannot open a remote shell on %s: invalid reply: %w", target, err)
	}
	id, ok1 := mapInt(m, "session")
	counter, ok2 := mapInt(m, "counter")
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("cannot open a remote shell on %s: invalid reply %s", target, term.Inspect(m))
	}
	r := &RemoteShell{local: n, target: target, id: id, counter: int(counter),
		down: make(chan struct{}), stopWatch: make(chan struct{})}
	r.watching.Add(1)
	go r.watchTarget(events)
	return r, nil
}

// watchTarget records the first nodedown of the target until Close or
// until the local node closes. The watch channel is read all along, so
// that events of other nodes do not fill it and crowd this one out.
func (r *RemoteShell) watchTarget(events <-chan node.Event) {
	defer r.watching.Done()
	for {
		select {
		case <-r.stopWatch:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind == node.NodeDown && ev.Node == r.target {
				r.downReason = ev.Reason
				close(r.down)
				return
			}
		}
	}
}

// maxDownWait bounds how long a failed call waits for the nodedown that
// may be on its way, because the call can fail before the event arrives.
const maxDownWait = 200 * time.Millisecond

// lossCause describes why the remote shell was lost: the nodedown of the
// target when there was one, else the call error err. A call made after
// the connection went down tries to connect again, and that error would
// hide the original loss.
func (r *RemoteShell) lossCause(err error) string {
	select {
	case <-r.down:
	case <-time.After(maxDownWait):
		return describeCallError(err)
	}
	return describeNodeDown(r.downReason)
}

// describeNodeDown puts a nodedown reason in plain words, followed by the
// reason itself.
func describeNodeDown(reason string) string {
	var text string
	switch reason {
	case "connection_closed":
		text = "the connection closed"
	case "net_tick_timeout":
		text = "the node stopped answering ticks"
	case "disconnect":
		text = "a node closed the connection"
	case "restarted":
		text = "the node restarted"
	default:
		text = "the connection went down"
	}
	return text + " (" + reason + ")"
}

// describeCallError puts the usual causes first, in plain words.
func describeCallError(err error) string {
	switch {
	case errors.Is(err, transport.ErrBadCookie):
		return "the cookies differ (" + err.Error() + ")"
	case errors.Is(err, transport.ErrCallUnsupported):
		return "it runs a gonode without remote shells (" + err.Error() + ")"
	case errors.Is(err, transport.ErrVersion):
		return "it speaks another handshake version (" + err.Error() + ")"
	}
	return err.Error()
}

// NodeName returns the name of the remote node.
func (r *RemoteShell) NodeName() string { return r.target }

// Counter returns the number of the next input of the remote session.
func (r *RemoteShell) Counter() int { return r.counter }

// Variables returns the variables of the remote session after the last
// input.
func (r *RemoteShell) Variables() []string { return r.variables }

// Eval runs src in the remote session and returns its result, as
// commands.Session.Eval does. When ctx ends first (Ctrl-C), the call
// is canceled, which cancels the input on the remote node. An error wrapping ErrRemoteDown means
// that the remote shell is gone.
func (r *RemoteShell) Eval(ctx context.Context, src string) (commands.Result, error) {
	req, err := term.Marshal(term.NewMap(
		term.Pair{Key: term.Atom("session"), Value: r.id},
		term.Pair{Key: term.Atom("src"), Value: src},
	))
	if err != nil {
		return commands.Result{}, fmt.Errorf("encode input: %w", err)
	}
	payload, err := r.local.Call(ctx, r.target, methodEval, req)
	if err := ctx.Err(); err != nil {
		// Ctrl-C cancels ctx, and "context canceled" would add nothing.
		msg := "interrupted on " + r.target
		if !errors.Is(err, context.Canceled) {
			msg += ": " + err.Error()
		}
		return commands.Result{}, &commands.Error{Kind: "exit", Message: msg, Err: err}
	}
	var cerr *transport.CallError
	if errors.As(err, &cerr) && strings.Contains(cerr.Message, "too many calls") {
		return commands.Result{}, &commands.Error{Kind: "RuntimeError", Message: cerr.Message, Err: err}
	}
	if err != nil {
		r.lost = true
		return commands.Result{}, fmt.Errorf("%w on %s: %s", ErrRemoteDown, r.target, r.lossCause(err))
	}
	reply, err := decodeRequest(payload)
	if err != nil {
		r.lost = true
		return commands.Result{}, fmt.Errorf("%w on %s: invalid reply: %w", ErrRemoteDown, r.target, err)
	}
	return r.result(reply)
}

// result decodes the reply of shell.eval.
func (r *RemoteShell) result(m *term.Map) (commands.Result, error) {
	if n, ok := mapInt(m, "counter"); ok {
		r.counter = int(n)
	}
	if vars, ok := mapGet(m, "variables").(term.List); ok {
		r.variables = r.variables[:0]
		for _, v := range vars {
			if name, ok := v.(string); ok {
				r.variables = append(r.variables, name)
			}
		}
	}

	if empty, _ := mapGet(m, "empty").(bool); empty {
		return commands.Result{}, commands.ErrEmpty
	}
	if e, ok := mapGet(m, "error").(*term.Map); ok {
		kind, _ := mapGet(e, "kind").(string)
		msg, _ := mapGet(e, "message").(string)
		line, _ := mapInt(e, "line")
		col, _ := mapInt(e, "column")
		return commands.Result{}, &commands.Error{Kind: kind, Message: msg, Line: int(line), Column: int(col)}
	}

	res := commands.Result{Value: mapGet(m, "value")}
	if lines, ok := mapGet(m, "output").(term.List); ok {
		for _, l := range lines {
			if s, ok := l.(string); ok {
				res.Output = append(res.Output, s)
			}
		}
	}
	res.Quiet, _ = mapGet(m, "quiet").(bool)
	res.Clear, _ = mapGet(m, "clear").(bool)
	res.Halt, _ = mapGet(m, "halt").(bool)
	code, _ := mapInt(m, "exit_code")
	res.ExitCode = int(code)
	return res, nil
}

// Close stops watching the target and ends the session on the remote
// node, waiting at most 2 s. Call it once. An error is dropped, because
// the remote node also ends the session when this node disconnects.
func (r *RemoteShell) Close() {
	if r.stopWatch != nil {
		close(r.stopWatch)
		r.watching.Wait()
	}
	if r.lost {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteCloseTimeout)
	defer cancel()
	req, err := term.Marshal(term.NewMap(term.Pair{Key: term.Atom("session"), Value: r.id}))
	if err != nil {
		return
	}
	r.local.Call(ctx, r.target, methodClose, req)
}

func mapGet(m *term.Map, key string) any {
	v, _ := m.Get(term.Atom(key))
	return v
}

func mapInt(m *term.Map, key string) (int64, bool) {
	n, ok := mapGet(m, key).(int64)
	return n, ok
}
