package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/node/term"
)

// fakeRuntime is an in-memory Runtime. Nodes in reachable reply to pings
// in 1 ms and accept connections. A send to the local name :shell or to
// the shell's pid lands in the mailbox, and a send to another local name
// fails. Node.monitor events are delivered by calling nodeEvent.
type fakeRuntime struct {
	self      term.Atom
	connected []term.Atom
	hidden    []term.Atom
	known     []term.Atom
	reachable []term.Atom
	mailbox   []any
	sent      []string // "name@node msg" of remote sends
	names     map[term.Atom]term.PID
	monitored map[term.Atom]bool
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{
		self:      "a@vm",
		connected: []term.Atom{"b@vm"},
		hidden:    []term.Atom{"h@vm"},
		known:     []term.Atom{"b@vm", "old@vm"},
		reachable: []term.Atom{"b@vm", "c@vm"},
		names:     map[term.Atom]term.PID{"shell": {Node: "a@vm", ID: 1}},
		monitored: map[term.Atom]bool{},
	}
}

func (f *fakeRuntime) Self() term.Atom     { return f.self }
func (f *fakeRuntime) List() []term.Atom   { return slices.Clone(f.connected) }
func (f *fakeRuntime) Known() []term.Atom  { return slices.Clone(f.known) }
func (f *fakeRuntime) Hidden() []term.Atom { return slices.Clone(f.hidden) }

func (f *fakeRuntime) Ping(ctx context.Context, node term.Atom) (time.Duration, error) {
	if node == f.self || slices.Contains(f.reachable, node) {
		return time.Millisecond, nil
	}
	return 0, fmt.Errorf("no node %s", node)
}

func (f *fakeRuntime) Connect(ctx context.Context, node term.Atom) bool {
	if !slices.Contains(f.reachable, node) {
		return false
	}
	if !slices.Contains(f.connected, node) {
		f.connected = append(f.connected, node)
	}
	return true
}

func (f *fakeRuntime) Disconnect(node term.Atom) bool {
	i := slices.Index(f.connected, node)
	if i < 0 {
		return false
	}
	f.connected = slices.Delete(f.connected, i, i+1)
	f.nodeEvent("nodedown", node)
	return true
}

// nodeEvent delivers {kind, node} when node is monitored.
func (f *fakeRuntime) nodeEvent(kind string, node term.Atom) {
	if f.monitored[node] {
		f.mailbox = append(f.mailbox, term.Tuple{term.Atom(kind), node})
	}
}

func (f *fakeRuntime) Send(ctx context.Context, name, node term.Atom, msg any) error {
	if node != f.self {
		f.sent = append(f.sent, fmt.Sprintf("%s %s %s", name, node, term.Inspect(msg)))
		return nil
	}
	pid, ok := f.names[name]
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoProcess, term.Inspect(name))
	}
	return f.SendPID(ctx, pid, msg)
}

func (f *fakeRuntime) SendPID(ctx context.Context, pid term.PID, msg any) error {
	if pid != f.SelfPID() {
		return fmt.Errorf("no process %s", term.Inspect(pid))
	}
	f.mailbox = append(f.mailbox, msg)
	return nil
}

func (f *fakeRuntime) Flush() []any {
	out := f.mailbox
	f.mailbox = nil
	return out
}

func (f *fakeRuntime) Receive(ctx context.Context, timeout time.Duration) (any, bool, error) {
	if len(f.mailbox) > 0 {
		msg := f.mailbox[0]
		f.mailbox = f.mailbox[1:]
		return msg, true, nil
	}
	if timeout < 0 {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	return nil, false, nil
}

func (f *fakeRuntime) SelfPID() term.PID { return term.PID{Node: f.self, ID: 1} }

func (f *fakeRuntime) Register(name term.Atom, pid term.PID) error {
	if _, taken := f.names[name]; taken {
		return errors.New("the name is taken")
	}
	f.names[name] = pid
	return nil
}

func (f *fakeRuntime) Unregister(name term.Atom) bool {
	_, ok := f.names[name]
	delete(f.names, name)
	return ok
}

func (f *fakeRuntime) Whereis(name term.Atom) (term.PID, bool) {
	pid, ok := f.names[name]
	return pid, ok
}

func (f *fakeRuntime) Registered() []term.Atom {
	var names []term.Atom
	for n := range f.names {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (f *fakeRuntime) Monitor(ctx context.Context, node term.Atom, on bool) error {
	f.monitored[node] = on
	if on && !f.Connect(ctx, node) {
		f.nodeEvent("nodedown", node)
	}
	return nil
}

func (f *fakeRuntime) Info(node term.Atom) (NodeInfo, error) {
	if !slices.Contains(f.connected, node) {
		return NodeInfo{}, nil
	}
	return NodeInfo{
		Connected: true,
		Strategy:  "gossip",
		Address:   "10.0.0.2:4370",
		Since:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),

		MessagesIn: 2, MessagesOut: 5, BytesIn: 120, BytesOut: 4096,
	}, nil
}

// render prints a result or error the way the shell shows it.
func render(res Result, err error) string {
	if errors.Is(err, ErrEmpty) {
		return ""
	}
	if err != nil {
		return err.Error()
	}
	lines := slices.Clone(res.Output)
	switch {
	case res.Halt:
		lines = append(lines, fmt.Sprintf("(halt %d)", res.ExitCode))
	case !res.Quiet:
		lines = append(lines, term.Inspect(res.Value))
	}
	return strings.Join(lines, "\n")
}

// TestTranscripts runs each testdata/*.txt file in a session of its own
// against a fresh fakeRuntime. A line "iex> INPUT" is evaluated; an input
// may go on over lines starting with "...> ", and the lines up to the
// next input are the expected output.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d transcripts in testdata, want at least 4", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			rt := newFakeRuntime()
			runTranscript(t, file, rt)
			if filepath.Base(file) == "session.txt" {
				wantSent := []string{`shell b@vm {:hi, "from a"}`, "x c@vm [1, 2]"}
				if !slices.Equal(rt.sent, wantSent) {
					t.Errorf("remote sends = %q, want %q", rt.sent, wantSent)
				}
			}
		})
	}
}

