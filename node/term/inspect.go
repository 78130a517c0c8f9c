package term

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// InspectOptions are the options of InspectWith, named after the fields of
// Elixir's Inspect.Opts.
type InspectOptions struct {
	// Limit is the maximum number of elements shown per list, tuple, map
	// or non-printable binary. Nested containers get the limit left after
	// the elements before them, as in Elixir. Zero or less means no limit.
	Limit int
	// PrintableLimit is the maximum number of characters shown of a
	// string. Zero or less means no limit.
	PrintableLimit int
}

// DefaultInspectOptions are Elixir's defaults: limit 50, printable_limit 4096.
var DefaultInspectOptions = InspectOptions{Limit: 50, PrintableLimit: 4096}

// Inspect prints v as Elixir 1.14's inspect/1 does with its default
// options, for example :pong, :"hello world", "str", [1, 2], {:hi, "a"},
// %{:a => 1, "k" => 2}, [a: 1], <<255, 1>>, 1.0, true and nil.
//
// Deviations from Elixir: a list of printable integers prints as a list
// ([97, 98]), not as a charlist ('ab'), and a PID prints as #PID<0.ID.0>
// without its node. Map entries print sorted in term order, which is the
// order Elixir shows for maps of up to 32 keys.
//
// NOTE: Elixir shows larger maps in hash order, which this package does
// not reproduce.
func Inspect(v any) string {
	return InspectWith(v, DefaultInspectOptions)
}

// InspectWith prints v like Inspect under the given limits.
func InspectWith(v any, opts InspectOptions) string {
	var b strings.Builder
	buildDoc(v, opts).writeFlat(&b, nil)
	return b.String()
}

// buildDoc returns the document of v under the limits of opts, which
// Inspect prints on one line and Format lays out to a width.
func buildDoc(v any, opts InspectOptions) *doc {
	p := printer{printableLimit: -1}
	if opts.PrintableLimit > 0 {
		p.printableLimit = opts.PrintableLimit
	}
	limit := -1
	if opts.Limit > 0 {
		limit = opts.Limit
	}
	return p.print(v, limit, 0)
}

// printer turns terms into documents. A limit of -1 means no limit, as
// Elixir's :infinity.
type printer struct {
	printableLimit int
}

func (p *printer) print(v any, limit, depth int) *doc {
	if depth > MaxDepth {
		return text("...", SyntaxDefault)
	}
	switch x := normalize(v).(type) {
	case nil:
		return text("nil", SyntaxNil)
	case bool:
		return text(strconv.FormatBool(x), SyntaxBoolean)
	case Atom:
		return text(inspectAtom(string(x)), SyntaxAtom)
	case int64:
		return text(strconv.FormatInt(x, 10), SyntaxNumber)
	case uint64:
		return text(strconv.FormatUint(x, 10), SyntaxNumber)
	case uint:
		return text(strconv.FormatUint(uint64(x), 10), SyntaxNumber)
	case float64:
		return text(formatFloat(x), SyntaxNumber)
	case string:
		return p.printBinary(x, limit)
	case []byte:
		return p.printBinary(string(x), limit)
	case List:
		return p.printList(x, limit, depth)
	case Tuple:
		return p.printElements("{", x, "}", limit, depth)
	case *Map:
		return p.printMap(x, limit, depth)
	case PID:
		return text(fmt.Sprintf("#PID<0.%d.0>", x.ID), SyntaxDefault)
	}
	return text(fmt.Sprintf("#Go<%T %v>", v, v), SyntaxDefault)
}

// each returns the documents of up to limit items made by fn, which gets
// the limit left for nested containers, and a "..." item when items
// remain. It mirrors the container_doc function of Elixir's
// Inspect.Algebra.
func each(n, limit int, fn func(i, limit int) *doc) []*doc {
	items := make([]*doc, 0, n)
	for i := 0; i < n; i++ {
		if limit == 0 {
			return append(items, text("...", SyntaxDefault))
		}
		if limit > 0 {
			limit--
		}
		items = append(items, fn(i, limit))
	}
	return items
}

func (p *printer) printElements(open string, elems []any, close string, limit, depth int) *doc {
	return container(open, each(len(elems), limit, func(i, limit int) *doc {
		return p.print(elems[i], limit, depth+1)
	}), close)
}

func (p *printer) printList(l List, limit, depth int) *doc {
	if !isKeywordList(l) {
		return p.printElements("[", l, "]", limit, depth)
	}
	return container("[", each(len(l), limit, func(i, limit int) *doc {
		pair := normalize(l[i]).(Tuple)
		key := text(keywordKey(atomName(normalize(pair[0]))), SyntaxAtom)
		return concat(key, p.print(pair[1], limit, depth+2))
	}), "]")
}

// isKeywordList reports whether l prints in keyword syntax: a non-empty
// list of {atom, value} tuples.
func isKeywordList(l List) bool {
	if len(l) == 0 {
		return false
	}
	for _, el := range l {
		t, ok := normalize(el).(Tuple)
		if !ok || len(t) != 2 || !isKeywordKey(normalize(t[0])) {
			return false
		}
	}
	return true
}

func (p *printer) printMap(m *Map, limit, depth int) *doc {
	entries := sortedEntries(m, depth)
	keyword := true
	for _, e := range entries {
		if !isKeywordKey(normalize(e.Key)) {
			keyword = false
			break
		}
	}
	return container("%{", each(len(entries), limit, func(i, limit int) *doc {
		e := entries[i]
		if keyword {
			key := text(keywordKey(atomName(normalize(e.Key))), SyntaxAtom)
			return concat(key, p.print(e.Value, limit, depth+1))
		}
		key := p.print(e.Key, limit, depth+1)
		return concat(key, text(" => ", SyntaxDefault), p.print(e.Value, limit, depth+1))
	}), "}")
}

// printBinary prints a printable UTF-8 binary as a quoted string and any
// other binary as <<byte, ...>>, as Elixir does.
func (p *printer) printBinary(s string, limit int) *doc {
	if isPrintable(s, p.printableLimit) {
		escaped, cut := escapeQuoted(s, '"', p.printableLimit)
		str := text(`"`+escaped+`"`, SyntaxString)
		if cut {
			return concat(str, text(" <> ...", SyntaxDefault))
		}
		return str
	}
	return container("<<", each(len(s), limit, func(i, _ int) *doc {
		return text(strconv.Itoa(int(s[i])), SyntaxNumber)
	}), ">>")
}

// isPrintable reports whether the first limit characters of s (all of
// them when limit is -1) are valid UTF-8 and printable under Elixir's
// String.printable?/2.
func isPrintable(s string, limit int) bool {
	for s != "" && limit != 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && size == 1 || !isPrintableRune(r) {
			return false
		}
		s = s[size:]
		if limit > 0 {
			limit--
		}
	}
	return true
}

func isPrintableRune(r rune) bool {
	switch {
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF,
		r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	switch r {
	case '\n', '\r', '\t', '\v', '\b', '\f', 0x1B, 0x7F, '\a':
		return true
	}
	return false
}
