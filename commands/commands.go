// Package commands parses and evaluates one line of the gonode shell, a
// small subset of Elixir: literals, and calls such as Node.list,
// Node.ping(:"b@vm"), send({:shell, :"b@vm"}, :hi) and flush(). Evaluation
// runs against a Runtime, so the package has no network code of its own.
package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gonode/gonode/node/term"
)

// Runtime is the node state a shell line acts on. Methods may be called
// from the goroutine that calls Eval only.
type Runtime interface {
	// Self returns this node's name.
	Self() term.Atom
	// List returns the names of the connected nodes.
	List() []term.Atom
	// Ping reports whether node replied to a ping (true means :pong).
	Ping(ctx context.Context, node term.Atom) bool
	// Connect connects to node and reports whether it succeeded.
	Connect(ctx context.Context, node term.Atom) bool
	// Disconnect drops the connection to node and reports whether there
	// was one.
	Disconnect(node term.Atom) bool
	// Send delivers msg to the process registered as name on node. Node
	// is Self() for a local name.
	// Send returns an error wrapping ErrNoProcess when node is Self()
	// and nothing is registered as name.
	Send(ctx context.Context, name term.Atom, node term.Atom, msg any) error
	// Flush drains the shell's mailbox and returns the messages in
	// arrival order.
	Flush() []any
}

// Result is the outcome of one line.
type Result struct {
	// Value is the value of the expression, which the shell prints with
	// term.Inspect unless Quiet or Halt is set.
	Value any
	// Output holds lines to print before the value, such as the messages
	// shown by flush() or the text of h.
	Output []string
	// Quiet is set when the shell prints no value line, as after h.
	Quiet bool
	// Halt is set by System.halt: the shell exits with ExitCode.
	Halt     bool
	ExitCode int
}

// ErrEmpty is returned by Eval for a line with no expression (blank or a
// comment only). The shell skips such lines without printing anything.
var ErrEmpty = errors.New("empty line")

// ErrNoProcess is the error a Runtime's Send wraps when a local name is
// not registered.
var ErrNoProcess = errors.New("no process registered under that name")

// Error is an evaluation or syntax error. Its text reads like iex's:
// "** (Kind) Message".
type Error struct {
	// Kind is the Elixir exception name, such as SyntaxError,
	// UndefinedFunctionError or ArgumentError.
	Kind    string
	Message string
	// Err is the underlying cause, if any, such as context.Canceled.
	Err error
}

func (e *Error) Error() string { return "** (" + e.Kind + ") " + e.Message }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

func argumentErrorf(format string, args ...any) *Error {
	return &Error{Kind: "ArgumentError", Message: fmt.Sprintf(format, args...)}
}

// Eval parses line and evaluates it against rt. It returns ErrEmpty for
// a blank line and an *Error for anything it cannot parse or run. Eval
// does not panic on any input; a panic inside rt is recovered and
// returned as an error.
func Eval(ctx context.Context, rt Runtime, line string) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, &Error{Kind: "RuntimeError", Message: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	e, err := parse(line)
	if err != nil {
		return Result{}, err
	}
	if e == nil {
		return Result{}, ErrEmpty
	}
	ev := &evaluator{ctx: ctx, rt: rt}
	v, err := ev.eval(e)
	if err != nil {
		return Result{}, err
	}
	ev.result.Value = v
	return ev.result, nil
}

// Names returns every command spelling, such as "Node.list", "node",
// "flush" and "h", for completion and suggestions.
func Names() []string {
	var names []string
	for _, c := range commandTable {
		names = append(names, c.name)
	}
	return names
}

// Help returns the help text that h prints, one line per command.
func Help() []string {
	lines := []string{"Commands (parentheses are optional for zero or one argument):"}
	width := 0
	for _, c := range commandTable {
		width = max(width, len(c.usage))
	}
	for _, c := range commandTable {
		lines = append(lines, fmt.Sprintf("  %-*s  %s", width, c.usage, c.help))
	}
	lines = append(lines, `Nodes are atoms like :"b@vm"; "b@vm" and b@vm work too.`)
	return lines
}

