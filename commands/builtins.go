package commands

import (
	"fmt"
	"slices"

	"github.com/gonode/gonode/node/term"
)

// runV returns the value of an earlier input: v() the last, v(n) input n
// when n > 0, and v(-k) the k-th last.
func runV(ev *evaluator, args []any) (any, error) {
	n := int64(-1)
	if len(args) == 1 {
		var ok bool
		if n, ok = args[0].(int64); !ok || n == 0 {
			return nil, argumentErrorf("invalid index %s for v/1: expected a positive input number or a negative offset", term.Inspect(args[0]))
		}
	}
	results := ev.session.results
	i := n - 1
	if n < 0 {
		i = int64(len(results)) + n
	}
	if i < 0 || i >= int64(len(results)) {
		return nil, &Error{Kind: "RuntimeError", Message: fmt.Sprintf("v(%d) is out of bounds: %d inputs so far", n, len(results))}
	}
	return results[i], nil
}

func listArg(fn string, v any) (term.List, error) {
	l, ok := v.(term.List)
	if !ok {
		return nil, argumentErrorf("invalid argument %s for %s: expected a list", term.Inspect(v), fn)
	}
	return l, nil
}

func runLength(_ *evaluator, args []any) (any, error) {
	l, err := listArg("length/1", args[0])
	if err != nil {
		return nil, err
	}
	return int64(len(l)), nil
}

func runHd(_ *evaluator, args []any) (any, error) {
	l, err := listArg("hd/1", args[0])
	if err != nil || len(l) == 0 {
		return nil, argumentErrorf("invalid argument %s for hd/1: expected a non-empty list", term.Inspect(args[0]))
	}
	return l[0], nil
}

func runTl(_ *evaluator, args []any) (any, error) {
	l, err := listArg("tl/1", args[0])
	if err != nil || len(l) == 0 {
		return nil, argumentErrorf("invalid argument %s for tl/1: expected a non-empty list", term.Inspect(args[0]))
	}
	return l[1:], nil
}

func runElem(_ *evaluator, args []any) (any, error) {
	t, ok := args[0].(term.Tuple)
	i, isInt := args[1].(int64)
	if !ok || !isInt || i < 0 || i >= int64(len(t)) {
		return nil, argumentErrorf("invalid arguments %s, %s for elem/2: expected a tuple and an index from 0 to its size - 1", term.Inspect(args[0]), term.Inspect(args[1]))
	}
	return t[i], nil
}

func mapArg(fn string, v any) (*term.Map, error) {
	m, ok := v.(*term.Map)
	if !ok {
		return nil, &Error{Kind: "BadMapError", Message: fmt.Sprintf("expected a map for %s, got: %s", fn, term.Inspect(v))}
	}
	return m, nil
}

func runMapGet(_ *evaluator, args []any) (any, error) {
	m, err := mapArg(fmt.Sprintf("Map.get/%d", len(args)), args[0])
	if err != nil {
		return nil, err
	}
	if v, ok := m.Get(args[1]); ok {
		return v, nil
	}
	if len(args) == 3 {
		return args[2], nil
	}
	return nil, nil
}

func runMapKeys(_ *evaluator, args []any) (any, error) {
	m, err := mapArg("Map.keys/1", args[0])
	if err != nil {
		return nil, err
	}
	keys := make(term.List, 0, m.Len())
	for _, e := range m.Entries {
		keys = append(keys, e.Key)
	}
	slices.SortFunc(keys, term.Compare)
	return keys, nil
}

func runClear(ev *evaluator, _ []any) (any, error) {
	ev.result.Clear = true
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