type transcriptStep struct {
	lineNo int
	input  string
	want   []string
}

func readTranscript(t *testing.T, file string) []transcriptStep {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []transcriptStep
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "iex> ") || line == "iex>":
			steps = append(steps, transcriptStep{lineNo: n, input: strings.TrimPrefix(strings.TrimPrefix(line, "iex>"), " ")})
		case strings.HasPrefix(line, "//") && len(steps) == 0:
			// header comment
		case strings.HasPrefix(line, "...> ") && len(steps) > 0 && len(steps[len(steps)-1].want) == 0:
			steps[len(steps)-1].input += "\n" + strings.TrimPrefix(line, "...> ")
		case len(steps) > 0:
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(steps) < 5 {
		t.Fatalf("read %d steps from %s, want at least 5", len(steps), file)
	}
	return steps
}

func runTranscript(t *testing.T, file string, rt *fakeRuntime) {
	s := NewSession()
	for _, step := range readTranscript(t, file) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got := render(s.Eval(ctx, rt, step.input))
		cancel()
		want := strings.TrimRight(strings.Join(step.want, "\n"), "\n")
		if got != want {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", filepath.Base(file), step.lineNo, step.input, indent(got), indent(want))
		}
	}
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

func TestEvalValues(t *testing.T) {
	tests := []struct {
		line string
		want any
	}{
		{"Node.self", term.Atom("a@vm")},
		{"node()", term.Atom("a@vm")},
		{"Node.list", term.List{term.Atom("b@vm")}},
		{`Node.ping :"b@vm"`, term.Atom("pong")},
		{`Node.ping("b@vm")`, term.Atom("pong")},
		{"Node.ping b@vm", term.Atom("pong")},
		{"Node.ping(:nope@vm)", term.Atom("pang")},
		{"1_000", int64(1000)},
		{"0x1F", int64(31)},
		{"0b101", int64(5)},
		{"0o17", int64(15)},
		{"-5", int64(-5)},
		{"?a", int64(97)},
		{"1.5e3", 1500.0},
		{`"a\tb\u00e9\x41\u{1F600}"`, "a\tbéA\U0001F600"},
		{"[a: 1]", term.List{term.Tuple{term.Atom("a"), int64(1)}}},
		{`{1, a: 2}`, term.Tuple{int64(1), term.List{term.Tuple{term.Atom("a"), int64(2)}}}},
		{`%{"k" => 2, a: 1}`, term.NewMap(term.Pair{Key: "k", Value: int64(2)}, term.Pair{Key: term.Atom("a"), Value: int64(1)})},
		{`%{1 => :a, 1 => :b}`, term.NewMap(term.Pair{Key: int64(1), Value: term.Atom("b")})},
		{"Foo.Bar", term.Atom("Elixir.Foo.Bar")},
		{"true", true},
		{"nil", nil},
		{":true", true},
		{":+", term.Atom("+")},
		{`:"hello world"`, term.Atom("hello world")},
		{"send(:shell, Node.list)", term.List{term.Atom("b@vm")}},
		{"(:ok)", term.Atom("ok")},
		{"Process.sleep 1", term.Atom("ok")},
		{"[1, [2, {3}]] # a comment", term.List{int64(1), term.List{int64(2), term.Tuple{int64(3)}}}},
	}
	for _, tt := range tests {
		res, err := Eval(context.Background(), newFakeRuntime(), tt.line)
		if err != nil {
			t.Errorf("Eval(%q) error: %v", tt.line, err)
			continue
		}
		if !term.Equal(res.Value, tt.want) {
			t.Errorf("Eval(%q) = %s, want %s", tt.line, term.Inspect(res.Value), term.Inspect(tt.want))
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{"Node.lst", "** (UndefinedFunctionError) function Node.lst/0 is undefined or private. Did you mean: Node.list/0, Node.list/1"},
		{"Node.ping", "** (UndefinedFunctionError) function Node.ping/0 is undefined or private. Did you mean: Node.ping/1, Node.ping/2"},
		{"Nod.list", "** (UndefinedFunctionError) function Nod.list/0 is undefined (module Nod is not available). Did you mean: Node.list/0, Node.list/1"},
		{"flsh()", "** (CompileError) iex:1: undefined function flsh/0 (there is no such import). Did you mean: flush/0"},
		{"zzzzzz", "** (CompileError) iex:1: undefined function zzzzzz/0 (there is no such import)"},
		{"Node.ping(", `** (TokenMissingError) iex:1:11: missing terminator: ) (for "(" starting at line 1)`},
		{"Node.ping(:a))", `** (SyntaxError) iex:1:14: unexpected token: ); expected ";" or the end of the input`},
		{"[1, 2", `** (TokenMissingError) iex:1:6: missing terminator: ] (for "[" starting at line 1)`},
		{"{1, 2]", `** (SyntaxError) iex:1:6: unexpected token: ]. The "{" at line 1 is missing terminator "}"`},
		{`%{a: 1, "k" => 2}`, "** (SyntaxError) iex:1:9: unexpected expression after keyword list. Keyword lists must always come last in lists and maps"},
		{"[a: 1, 2]", "** (SyntaxError) iex:1:8: unexpected expression after keyword list. Keyword lists must always come last in lists and maps"},
		{`"abc`, `** (TokenMissingError) iex:1:5: missing terminator: " (for string starting at line 1)`},
		{`:"abc`, `** (TokenMissingError) iex:1:6: missing terminator: " (for atom starting at line 1)`},
		{"Node.ping(:a,)", `** (SyntaxError) iex:1:14: syntax error before: ')'; expected an argument after ","`},
		{"Node.", `** (TokenMissingError) iex:1:6: syntax error: expression is incomplete; expected a function name after "."`},
		{"%{1}", `** (SyntaxError) iex:1:4: unexpected token: }; expected "=>" after a map key, or key: value`},
		{"1 2", `** (SyntaxError) iex:1:3: syntax error before: 2; expected ";" or the end of the input`},
		{")", "** (SyntaxError) iex:1:1: unexpected token: ); expected an expression"},
		{`"#{x}"`, "** (SyntaxError) iex:1:2: string interpolation is not supported in this shell; write the value as a literal"},
		{"99999999999999999999", "** (SyntaxError) iex:1:1: integer 99999999999999999999 is out of range: this shell supports 64-bit integers"},
		{"0x", "** (SyntaxError) iex:1:1: invalid number 0x in base 16"},
		{"Node.ping(1)", `** (ArgumentError) invalid node name 1 for Node.ping/1: expected an atom like :"b@vm"`},
		{"send(:nobody, :hi)", `** (ArgumentError) invalid destination :nobody for send/2: no process is registered as :nobody`},
		{"send({}, :hi)", `** (ArgumentError) invalid destination {} for send/2: expected a pid, a registered name like :shell or {name, node}`},
		{"send(123, :hi)", "** (ArgumentError) invalid destination 123 for send/2: expected a pid, a registered name like :shell or {name, node}"},
		{"Process.sleep(-1)", "** (ArgumentError) invalid timeout -1 for Process.sleep/1: expected milliseconds from 0 to 9223372036854 or :infinity"},
		{"System.halt(256)", "** (ArgumentError) invalid status 256 for System.halt/1: expected an integer from 0 to 255"},
		{"a: 1", "** (SyntaxError) iex:1:1: unexpected keyword list entry a: outside of a list, map or call"},
		{"€", `** (SyntaxError) iex:1:1: unexpected token: "€" (column 1, code point U+20AC)`},
	}
	for _, tt := range tests {
		_, err := Eval(context.Background(), newFakeRuntime(), tt.line)
		if err == nil {
			t.Errorf("Eval(%q) succeeded, want error %s", tt.line, tt.want)
			continue
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("Eval(%q) error\n got: %s\nwant: %s", tt.line, got, tt.want)
		}
	}
}

func TestEvalEmpty(t *testing.T) {
	for _, line := range []string{"", "   ", "\t", "# just a comment"} {
		res, err := Eval(context.Background(), newFakeRuntime(), line)
		if !errors.Is(err, ErrEmpty) {
			t.Errorf("Eval(%q) error = %v, want ErrEmpty", line, err)
		}
		if res.Value != nil || res.Output != nil {
			t.Errorf("Eval(%q) = %+v, want a zero Result", line, res)
		}
	}
}

func TestSleepCanceled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Eval(ctx, newFakeRuntime(), "Process.sleep(:infinity)")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Eval(Process.sleep(:infinity)) error = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Process.sleep returned after %v, want soon after the deadline", d)
	}
}

