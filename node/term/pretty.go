package term

import (
	"strings"
	"unicode/utf8"
)

// Syntax is the kind of a piece of printed text, which selects its color.
type Syntax int

// The syntax kinds follow the keys of IEx's :syntax_colors option.
const (
	SyntaxDefault Syntax = iota // brackets, separators, pids
	SyntaxAtom                  // atoms and keyword keys
	SyntaxString
	SyntaxNumber
	SyntaxBoolean
	SyntaxNil
)

// FormatOptions set how Format lays out a term.
type FormatOptions struct {
	InspectOptions
	// Width is the line width to fit; zero or less means one line, as
	// Inspect prints.
	Width int
	// TextWidth returns the number of terminal columns s takes. Nil counts
	// one column per character, which is wrong for wide characters such
	// as Japanese ones.
	TextWidth func(s string) int
	// Color wraps a piece of text of the given kind in terminal escapes.
	// Nil prints no color.
	Color func(kind Syntax, s string) string
}

// Format prints v as Inspect does, but breaks lists, tuples, maps and
// binaries that do not fit in opts.Width over several lines in the manner
// of Elixir's Inspect.Algebra. A container whose elements hold no other
// container is filled: as many elements on a line as fit, the next lines
// indented by one more column. Any other container that does not fit puts
// each element on a line of its own, indented by two columns, and its
// closing bracket on a line of its own, as here at width 76:
//
//	%{
//	  counts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
//	   19, 20],
//	  nodes: [:"a@vm", :"b@vm"]
//	}
//
// A line can still be longer than the width when one piece of text is.
func Format(v any, opts FormatOptions) string {
	d := buildDoc(v, opts.InspectOptions)
	var b strings.Builder
	if opts.Width <= 0 {
		d.writeFlat(&b, opts.Color)
		return b.String()
	}
	l := layout{b: &b, width: opts.Width, textWidth: opts.TextWidth, color: opts.Color}
	if l.textWidth == nil {
		l.textWidth = utf8.RuneCountInString
	}
	l.write(d, 0, 0, 0)
	return b.String()
}

// doc is a printed term before layout: a piece of text, a concatenation
// of parts, or a container of items between two brackets, separated by
// commas.
type doc struct {
	text  string
	kind  Syntax
	parts []*doc // a concatenation when set

	isContainer bool
	open, close string
	items       []*doc

	flat int // width on one line in characters, cached by flatWidth; -1 until then
}

func text(s string, kind Syntax) *doc { return &doc{text: s, kind: kind, flat: -1} }

func concat(parts ...*doc) *doc { return &doc{parts: parts, flat: -1} }

func container(open string, items []*doc, close string) *doc {
	return &doc{isContainer: true, open: open, items: items, close: close, flat: -1}
}

// simple reports whether d holds no container, so that a container of
// such items can be filled line by line.
func (d *doc) simple() bool {
	if d.isContainer {
		return false
	}
	for _, p := range d.parts {
		if !p.simple() {
			return false
		}
	}
	return true
}

func paint(b *strings.Builder, color func(Syntax, string) string, kind Syntax, s string) {
	if color != nil && kind != SyntaxDefault {
		s = color(kind, s)
	}
	b.WriteString(s)
}

// writeFlat writes d on one line.
func (d *doc) writeFlat(b *strings.Builder, color func(Syntax, string) string) {
	switch {
	case d.isContainer:
		b.WriteString(d.open)
		for i, item := range d.items {
			if i > 0 {
				b.WriteString(", ")
			}
			item.writeFlat(b, color)
		}
		b.WriteString(d.close)
	case d.parts != nil:
		for _, p := range d.parts {
			p.writeFlat(b, color)
		}
	default:
		paint(b, color, d.kind, d.text)
	}
}

// layout writes documents broken to fit a width.
type layout struct {
	b         *strings.Builder
	width     int
	textWidth func(string) int
	color     func(Syntax, string) string
}

// flatWidth returns the columns d takes on one line.
func (l *layout) flatWidth(d *doc) int {
	if d.flat >= 0 {
		return d.flat
	}
	w := 0
	switch {
	case d.isContainer:
		w = l.textWidth(d.open) + l.textWidth(d.close) + 2*max(0, len(d.items)-1)
		for _, item := range d.items {
			w += l.flatWidth(item)
		}
	case d.parts != nil:
		for _, p := range d.parts {
			w += l.flatWidth(p)
		}
	default:
		w = l.textWidth(d.text)
	}
	d.flat = w
	return w
}

// write writes d starting at column col, with later lines indented by
// indent columns, and returns the column after it. trail is the width of
// the text that must follow d on the same line, such as a comma or the
// closing brackets of the enclosing containers.
func (l *layout) write(d *doc, indent, col, trail int) int {
	if col+l.flatWidth(d)+trail <= l.width {
		d.writeFlat(l.b, l.color)
		return col + l.flatWidth(d)
	}
	switch {
	case d.isContainer && len(d.items) > 0:
		if d.allSimple() {
			return l.fill(d, indent, col, trail)
		}
		return l.breakEach(d, indent, col)
	case d.parts != nil:
		for i, p := range d.parts {
			rest := trail
			for _, q := range d.parts[i+1:] {
				rest += l.flatWidth(q)
			}
			col = l.write(p, indent, col, rest)
		}
		return col
	}
	d.writeFlat(l.b, l.color)
	return col + l.flatWidth(d)
}

func (d *doc) allSimple() bool {
	for _, item := range d.items {
		if !item.simple() {
			return false
		}
	}
	return true
}

// fill writes as many items on each line as fit, as Elixir's flex breaks
// do, with later lines indented one column past indent.
func (l *layout) fill(d *doc, indent, col, trail int) int {
	l.b.WriteString(d.open)
	col += l.textWidth(d.open)
	for i, item := range d.items {
		need := l.flatWidth(item) + 1 // the comma
		if i == len(d.items)-1 {
			need = l.flatWidth(item) + l.textWidth(d.close) + trail
		}
		if i > 0 {
			if col+1+need <= l.width {
				l.b.WriteString(" ")
				col++
			} else {
				col = l.newline(indent + 1)
			}
		}
		item.writeFlat(l.b, l.color)
		col += l.flatWidth(item)
		if i < len(d.items)-1 {
			l.b.WriteString(",")
			col++
		}
	}
	l.b.WriteString(d.close)
	return col + l.textWidth(d.close)
}

// breakEach writes each item on a line of its own, indented two columns
// past indent, and the closing bracket on a line of its own.
func (l *layout) breakEach(d *doc, indent, col int) int {
	l.b.WriteString(d.open)
	for i, item := range d.items {
		col = l.newline(indent + 2)
		comma := 0
		if i < len(d.items)-1 {
			comma = 1
		}
		col = l.write(item, indent+2, col, comma)
		if comma == 1 {
			l.b.WriteString(",")
		}
	}
	l.newline(indent)
	l.b.WriteString(d.close)
	return indent + l.textWidth(d.close)
}

func (l *layout) newline(indent int) int {
	l.b.WriteString("\n")
	l.b.WriteString(strings.Repeat(" ", indent))
	return indent
}
