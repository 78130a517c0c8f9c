package commands

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gonode/gonode/node/term"
)

// command is one shell command. The table below is the single source of
// names, arities and help text.
type command struct {
	name    string // "Node.ping" or "flush"
	arities []int
	usage   string // shown by h
	help    string
	// nodeArg is the index of the argument that names a node, where a
	// bare name like b@vm means the atom; -1 when there is none.
	nodeArg int
	run     func(ev *evaluator, args []any) (any, error)
}

func (c *command) acceptsArity(n int) bool {
	for _, a := range c.arities {
		if a == n {
			return true
		}
	}
	return false
}

// signatures returns "Node.ping/1" or "System.halt/0, System.halt/1".
func (c *command) signatures() string {
	var parts []string
	for _, a := range c.arities {
		parts = append(parts, c.name+"/"+strconv.Itoa(a))
	}
	return strings.Join(parts, ", ")
}

// commandTable lists every command; init fills it to avoid an
// initialization cycle through the run functions.
var commandTable []command

func init() {
	commandTable = []command{
		{name: "Node.self", arities: []int{0}, usage: "Node.self", help: "this node's name", nodeArg: -1, run: runSelf},
		{name: "node", arities: []int{0}, usage: "node()", help: "this node's name, like Node.self", nodeArg: -1, run: runSelf},
		{name: "Node.list", arities: []int{0}, usage: "Node.list", help: "connected nodes", nodeArg: -1, run: runList},
		{name: "Node.ping", arities: []int{1}, usage: "Node.ping(node)", help: "ping a node: :pong on a reply, else :pang", nodeArg: 0, run: runPing},
		{name: "Node.connect", arities: []int{1}, usage: "Node.connect(node)", help: "connect to a node: true or false", nodeArg: 0, run: runConnect},
		{name: "Node.disconnect", arities: []int{1}, usage: "Node.disconnect(node)", help: "drop the connection to a node: true or false", nodeArg: 0, run: runDisconnect},
		{name: "send", arities: []int{2}, usage: "send(dest, message)", help: "send a message to {name, node} or to a local name; returns the message", nodeArg: -1, run: runSend},
		{name: "flush", arities: []int{0}, usage: "flush()", help: "print and remove the messages sent to this shell", nodeArg: -1, run: runFlush},
		{name: "Process.sleep", arities: []int{1}, usage: "Process.sleep(ms)", help: "wait ms milliseconds (or :infinity until interrupted)", nodeArg: -1, run: runSleep},
		{name: "h", arities: []int{0}, usage: "h", help: "show this help", nodeArg: -1, run: runHelp},
		{name: "help", arities: []int{0}, usage: "help", help: "show this help", nodeArg: -1, run: runHelp},
		{name: "System.halt", arities: []int{0, 1}, usage: "System.halt(code \\\\ 0)", help: "exit the shell with a status code from 0 to 255", nodeArg: -1, run: runHalt},
	}
}

func runSelf(ev *evaluator, _ []any) (any, error) {
	return ev.rt.Self(), nil
}

func runList(ev *evaluator, _ []any) (any, error) {
	nodes := ev.rt.List()
	out := make(term.List, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n)
	}
	return out, nil
}

func runPing(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.ping/1", args[0])
	if err != nil {
		return nil, err
	}
	if ev.rt.Ping(ev.ctx, node) {
		return term.Atom("pong"), nil
	}
	return term.Atom("pang"), nil
}

func runConnect(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.connect/1", args[0])
	if err != nil {
		return nil, err
	}
	return ev.rt.Connect(ev.ctx, node), nil
}

func runDisconnect(ev *evaluator, args []any) (any, error) {
	node, err := nodeName("Node.disconnect/1", args[0])
	if err != nil {
		return nil, err
	}
	return ev.rt.Disconnect(node), nil
}

