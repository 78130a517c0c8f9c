package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gonode/gonode/node/term"
)

// FuzzEval checks that parsing and evaluating any line neither panics nor
// hangs, and that a literal value printed by term.Inspect reads back as
// the same value.
func FuzzEval(f *testing.F) {
	seeds := []string{
		"Node.self", "node()", "Node.list", `Node.ping :"b@vm"`, "Node.ping b@vm",
		`send({:shell, :"b@vm"}, {:hi, "from a"})`, "flush()", "Process.sleep 1",
		"h", "System.halt(1)", `%{"k" => 2, a: 1}`, "[a: 1, b: [c: {}]]", "0x1F_FF",
		"1.5e-3", `"a\tb\u{1F600}\x41"`, `:"a b"`, ":+", "?a", "-5", "Foo.Bar",
		"Node.lst", "{1, 2]", "Node.ping(", `"#{x}"`, "%{a: 1, 2 => 3}", "((((1))))",
		"x = [1, 2]; x |> length", "v(-1)", "Node.list(:known)", "receive(0)", "[\n1,\n2]",
		"Node.ping(b@vm, count: 2, interval: 1)", "h Node.ping", `%{"こんにちは" => "世界"}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		// parse runs outside Eval's recover so that a parser panic fails.
		e, parseErr := parse(line)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		res, err := Eval(ctx, newFakeRuntime(), line)
		if (parseErr == nil) != (err == nil || !isSyntaxError(err)) {
			t.Fatalf("parse error %v but Eval error %v", parseErr, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "** (") && err != ErrEmpty {
				t.Fatalf("Eval(%q) error %q lacks the ** (Kind) form", line, err)
			}
			return
		}
		if len(e) != 1 || !isConstant(e[0]) {
			return
		}
		printed := term.Inspect(res.Value)
		if strings.Contains(printed, "<<") || strings.Contains(printed, "...") || strings.Contains(printed, `\x`) {
			return // forms the parser does not read, or reads as other bytes
		}
		again, err := Eval(ctx, newFakeRuntime(), printed)
		if err != nil {
			t.Fatalf("Eval(Inspect(%q)) = Eval(%s): %v", line, printed, err)
		}
		if !term.Equal(again.Value, res.Value) {
			t.Fatalf("Eval(%s) = %s, want %s", printed, term.Inspect(again.Value), printed)
		}
		// The layout over several lines reads back as the same value too.
		pretty := term.Format(res.Value, term.FormatOptions{InspectOptions: term.DefaultInspectOptions, Width: 20})
		again, err = Eval(ctx, newFakeRuntime(), pretty)
		if err != nil {
			t.Fatalf("Eval(Format(%q)) = Eval(%s): %v", line, pretty, err)
		}
		if !term.Equal(again.Value, res.Value) {
			t.Fatalf("Eval(%s) = %s, want %s", pretty, term.Inspect(again.Value), printed)
		}
	})
}

func isSyntaxError(err error) bool {
	e, ok := err.(*Error)
	return ok && (e.Kind == "SyntaxError" || e.Kind == "TokenMissingError")
}

// isConstant reports whether e contains no calls.
func isConstant(e expr) bool {
	switch x := e.(type) {
	case literal:
		return true
	case listExpr:
		return allConstant(x.elems)
	case tupleExpr:
		return allConstant(x.elems)
	case mapExpr:
		return allConstant(x.keys) && allConstant(x.values)
	}
	return false
}

func allConstant(es []expr) bool {
	for _, e := range es {
		if !isConstant(e) {
			return false
		}
	}
	return true
}