// evaluator carries the state of one Eval call. Output and flags that
// commands set accumulate in result.
type evaluator struct {
	ctx    context.Context
	rt     Runtime
	result Result
}

func (ev *evaluator) eval(e expr) (any, error) {
	switch x := e.(type) {
	case literal:
		return x.value, nil
	case listExpr:
		elems, err := ev.evalAll(x.elems)
		return term.List(elems), err
	case tupleExpr:
		elems, err := ev.evalAll(x.elems)
		return term.Tuple(elems), err
	case mapExpr:
		return ev.evalMap(x)
	case callExpr:
		return ev.call(x)
	}
	return nil, &Error{Kind: "RuntimeError", Message: fmt.Sprintf("cannot evaluate %T", e)}
}

func (ev *evaluator) evalAll(exprs []expr) ([]any, error) {
	out := make([]any, 0, len(exprs))
	for _, e := range exprs {
		v, err := ev.eval(e)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// evalMap builds a map. A repeated key keeps the last value, as in Elixir.
func (ev *evaluator) evalMap(m mapExpr) (any, error) {
	out := term.NewMap()
	for i := range m.keys {
		k, err := ev.eval(m.keys[i])
		if err != nil {
			return nil, err
		}
		v, err := ev.eval(m.values[i])
		if err != nil {
			return nil, err
		}
		out.Put(k, v)
	}
	return out, nil
}

// call runs a command from the table after evaluating its arguments from
// left to right.
func (ev *evaluator) call(c callExpr) (any, error) {
	cmd, err := lookup(c)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, len(c.args))
	for i, a := range c.args {
		// A bare name like b@vm stands for the atom where a node is
		// expected.
		if bare, ok := a.(callExpr); ok && bare.bare && cmd.nodeArg == i && !isCommand(bare.name) {
			args = append(args, term.Atom(bare.name))
			continue
		}
		v, err := ev.eval(a)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	return cmd.run(ev, args)
}

func isCommand(name string) bool {
	for _, c := range commandTable {
		if c.name == name {
			return true
		}
	}
	return false
}

// lookup finds the command for c by name and arity, or returns an
// UndefinedFunctionError (CompileError for local calls) that suggests the
// nearest known command.
func lookup(c callExpr) (*command, error) {
	name := c.qualifiedName()
	arity := len(c.args)
	var sameName *command
	for i := range commandTable {
		cmd := &commandTable[i]
		if cmd.name != name {
			continue
		}
		if cmd.acceptsArity(arity) {
			return cmd, nil
		}
		sameName = cmd
	}

	suggestion := ""
	if sameName != nil {
		suggestion = sameName.signatures()
	} else if near := nearestCommand(name); near != nil {
		suggestion = near.signatures()
	}

	var msg string
	kind := "UndefinedFunctionError"
	switch {
	case c.module == "":
		kind = "CompileError"
		msg = fmt.Sprintf("iex:1: undefined function %s/%d (there is no such import)", name, arity)
	case !knownModule(c.module):
		msg = fmt.Sprintf("function %s/%d is undefined (module %s is not available)", name, arity, c.module)
	default:
		msg = fmt.Sprintf("function %s/%d is undefined or private", name, arity)
	}
	if suggestion != "" {
		msg += ". Did you mean: " + suggestion
	}
	return nil, &Error{Kind: kind, Message: msg}
}

func knownModule(module string) bool {
	for _, c := range commandTable {
		if strings.HasPrefix(c.name, module+".") {
			return true
		}
	}
	return false
}

// nearestCommand returns the command whose name is closest to name by
// edit distance, or nil when none is within a third of the name's length
// (at least 2 edits allowed).
func nearestCommand(name string) *command {
	var best *command
	bestDist := max(2, len(name)/3) + 1
	for i := range commandTable {
		cmd := &commandTable[i]
		d := editDistance(strings.ToLower(name), strings.ToLower(cmd.name))
		if d < bestDist {
			best, bestDist = cmd, d
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between a and b, counted
// in bytes. Names here are ASCII; inputs are cut at 64 bytes to bound the
// work.
func editDistance(a, b string) int {
	a, b = a[:min(len(a), 64)], b[:min(len(b), 64)]
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
