// Package commands parses and evaluates one line of the gonode shell, a
// small subset of Elixir: literals, and calls such as Node.list,
// Node.ping(:"b@vm"), send({:shell, :"b@vm"}, :hi) and flush(). Evaluation
// runs against a Runtime, so the package has no network code of its own.
package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gonode/gonode/node/term"
)

// Runtime is the node state a shell line acts on. Methods may be called
// from the goroutine that calls Eval only.
type Runtime interface {
	// Self returns this node's name.
	Self() term.Atom
	// List returns the names of the nodes connected over visible
	// connections.
	List() []term.Atom
	// Hidden returns the names of the nodes connected over hidden
	// connections.
	Hidden() []term.Atom
	// Known returns the nodes this node has been connected to since the
	// shell started, connected now or not, without Self.
	Known() []term.Atom
	// Ping checks that node replies to a ping and returns the round-trip time.
	Ping(ctx context.Context, node term.Atom) (time.Duration, error)
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
	// SendPID delivers msg to the process pid, local or remote.
	SendPID(ctx context.Context, pid term.PID, msg any) error
	// Flush drains the shell's mailbox and returns the messages in
	// arrival order.
	Flush() []any
	// Receive removes and returns the oldest message of the shell's
	// mailbox, waiting up to timeout for one; a negative timeout waits
	// until ctx is done. ok is false when the time ran out.
	Receive(ctx context.Context, timeout time.Duration) (msg any, ok bool, err error)
	// SelfPID returns the pid of the shell's mailbox.
	SelfPID() term.PID
	// Register registers the local process pid under name.
	Register(name term.Atom, pid term.PID) error
	// Unregister removes the name, reporting false when it was not
	// registered.
	Unregister(name term.Atom) bool
	// Whereis returns the pid registered under name.
	Whereis(name term.Atom) (term.PID, bool)
	// Registered returns the registered names.
	Registered() []term.Atom
	// Monitor turns delivery of {:nodeup, node} and {:nodedown, node}
	// messages to the shell's mailbox on or off.
	Monitor(ctx context.Context, node term.Atom, on bool) error
	// Info describes the connection to node.
	Info(node term.Atom) (NodeInfo, error)
}

// NodeInfo describes the connection to a node, for Node.info.
type NodeInfo struct {
	Connected bool
	// Strategy is what made the connection: "gossip" or another discovery
	// strategy, "node" for Node.connect, Node.ping or send, or "incoming"
	// when the peer connected to us.
	Strategy string
	Address  string // the peer's transport address, host:port
	Since    time.Time
	// LastRTT is the last round-trip time this shell measured, zero when
	// it measured none.
	LastRTT time.Duration
	// Messages and bytes of messages each way since the connection was
	// made, as the transport counts them.
	MessagesIn, MessagesOut uint64
	BytesIn, BytesOut       uint64
}

// Result is the outcome of one input.
type Result struct {
	// Value is the value of the expression, which the shell prints with
	// term.Inspect unless Quiet or Halt is set.
	Value any
	// Output holds lines to print before the value, such as the messages
	// shown by flush() or the text of h, unless Session.Print took them.
	Output []string
	// Quiet is set when the shell prints no value line, as after h.
	Quiet bool
	// Clear is set by clear: the shell clears the terminal.
	Clear bool
	// Halt is set by System.halt: the shell exits with ExitCode.
	Halt     bool
	ExitCode int
}

// ErrEmpty is returned by Eval for an input with no expression (blank or
// a comment only). The shell skips such input without printing anything.
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
	// Line and Column locate a syntax error in the input, 1-based with the
	// column counted in characters; both are 0 for other errors.
	Line, Column int
	// Err is the underlying cause, if any, such as context.Canceled.
	Err error
}

func (e *Error) Error() string { return "** (" + e.Kind + ") " + e.Message }

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// errorAt returns an error located at line and col of the input, whose
// message starts with "iex:LINE:COL: " as iex's do.
func errorAt(kind string, line, col int, msg string) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf("iex:%d:%d: %s", line, col, escapeControls(msg)), Line: line, Column: col}
}

// escapeControls writes control characters, bidi controls and invalid
// UTF-8 in msg as \xHH or \u{H}, so that an error quoting a typed NUL or
// ESC cannot move the cursor or change the terminal's colors, and one
// quoting U+202E cannot reverse the text after it.
func escapeControls(msg string) string {
	clean := true
	for _, r := range msg {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			clean = false
			break
		}
	}
	if clean {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, size := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, "\\x%02X", msg[i])
		case unicode.IsControl(r) && r < 0x80:
			fmt.Fprintf(&b, "\\x%02X", r)
		case unicode.IsControl(r), unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, "\\u{%X}", r)
		default:
			b.WriteString(msg[i : i+size])
		}
		i += size
	}
	return b.String()
}

