package shell

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/nodetest"
	"github.com/gonode/gonode/node/term"
)

func TestMain(m *testing.M) { nodetest.Main(m) }

func startNode(t *testing.T, name string) *node.Node {
	t.Helper()
	n, err := node.Start(context.Background(), node.Config{
		Name:       name,
		Cookie:     node.NewCookie("genki"),
		ListenAddr: "127.0.0.1:0",
		NoEPMD:     true,
	})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func newTestRuntime(t *testing.T, n *node.Node) *Runtime {
	t.Helper()
	rt := NewRuntime(n, n.Register(MailboxName))
	t.Cleanup(rt.Close)
	return rt
}

func TestMarshalJSONMapping(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{true, "true"},
		{term.Atom("nil"), "null"},
		{term.Atom("pong"), `"pong"`},
		{term.Atom("b@vm"), `"b@vm"`},
		{int64(-3), "-3"},
		{2.5, "2.5"},
		{"日本", `"日本"`},
		{[]byte{0xff, 0}, `{"base64":"/wA="}`},
		{term.Tuple{term.Atom("ok"), term.List{int64(1)}}, `["ok",[1]]`},
		{term.List{term.Tuple{term.Atom("a"), int64(1)}}, `[["a",1]]`},
		{term.NewMap(term.Pair{Key: "k", Value: int64(2)}, term.Pair{Key: term.Atom("a"), Value: int64(1)}), `{"a":1,"k":2}`},
		{term.NewMap(term.Pair{Key: int64(1), Value: term.Atom("x")}), `[[1,"x"]]`},
		{term.NewMap(term.Pair{Key: "a", Value: int64(1)}, term.Pair{Key: term.Atom("a"), Value: int64(2)}), `[["a",2],["a",1]]`},
		{term.PID{Node: "a@vm", ID: 5}, `"#PID<0.5.0>"`},
	}
	for _, tt := range tests {
		got, err := MarshalJSON(tt.v)
		if err != nil {
			t.Errorf("MarshalJSON(%s): %v", term.Inspect(tt.v), err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("MarshalJSON(%s) = %s, want %s", term.Inspect(tt.v), got, tt.want)
		}
	}
}

func TestCompleterSuggestions(t *testing.T) {
	n := startNode(t, "a@127.0.0.1")
	b := startNode(t, "b@127.0.0.1")
	rt := newTestRuntime(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.ConnectAddr(ctx, b.Name(), b.Addr().String(), "test"); err != nil {
		t.Fatal(err)
	}
	c := &completer{rt: rt}
	c.setVariables([]string{"peers"})

	tests := []struct {
		line string
		want []string // completions as suffixes
	}{
		{"Node.mon", []string{"itor"}},
		{"Process.reg", []string{"ister", "istered"}},
		{"pe", []string{"ers"}},
		{`Node.ping(:"b`, []string{`@127.0.0.1"`}},
		{`Node.ping(:`, []string{`"a@127.0.0.1"`, `"b@127.0.0.1"`}},
		{"Node.ping b", []string{"@127.0.0.1"}},
		{"b", nil},
	}
	for _, tt := range tests {
		got, length := c.Do([]rune(tt.line), len([]rune(tt.line)))
		var gotS []string
		for _, g := range got {
			gotS = append(gotS, string(g))
		}
		slices.Sort(gotS)
		if !slices.Equal(gotS, tt.want) {
			t.Errorf("complete %q = %q, want %q", tt.line, gotS, tt.want)
		}
		if length > len(tt.line) {
			t.Errorf("complete %q: word length %d beyond the line", tt.line, length)
		}
	}
	got, _ := c.Do([]rune("Node."), 5)
	if len(got) != 8 {
		t.Errorf("complete Node. gave %d names, want the 8 Node commands", len(got))
	}
}

func TestPrintErrorCaret(t *testing.T) {
	_, err := commands.Eval(context.Background(), nil, "[1,\n 2 3]")
	var b bytes.Buffer
	printError(&b, err, "[1,\n 2 3]", false)
	want := "** (SyntaxError) iex:2:4: syntax error before: 3; expected \",\" or \"]\"\n     2 3]\n       ^\n"
	if b.String() != want {
		t.Errorf("printError =\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	printError(&b, fmt.Errorf("plain"), "x", true)
	if b.String() != ansiRed+"plain"+ansiReset+"\n" {
		t.Errorf("colored printError = %q", b.String())
	}
}

func TestInspectWideAndColored(t *testing.T) {
	v := term.List{"こんにちは", "さようなら", "ありがとう"}
	got := inspect(v, 30, false)
	if want := "[\"こんにちは\", \"さようなら\",\n \"ありがとう\"]"; got != want {
		t.Errorf("inspect at width 30 =\n%s\nwant\n%s", got, want)
	}
	if got := inspect(term.List{term.Atom("ok"), int64(1)}, 80, true); got != "[\x1b[36m:ok\x1b[0m, \x1b[33m1\x1b[0m]" {
		t.Errorf("colored inspect = %q", got)
	}
}

// runScript runs src as a script on a fresh node and returns standard
// output, standard error and the exit status.
func runScript(t *testing.T, src string, format string) (string, string, int) {
	t.Helper()
	n := startNode(t, "a@127.0.0.1")
	var out, errs bytes.Buffer
	code := Run(context.Background(), Options{
		Node: n, Mailbox: n.Register(MailboxName),
		In: strings.NewReader(src), Out: &out, Err: &errs,
		Script: ScriptOptions{Format: format},
	})
	return out.String(), errs.String(), code
}

func TestRunLinesMultiLineAndErrors(t *testing.T) {
	src := "x = [\n  1,\n  2\n]\nx |> length\nNode.lst\n%{a: x}\nsend(self(), :hi)\nreceive(100)\n"
	out, errs, code := runScript(t, src, FormatText)
	want := "[1, 2]\n2\n%{a: [1, 2]}\n:hi\n:hi\n"
	if out != want {
		t.Errorf("output =\n%s\nwant\n%s", out, want)
	}
	if code != 1 {
		t.Errorf("exit status %d with a failing line, want 1", code)
	}
	if !strings.Contains(errs, "Node.lst/0 is undefined") {
		t.Errorf("stderr lacks the error of Node.lst: %q", errs)
	}
}

func TestRunLinesJSON(t *testing.T) {
	out, errs, code := runScript(t, "Node.list\n{:ok, \"s\"}\n%{a: 1}\nh Node.ping\n", FormatJSON)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "[]" || lines[1] != `["ok","s"]` || lines[2] != `{"a":1}` {
		t.Errorf("JSON output =\n%s", out)
	}
	if !strings.HasPrefix(lines[3], `"Node.ping(node)"`) {
		t.Errorf("help line in JSON = %s, want a JSON string", lines[3])
	}
	if code != 0 || errs != "" {
		t.Errorf("exit status %d, stderr %q, want 0 and none", code, errs)
	}
}

func TestRunLinesUnterminatedInput(t *testing.T) {
	out, errs, code := runScript(t, "1\n[2,\n", FormatText)
	if out != "1\n" || code != 1 || !strings.Contains(errs, "missing terminator: ]") {
		t.Errorf("output %q, stderr %q, status %d; want 1, a missing terminator error and status 1", out, errs, code)
	}
}

func TestMonitorDeliversNodeEvents(t *testing.T) {
	a := startNode(t, "a@127.0.0.1")
	b := startNode(t, "b@127.0.0.1")
	rt := newTestRuntime(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rt.Monitor(ctx, term.Atom(b.Name()), true); err != nil {
		t.Fatal(err)
	}
	// Without a port mapper the monitor cannot connect by name, so the
	// nodedown arrives at once.
	msg, ok, err := rt.Receive(ctx, 5*time.Second)
	if !ok || err != nil || !term.Equal(msg, term.Tuple{term.Atom("nodedown"), term.Atom(b.Name())}) {
		t.Fatalf("first message = %v, %v, %v, want {:nodedown, b}", msg, ok, err)
	}
	if err := a.ConnectAddr(ctx, b.Name(), b.Addr().String(), "test"); err != nil {
		t.Fatal(err)
	}
	msg, ok, _ = rt.Receive(ctx, 5*time.Second)
	if !ok || !term.Equal(msg, term.Tuple{term.Atom("nodeup"), term.Atom(b.Name())}) {
		t.Errorf("message after connect = %v, want {:nodeup, b}", msg)
	}
	b.Close()
	msg, ok, _ = rt.Receive(ctx, 5*time.Second)
	if !ok || !term.Equal(msg, term.Tuple{term.Atom("nodedown"), term.Atom(b.Name())}) {
		t.Errorf("message after b closed = %v, want {:nodedown, b}", msg)
	}
	if !slices.Contains(rt.Known(), term.Atom(b.Name())) {
		t.Errorf("Known() = %v, want b in it", rt.Known())
	}
	if _, ok, _ := rt.Receive(ctx, 0); ok {
		t.Error("Receive(0) found a message in an empty mailbox")
	}
}

func TestPrepareHistory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history")
	var errs bytes.Buffer
	if got := prepareHistory(path, &errs); got != path {
		t.Fatalf("prepareHistory = %q, want %q (stderr %q)", got, path, errs.String())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("history mode = %v, want 0600", fi.Mode().Perm())
	}
	// A directory in place of the file cannot be opened for writing, even
	// by root, so the warning path runs in a user namespace too.
	if got := prepareHistory(dir, &errs); got != "" {
		t.Errorf("prepareHistory(directory) = %q, want history off", got)
	}
	if strings.Count(errs.String(), "warning: history is off") != 1 {
		t.Errorf("stderr = %q, want one warning", errs.String())
	}
}

func TestLogRepeatsLimited(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(NewLogHandler(&out, LogOptions{})).With("component", "node")
	for i := 0; i < 5; i++ {
		logger.Warn("mailbox full, message dropped", "name", "shell")
		logger.Info("connected")
	}
	logger.Warn("another warning")
	got := out.String()
	if n := strings.Count(got, "mailbox full"); n != 1 {
		t.Errorf("repeated warning printed %d times, want 1:\n%s", n, got)
	}
	if n := strings.Count(got, "[info] [node] connected"); n != 5 {
		t.Errorf("info line printed %d times, want 5 (only warnings are limited):\n%s", n, got)
	}
	if !strings.Contains(got, "another warning") {
		t.Errorf("a different warning was held back:\n%s", got)
	}

}