// nodeName converts a node argument: an atom, or a string naming one.
func nodeName(fn string, v any) (term.Atom, error) {
	switch x := v.(type) {
	case term.Atom:
		if x != "" {
			return x, nil
		}
	case string:
		if x != "" && len(x) <= term.MaxAtomLen*4 {
			return term.Atom(x), nil
		}
	}
	return "", argumentErrorf(`invalid node name %s for %s: expected an atom like :"b@vm"`, term.Inspect(v), fn)
}

// runSend sends args[1] to args[0], which is {name, node} or a local
// registered name.
func runSend(ev *evaluator, args []any) (any, error) {
	dest, msg := args[0], args[1]
	var name, node term.Atom
	switch d := dest.(type) {
	case term.Atom:
		name, node = d, ev.rt.Self()
	case term.Tuple:
		if len(d) != 2 {
			return nil, invalidDestination(dest)
		}
		n, ok := d[0].(term.Atom)
		if !ok {
			return nil, invalidDestination(dest)
		}
		var err error
		if node, err = nodeName("send/2", d[1]); err != nil {
			return nil, err
		}
		name = n
	default:
		return nil, invalidDestination(dest)
	}
	err := ev.rt.Send(ev.ctx, name, node, msg)
	if errors.Is(err, ErrNoProcess) {
		// As in Erlang, a bare name must be registered, but a message
		// to {name, node} for an unregistered name is dropped silently.
		if _, local := dest.(term.Atom); local {
			return nil, argumentErrorf("invalid destination %s for send/2: no process is registered as %s", term.Inspect(dest), term.Inspect(dest))
		}
		return msg, nil
	}
	if err != nil {
		return nil, &Error{Kind: "ArgumentError", Message: fmt.Sprintf("send to %s on %s failed: %v", term.Inspect(name), term.Inspect(node), err), Err: err}
	}
	return msg, nil
}

func invalidDestination(dest any) *Error {
	return argumentErrorf("invalid destination %s for send/2: expected a registered name like :shell or {name, node}", term.Inspect(dest))
}

func runFlush(ev *evaluator, _ []any) (any, error) {
	for _, m := range ev.rt.Flush() {
		ev.result.Output = append(ev.result.Output, term.Inspect(m))
	}
	return term.Atom("ok"), nil
}

// runSleep waits the given milliseconds or until the context of Eval is
// done, which returns an error wrapping the context's error.
func runSleep(ev *evaluator, args []any) (any, error) {
	var wait <-chan time.Time
	switch x := args[0].(type) {
	case int64:
		if x < 0 || x > math.MaxInt64/int64(time.Millisecond) {
			return nil, argumentErrorf("invalid timeout %d for Process.sleep/1: expected milliseconds from 0 to %d or :infinity", x, math.MaxInt64/int64(time.Millisecond))
		}
		t := time.NewTimer(time.Duration(x) * time.Millisecond)
		defer t.Stop()
		wait = t.C
	case term.Atom:
		if x != "infinity" {
			return nil, argumentErrorf("invalid timeout %s for Process.sleep/1: expected milliseconds or :infinity", term.Inspect(x))
		}
	default:
		return nil, argumentErrorf("invalid timeout %s for Process.sleep/1: expected milliseconds or :infinity", term.Inspect(x))
	}
	select {
	case <-wait:
		return term.Atom("ok"), nil
	case <-ev.ctx.Done():
		return nil, &Error{Kind: "exit", Message: "Process.sleep/1 interrupted: " + ev.ctx.Err().Error(), Err: ev.ctx.Err()}
	}
}

func runHelp(ev *evaluator, _ []any) (any, error) {
	ev.result.Output = append(ev.result.Output, Help()...)
	ev.result.Quiet = true
	return nil, nil
}

func runHalt(ev *evaluator, args []any) (any, error) {
	code := int64(0)
	if len(args) == 1 {
		n, ok := args[0].(int64)
		if !ok || n < 0 || n > 255 {
			return nil, argumentErrorf("invalid status %s for System.halt/1: expected an integer from 0 to 255", term.Inspect(args[0]))
		}
		code = n
	}
	ev.result.Halt = true
	ev.result.ExitCode = int(code)
	return nil, nil
}