func argumentErrorf(format string, args ...any) *Error {
	return &Error{Kind: "ArgumentError", Message: fmt.Sprintf(format, args...)}
}

// Incomplete reports whether src ends inside an open bracket, string or
// expression, so that a shell reads another line before it evaluates.
func Incomplete(src string) bool {
	_, err := parse(src)
	var e *Error
	return errors.As(err, &e) && e.Kind == "TokenMissingError"
}

// Session is the state that lasts from one input to the next: variables
// and the values of earlier inputs, which v() returns. A Session is for
// one goroutine.
type Session struct {
	// Print, when set, receives each line that a command prints, such as
	// the replies of Node.ping(node, count: 3) and the messages of
	// flush(), as soon as it is made. When nil, the lines go to
	// Result.Output.
	Print func(line string)

	vars    map[string]any
	results []any // results[i] is the value of input number i+1
}

// NewSession returns a session with no variables and no results.
func NewSession() *Session {
	return &Session{vars: make(map[string]any)}
}

// Counter returns the number of the next input, as iex's prompt shows
// it: one more than the inputs that succeeded so far.
func (s *Session) Counter() int { return len(s.results) + 1 }

// Variables returns the names of the bound variables, sorted.
func (s *Session) Variables() []string {
	names := make([]string, 0, len(s.vars))
	for name := range s.vars {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// maxResults bounds the values a session keeps for v(n).
const maxResults = 10000

// Eval parses src, which may hold several lines and statements separated
// by ";", and evaluates it against rt. It returns the value of the last
// statement, ErrEmpty for a blank input and an *Error for anything it
// cannot parse or run. Variables bound before an error stay bound. Eval
// does not panic on any input; a panic inside rt is recovered and
// returned as an error.
func (s *Session) Eval(ctx context.Context, rt Runtime, src string) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = Result{}, &Error{Kind: "RuntimeError", Message: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	stmts, err := parse(src)
	if err != nil {
		return Result{}, err
	}
	if len(stmts) == 0 {
		return Result{}, ErrEmpty
	}
	ev := &evaluator{ctx: ctx, rt: rt, session: s}
	var v any
	for _, e := range stmts {
		if v, err = ev.eval(e); err != nil {
			return Result{}, err
		}
	}
	ev.result.Value = v
	if len(s.results) >= maxResults {
		// NOTE: the oldest value is forgotten, so v(1) fails after
		// maxResults inputs although the prompt counter goes on.
		s.results[len(s.results)-maxResults] = nil
	}
	s.results = append(s.results, v)
	return ev.result, nil
}

// Eval evaluates src in a session of its own, as Session.Eval does.
func Eval(ctx context.Context, rt Runtime, src string) (Result, error) {
	return NewSession().Eval(ctx, rt, src)
}

// evaluator carries the state of one Eval call. Output and flags that
// commands set accumulate in result.
type evaluator struct {
	ctx     context.Context
	rt      Runtime
	session *Session
	result  Result
}

// print outputs one line of a command's output.
func (ev *evaluator) print(line string) {
	if ev.session.Print != nil {
		ev.session.Print(line)
		return
	}
	ev.result.Output = append(ev.result.Output, line)
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
	case matchExpr:
		v, err := ev.eval(x.value)
		if err != nil {
			return nil, err
		}
		if x.name != "_" {
			ev.session.vars[x.name] = v
		}
		return v, nil
	case callExpr:
		if v, ok := ev.session.vars[x.name]; ok && x.bare {
			return v, nil
		}
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
	if cmd.quoted {
		return cmd.run(ev, quotedArgs(c.args))
	}
	args := make([]any, 0, len(c.args))
	for i, a := range c.args {
		// A bare name like b@vm stands for the atom where a node is
		// expected, unless it is a variable or a command.
		if bare, ok := a.(callExpr); ok && bare.bare && cmd.nodeArg == i && !isCommand(bare.name) && !ev.isVariable(bare.name) {
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

func (ev *evaluator) isVariable(name string) bool {
	_, ok := ev.session.vars[name]
	return ok
}

// quotedArgs returns the source names of unevaluated arguments, as h
// takes them: "Node.ping" for a call, "Node" for an alias.
func quotedArgs(args []expr) []any {
	out := make([]any, 0, len(args))
	for _, a := range args {
		switch x := a.(type) {
		case callExpr:
			out = append(out, x.qualifiedName())
		case literal:
			if atom, ok := x.value.(term.Atom); ok {
				out = append(out, strings.TrimPrefix(string(atom), "Elixir."))
				continue
			}
			out = append(out, term.Inspect(x.value))
		default:
			out = append(out, a.pos().text)
		}
	}
	return out
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
