package shell

import (
	"github.com/chzyer/readline"

	"github.com/gonode/gonode/node/term"
)

// syntaxColors are IEx's default :syntax_colors as ANSI escapes: atoms
// cyan, strings green, numbers yellow, booleans and nil magenta.
var syntaxColors = map[term.Syntax]string{
	term.SyntaxAtom:    "\x1b[36m",
	term.SyntaxString:  "\x1b[32m",
	term.SyntaxNumber:  "\x1b[33m",
	term.SyntaxBoolean: "\x1b[35m",
	term.SyntaxNil:     "\x1b[35m",
}

func colorize(kind term.Syntax, s string) string {
	if c, ok := syntaxColors[kind]; ok {
		return c + s + ansiReset
	}
	return s
}

// inspect prints v in Elixir's inspect form, broken over lines to fit
// width (0 means one line), with IEx's colors when color is set.
func inspect(v any, width int, color bool) string {
	opts := term.FormatOptions{InspectOptions: term.DefaultInspectOptions, Width: width, TextWidth: textWidth}
	if color {
		opts.Color = colorize
	}
	return term.Format(v, opts)
}

// textWidth returns the terminal columns of s, two for each wide
// character such as a Japanese one.
func textWidth(s string) int { return readline.Runes{}.WidthAll([]rune(s)) }
