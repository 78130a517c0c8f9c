package commands

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gonode/gonode/node/term"
)

func runSelfPID(ev *evaluator, _ []any) (any, error) {
	return ev.rt.SelfPID(), nil
}

// runSend sends args[1] to args[0], which is a pid, {name, node} or a
// local registered name.
func runSend(ev *evaluator, args []any) (any, error) {
	dest, msg := args[0], args[1]
	var name, node term.Atom
	switch d := dest.(type) {
	case term.PID:
		if err := ev.rt.SendPID(ev.ctx, d, msg); err != nil {
			return nil, &Error{Kind: "ArgumentError", Message: fmt.Sprintf("send to %s failed: %v", term.Inspect(d), err), Err: err}
		}
		return msg, nil
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
	if err != nil && ev.ctx.Err() != nil {
		// Ctrl-C or shutdown ended a send that waited for a peer.
		return nil, interrupted("send/2", ev)
	}
	if err != nil {
		return nil, &Error{Kind: "ArgumentError", Message: fmt.Sprintf("send to %s on %s failed: %v", term.Inspect(name), term.Inspect(node), err), Err: err}
	}
	return msg, nil
}

func invalidDestination(dest any) *Error {
	return argumentErrorf("invalid destination %s for send/2: expected a pid, a registered name like :shell or {name, node}", term.Inspect(dest))
}

func runFlush(ev *evaluator, _ []any) (any, error) {
	for _, m := range ev.rt.Flush() {
		ev.print(term.Inspect(m))
	}
	return term.Atom("ok"), nil
}

// timeoutArg converts a timeout in milliseconds or :infinity, which is
// returned as a negative duration.
func timeoutArg(fn string, v any) (time.Duration, error) {
	const maxMillis = math.MaxInt64 / int64(time.Millisecond)
	switch x := v.(type) {
	case int64:
		if x >= 0 && x <= maxMillis {
			return time.Duration(x) * time.Millisecond, nil
		}
		return 0, argumentErrorf("invalid timeout %d for %s: expected milliseconds from 0 to %d or :infinity", x, fn, maxMillis)
	case term.Atom:
		if x == "infinity" {
			return -1, nil
		}
	}
	return 0, argumentErrorf("invalid timeout %s for %s: expected milliseconds or :infinity", term.Inspect(v), fn)
}

// interrupted returns the error of fn when the context of Eval is done.
// Cancellation is what Ctrl-C does, so its text adds nothing and is left
// out, but another cause, such as a deadline, is named.
func interrupted(fn string, ev *evaluator) *Error {
	err := ev.ctx.Err()
	msg := fn + " interrupted"
	if !errors.Is(err, context.Canceled) {
		msg += ": " + err.Error()
	}
	return &Error{Kind: "exit", Message: msg, Err: err}
}

// runSleep waits the given milliseconds or until the context of Eval is
// done, which returns an error wrapping the context's error.
func runSleep(ev *evaluator, args []any) (any, error) {
	d, err := timeoutArg("Process.sleep/1", args[0])
	if err != nil {
		return nil, err
	}
	if d < 0 {
		<-ev.ctx.Done()
		return nil, interrupted("Process.sleep/1", ev)
	}
	if !sleepCtx(ev, d) {
		return nil, interrupted("Process.sleep/1", ev)
	}
	return term.Atom("ok"), nil
}

func runReceive(ev *evaluator, args []any) (any, error) {
	timeout := time.Duration(-1)
	fn := fmt.Sprintf("receive/%d", len(args))
	if len(args) == 1 {
		var err error
		if timeout, err = timeoutArg(fn, args[0]); err != nil {
			return nil, err
		}
	}
	msg, ok, err := ev.rt.Receive(ev.ctx, timeout)
	if err != nil {
		return nil, interrupted(fn, ev)
	}
	if !ok {
		return term.Atom("timeout"), nil
	}
	return msg, nil
}

func nameArg(fn string, v any) (term.Atom, error) {
	name, ok := v.(term.Atom)
	if !ok || name == "" || name == "undefined" {
		return "", argumentErrorf("invalid name %s for %s: expected an atom other than :undefined", term.Inspect(v), fn)
	}
	return name, nil
}

func runRegister(ev *evaluator, args []any) (any, error) {
	pid, ok := args[0].(term.PID)
	if !ok {
		return nil, argumentErrorf("invalid pid %s for Process.register/2: expected a pid such as self()", term.Inspect(args[0]))
	}
	name, err := nameArg("Process.register/2", args[1])
	if err != nil {
		return nil, err
	}
	if err := ev.rt.Register(name, pid); err != nil {
		return nil, &Error{Kind: "ArgumentError", Message: fmt.Sprintf("could not register %s with name %s: %v", term.Inspect(pid), term.Inspect(name), err), Err: err}
	}
	return true, nil
}

func runUnregister(ev *evaluator, args []any) (any, error) {
	name, err := nameArg("Process.unregister/1", args[0])
	if err != nil {
		return nil, err
	}
	if !ev.rt.Unregister(name) {
		return nil, argumentErrorf("could not unregister %s because it was not registered", term.Inspect(name))
	}
	return true, nil
}

func runWhereis(ev *evaluator, args []any) (any, error) {
	name, err := nameArg("Process.whereis/1", args[0])
	if err != nil {
		return nil, err
	}
	if pid, ok := ev.rt.Whereis(name); ok {
		return pid, nil
	}
	return nil, nil
}

func runRegistered(ev *evaluator, _ []any) (any, error) {
	return atomList(ev.rt.Registered()), nil
}
