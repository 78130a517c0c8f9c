package term

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// letterEscapes are the characters that Elixir escapes with a letter.
var letterEscapes = map[rune]string{
	'\a': `\a`, '\b': `\b`, 0x7F: `\d`, 0x1B: `\e`, '\f': `\f`,
	'\n': `\n`, '\r': `\r`, '\t': `\t`, '\v': `\v`, 0: `\0`, '\\': `\\`,
}

// escapeQuoted escapes s for use between two quote characters as Elixir
// 1.14 does, stopping after limit characters (-1 means no limit). It
// reports whether it stopped before the end of s. The pair #{ counts as
// one character because it escapes as a unit to \#{.
func escapeQuoted(s string, quote rune, limit int) (string, bool) {
	var b strings.Builder
	for s != "" {
		if limit == 0 {
			return b.String(), true
		}
		if limit > 0 {
			limit--
		}
		if strings.HasPrefix(s, "#{") {
			b.WriteString(`\#{`)
			s = s[2:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		invalid := r == utf8.RuneError && size == 1
		if invalid {
			fmt.Fprintf(&b, `\x%02X`, s[0])
		} else {
			writeEscapedRune(&b, r, quote)
		}
		s = s[size:]
	}
	return b.String(), false
}

func writeEscapedRune(b *strings.Builder, r, quote rune) {
	if r == quote {
		b.WriteByte('\\')
		b.WriteRune(r)
		return
	}
	if esc, ok := letterEscapes[r]; ok {
		b.WriteString(esc)
		return
	}
	switch {
	case r == 0xFEFF:
		b.WriteString(`\uFEFF`)
	case isHiddenFormatRune(r):
		fmt.Fprintf(b, `\x{%X}`, r)
	case isPrintableRune(r):
		b.WriteRune(r)
	case r < 0x100:
		fmt.Fprintf(b, `\x%02X`, r)
	default:
		fmt.Fprintf(b, `\x{%X}`, r)
	}
}

// isHiddenFormatRune reports whether r is an invisible format or bidi
// control character, which inspect escapes so that a name cannot reorder
// or hide the text printed around it. Elixir 1.14 prints these raw. The
// zero-width joiner and non-joiner and the tag characters are left out
// because emoji sequences and some scripts need them.
func isHiddenFormatRune(r rune) bool {
	switch {
	case r == 0x200C, r == 0x200D, r >= 0xE0020 && r <= 0xE007F:
		return false
	case unicode.Is(unicode.Bidi_Control, r), unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
		return true
	}
	return false
}

// quoteAtomText returns the escaped text of a quoted atom.
func quoteAtomText(name string) string {
	escaped, _ := escapeQuoted(name, '"', -1)
	return escaped
}