func TestSleepInterruptedMessage(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err := Eval(ctx, newFakeRuntime(), "Process.sleep(:infinity)")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Eval(Process.sleep(:infinity)) error = %v, want Canceled", err)
	}
	if got, want := err.Error(), "** (exit) Process.sleep/1 interrupted"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestHaltAndHelp(t *testing.T) {
	res, err := Eval(context.Background(), newFakeRuntime(), "System.halt(3)")
	if err != nil || !res.Halt || res.ExitCode != 3 {
		t.Errorf("System.halt(3) = %+v, %v, want Halt with code 3", res, err)
	}
	res, err = Eval(context.Background(), newFakeRuntime(), "h")
	if err != nil || !res.Quiet {
		t.Fatalf("h = %+v, %v, want a quiet result", res, err)
	}
	for _, name := range []string{"Node.ping(node)", "flush()", "System.halt", "v(n)", "receive(ms)"} {
		if !strings.Contains(strings.Join(res.Output, "\n"), name) {
			t.Errorf("h output lacks %s", name)
		}
	}
}

func TestNames(t *testing.T) {
	names := Names()
	for _, want := range []string{"Node.self", "node", "Node.list", "Node.ping", "Node.connect", "Node.disconnect", "send", "flush", "Process.sleep", "h", "help", "System.halt"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %s", want)
		}
	}
}

