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
	p := printer{printableLimit: -1}
	if opts.PrintableLimit > 0 {
		p.printableLimit = opts.PrintableLimit
	}
	limit := -1
	if opts.Limit > 0 {
		limit = opts.Limit
	}
	p.print(v, limit, 0)
	return p.buf.String()
}

// printer accumulates output. A limit of -1 means no limit, as Elixir's
// :infinity.
type printer struct {
	buf            strings.Builder
	printableLimit int
}

func (p *printer) print(v any, limit, depth int) {
	if depth > MaxDepth {
		p.buf.WriteString("...")
		return
	}
	switch x := normalize(v).(type) {
	case nil:
		p.buf.WriteString("nil")
	case bool:
		p.buf.WriteString(strconv.FormatBool(x))
	case Atom:
		p.buf.WriteString(inspectAtom(string(x)))
	case int64:
		p.buf.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		p.buf.WriteString(strconv.FormatUint(x, 10))
	case uint:
		p.buf.WriteString(strconv.FormatUint(uint64(x), 10))
	case float64:
		p.buf.WriteString(formatFloat(x))
	case string:
		p.printBinary(x, limit)
	case []byte:
		p.printBinary(string(x), limit)
	case List:
		p.printList(x, limit, depth)
	case Tuple:
		p.printElements("{", x, "}", limit, depth)
	case *Map:
		p.printMap(x, limit, depth)
	case PID:
		fmt.Fprintf(&p.buf, "#PID<0.%d.0>", x.ID)
	default:
		fmt.Fprintf(&p.buf, "#Go<%T %v>", v, v)
	}
}

// each calls fn for up to limit items, passing the limit left for nested
// containers, and writes sep between items and ", ..." when items remain.
// It mirrors the container_doc function of Elixir's Inspect.Algebra.
func (p *printer) each(n, limit int, fn func(i, limit int)) {
	for i := 0; i < n; i++ {
		if limit == 0 {
			if i > 0 {
				p.buf.WriteString(", ")
			}
			p.buf.WriteString("...")
			return
		}
		if limit > 0 {
			limit--
		}
		if i > 0 {
			p.buf.WriteString(", ")
		}
		fn(i, limit)
	}
}

func (p *printer) printElements(open string, elems []any, close string, limit, depth int) {
	p.buf.WriteString(open)
	p.each(len(elems), limit, func(i, limit int) {
		p.print(elems[i], limit, depth+1)
	})
	p.buf.WriteString(close)
}

func (p *printer) printList(l List, limit, depth int) {
	if !isKeywordList(l) {
		p.printElements("[", l, "]", limit, depth)
		return
	}
	p.buf.WriteString("[")
	p.each(len(l), limit, func(i, limit int) {
		pair := normalize(l[i]).(Tuple)
		p.buf.WriteString(keywordKey(atomName(normalize(pair[0]))))
		p.print(pair[1], limit, depth+2)
	})
	p.buf.WriteString("]")
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

func (p *printer) printMap(m *Map, limit, depth int) {
	entries := sortedEntries(m, depth)
	keyword := true
	for _, e := range entries {
		if !isKeywordKey(normalize(e.Key)) {
			keyword = false
			break
		}
	}
	p.buf.WriteString("%{")
	p.each(len(entries), limit, func(i, limit int) {
		e := entries[i]
		if keyword {
			p.buf.WriteString(keywordKey(atomName(normalize(e.Key))))
		} else {
			p.print(e.Key, limit, depth+1)
			p.buf.WriteString(" => ")
		}
		p.print(e.Value, limit, depth+1)
	})
	p.buf.WriteString("}")
}

// printBinary prints a printable UTF-8 binary as a quoted string and any
// other binary as <<byte, ...>>, as Elixir does.
func (p *printer) printBinary(s string, limit int) {
	if isPrintable(s, p.printableLimit) {
		escaped, cut := escapeQuoted(s, '"', p.printableLimit)
		p.buf.WriteString(`"` + escaped + `"`)
		if cut {
			p.buf.WriteString(" <> ...")
		}
		return
	}
	p.buf.WriteString("<<")
	p.each(len(s), limit, func(i, _ int) {
		p.buf.WriteString(strconv.Itoa(int(s[i])))
	})
	p.buf.WriteString(">>")
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