// panicRuntime panics in every method, to check that Eval recovers.
type panicRuntime struct{ fakeRuntime }

func (panicRuntime) List() []term.Atom { panic("boom") }

func TestEvalRecoversRuntimePanic(t *testing.T) {
	_, err := Eval(context.Background(), &panicRuntime{*newFakeRuntime()}, "Node.list")
	var e *Error
	if !errors.As(err, &e) || e.Kind != "RuntimeError" {
		t.Errorf("Eval with a panicking runtime error = %v, want a RuntimeError", err)
	}
}

func TestTrailingComma(t *testing.T) {
	tests := []struct {
		line string
		want any
	}{
		{"[1, 2,]", term.List{int64(1), int64(2)}},
		{"{1,}", term.Tuple{int64(1)}},
		{"%{a: 1,}", term.NewMap(term.Pair{Key: term.Atom("a"), Value: int64(1)})},
		{"[a: 1,]", term.List{term.Tuple{term.Atom("a"), int64(1)}}},
	}
	for _, tt := range tests {
		res, err := Eval(context.Background(), newFakeRuntime(), tt.line)
		if err != nil {
			t.Errorf("Eval(%q) error: %v", tt.line, err)
			continue
		}
		if !term.Equal(res.Value, tt.want) {
			t.Errorf("Eval(%q) = %s, want %s", tt.line, term.Inspect(res.Value), term.Inspect(tt.want))
		}
	}
	for _, line := range []string{"[,]", "[1,,]", "%{,}"} {
		if _, err := Eval(context.Background(), newFakeRuntime(), line); err == nil {
			t.Errorf("Eval(%q) succeeded, want a syntax error", line)
		}
	}
}

// TestErrorEscapesControls checks that an error quoting a control
// character or a broken UTF-8 byte shows it escaped, never raw.
func TestErrorEscapesControls(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"\x00", `unexpected token: "\x00"`},
		{"\x1b[31m", `unexpected token: "\x1B"`},
		{"\xff", "invalid UTF-8: byte 0xFF (column 1)"},
		{"\ufffd", "code point U+FFFD"},
		{"\u00ff", "code point U+00FF"},
		{"\u0085", `unexpected token: "\u{85}"`},
		{"\u202e", `unexpected token: "\u{202E}"`},
	} {
		s := NewSession()
		_, err := s.Eval(context.Background(), newFakeRuntime(), tc.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Eval(%q) = %v, want a syntax error", tc.in, err)
			continue
		}
		if !strings.Contains(e.Message, tc.want) {
			t.Errorf("Eval(%q) error %q lacks %q", tc.in, e.Message, tc.want)
		}
		for _, r := range e.Message {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == 0x202e {
				t.Errorf("Eval(%q) error %q holds control character %U", tc.in, e.Message, r)
			}
		}
	}
}
