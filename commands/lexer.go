package commands

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gonode/gonode/node/term"
)

// tokenKind is the kind of a lexical token.
type tokenKind int

const (
	tokEOF    tokenKind = iota
	tokAtom             // :ok, :"a@b", :+ (value holds the term.Atom)
	tokString           // "text" (value holds the string)
	tokInt              // 42, 0x2A, ?a (value holds int64)
	tokFloat            // 1.5e3 (value holds float64)
	tokIdent            // node, flush, b@vm
	tokAlias            // Node, Process
	tokKey              // a: or "a b": in keyword lists (value holds the atom)
	tokPunct            // ( ) [ ] { } %{ , . => = |> ;
	tokMinus            // - before a number
)

// token is one lexical token. off is the byte offset of its first
// character in the source; line and col are its 1-based line and column,
// the column counted in characters.
type token struct {
	kind  tokenKind
	text  string
	value any
	off   int
	line  int
	col   int
}

// lexer splits one line into tokens. It reports the first error as a
// *Error and stops.
type lexer struct {
	src    string
	pos    int // byte offset
	tokens []token

	// The position of byte offset markOff, kept so that positions of
	// later offsets are counted from there and not from the start.
	markOff, markLine, markCol int
}

// maxTokens bounds the work spent on one line.
const maxTokens = 10000

// operatorAtoms lists the operator atoms that may follow a colon without
// quotes, longest first so that the lexer takes the longest match.
var operatorAtoms = []string{
	"<<>>", "..//", "===", "!==", "...", "<<<", ">>>", "<<~", "~>>", "<~>", "|||", "&&&",
	"+++", "---", "%{}", "++", "--", "..", "<>", "&&", "||", "==", "!=", "=~", "<=", ">=",
	"|>", "<~", "~>", "->", "<-", `\\`, "**", "{}", "+", "-", "*", "/", "!", "^", "@",
	"&", "<", ">", "=", "|", ".", "%",
}

// position returns the 1-based line and column of byte offset off.
func (l *lexer) position(off int) (line, col int) {
	if off < l.markOff {
		l.markOff, l.markLine, l.markCol = 0, 1, 1
	}
	for _, r := range l.src[l.markOff:off] {
		if r == '\n' {
			l.markLine++
			l.markCol = 1
		} else {
			l.markCol++
		}
	}
	l.markOff = off
	return l.markLine, l.markCol
}

func (l *lexer) col(off int) int {
	_, col := l.position(off)
	return col
}

func (l *lexer) errorf(off int, kind, format string, args ...any) *Error {
	line, col := l.position(off)
	return errorAt(kind, line, col, fmt.Sprintf(format, args...))
}

func (l *lexer) emit(kind tokenKind, start int, value any) {
	line, col := l.position(start)
	l.tokens = append(l.tokens, token{kind: kind, text: l.src[start:l.pos], value: value, off: start, line: line, col: col})
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' }
func isAliasStart(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c)
}

// lex tokenizes the whole line.
func lex(src string) ([]token, error) {
	l := &lexer{src: src, markLine: 1, markCol: 1}
	for {
		if len(l.tokens) > maxTokens {
			return nil, l.errorf(l.pos, "SyntaxError", "line has more than %d tokens", maxTokens)
		}
		l.skipSpace()
		if l.pos >= len(l.src) {
			l.emit(tokEOF, l.pos, nil)
			return l.tokens, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) {
		switch c := l.src[l.pos]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.pos++
		case c == '#':
			// A comment runs to the end of the line.
			if nl := strings.IndexByte(l.src[l.pos:], '\n'); nl >= 0 {
				l.pos += nl
			} else {
				l.pos = len(l.src)
			}
		default:
			return
		}
	}
}

func (l *lexer) next() error {
	start := l.pos
	c := l.src[l.pos]
	switch {
	case strings.HasPrefix(l.src[l.pos:], "%{"):
		l.pos += 2
		l.emit(tokPunct, start, nil)
	case strings.HasPrefix(l.src[l.pos:], "=>"), strings.HasPrefix(l.src[l.pos:], "|>"):
		l.pos += 2
		l.emit(tokPunct, start, nil)
	case strings.ContainsRune("()[]{},.=;", rune(c)):
		l.pos++
		l.emit(tokPunct, start, nil)
	case c == '-' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1]):
		l.pos++
		l.emit(tokMinus, start, nil)
	case c == ':':
		return l.lexAtom()
	case c == '"':
		s, err := l.lexQuoted("string")
		if err != nil {
			return err
		}
		if l.pos < len(l.src) && l.src[l.pos] == ':' && !strings.HasPrefix(l.src[l.pos:], "::") {
			if utf8.RuneCountInString(s) > term.MaxAtomLen {
				return l.errorf(start, "SyntaxError", "atom length must be less than system limit: %d characters", term.MaxAtomLen)
			}
			l.pos++
			l.emit(tokKey, start, term.Atom(s))
			return nil
		}
		l.emit(tokString, start, s)
	case isDigit(c):
		return l.lexNumber()
	case c == '?':
		return l.lexChar()
	case isIdentStart(c) || isAliasStart(c):
		return l.lexName()
	default:
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if r == utf8.RuneError && size == 1 {
			return l.errorf(start, "SyntaxError", "invalid UTF-8: byte 0x%02X (column %d) is not part of a valid character; the input must be UTF-8", c, l.col(start))
		}
		return l.errorf(start, "SyntaxError", "unexpected token: \"%c\" (column %d, code point U+%04X)", r, l.col(start), r)
	}
	return nil
}

// lexName reads an identifier or alias. Identifiers may contain @ (as in
// b@vm) and end in ? or !. An identifier directly followed by a colon and
// a space or end of line is a keyword key.
func (l *lexer) lexName() error {
	start := l.pos
	alias := isAliasStart(l.src[l.pos])
	for l.pos < len(l.src) && (isIdentChar(l.src[l.pos]) || !alias && l.src[l.pos] == '@') {
		l.pos++
	}
	if !alias && l.pos < len(l.src) && (l.src[l.pos] == '?' || l.src[l.pos] == '!') {
		l.pos++
	}
	name := l.src[start:l.pos]
	// An alias becomes the atom Elixir.Name, and a bare name may become a
	// node atom, so both obey the atom length limit.
	if len("Elixir.")+len(name) > term.MaxAtomLen {
		return l.errorf(start, "SyntaxError", "atom length must be less than system limit: %d characters", term.MaxAtomLen)
	}
	if l.pos < len(l.src) && l.src[l.pos] == ':' &&
		(l.pos+1 == len(l.src) || strings.IndexByte(" \t\r\n", l.src[l.pos+1]) >= 0) {
		l.pos++
		l.emit(tokKey, start, term.Atom(name))
		return nil
	}
	if alias {
		l.emit(tokAlias, start, name)
		return nil
	}
	l.emit(tokIdent, start, name)
	return nil
}

func (l *lexer) lexAtom() error {
	start := l.pos
	l.pos++ // the colon
	rest := l.src[l.pos:]
	switch {
	case strings.HasPrefix(rest, `"`):
		s, err := l.lexQuoted("atom")
		if err != nil {
			return err
		}
		if utf8.RuneCountInString(s) > term.MaxAtomLen {
			return l.errorf(start, "SyntaxError", "atom length must be less than system limit: %d characters", term.MaxAtomLen)
		}
		l.emit(tokAtom, start, term.Atom(s))
		return nil
	case rest != "" && (isIdentStart(rest[0]) || isAliasStart(rest[0]) || rest[0] >= utf8.RuneSelf):
		// Unquoted atoms may hold non-ASCII letters, as in :é. The lexer
		// accepts any letters, digits and marks here, a superset of what
		// term.Inspect prints without quotes.
		for l.pos < len(l.src) {
			r, size := utf8.DecodeRuneInString(l.src[l.pos:])
			if !(r < utf8.RuneSelf && (isIdentChar(byte(r)) || r == '@') ||
				r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == 0xB7)) {
				break
			}
			l.pos += size
		}
		if l.pos == start+1 {
			return l.errorf(start, "SyntaxError", "unexpected token: :")
		}
		if l.pos < len(l.src) && (l.src[l.pos] == '?' || l.src[l.pos] == '!') {
			l.pos++
		}
		if utf8.RuneCountInString(l.src[start+1:l.pos]) > term.MaxAtomLen {
			return l.errorf(start, "SyntaxError", "atom length must be less than system limit: %d characters", term.MaxAtomLen)
		}
		l.emit(tokAtom, start, term.Atom(l.src[start+1:l.pos]))
		return nil
	}
	for _, op := range operatorAtoms {
		if strings.HasPrefix(rest, op) {
			l.pos += len(op)
			l.emit(tokAtom, start, term.Atom(op))
			return nil
		}
	}
	return l.errorf(start, "SyntaxError", "unexpected token: :")
}

// lexQuoted reads a double-quoted string starting at l.pos and returns its
// unescaped text. what names the construct in errors ("string", "atom").
func (l *lexer) lexQuoted(what string) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			line, _ := l.position(start)
			return "", l.errorf(l.pos, "TokenMissingError", `missing terminator: " (for %s starting at line %d)`, what, line)
		}
		c := l.src[l.pos]
		switch {
		case c == '"':
			l.pos++
			return b.String(), nil
		case c == '#' && strings.HasPrefix(l.src[l.pos:], "#{"):
			return "", l.errorf(l.pos, "SyntaxError", "string interpolation is not supported in this shell; write the value as a literal")
		case c == '\\' && l.pos+1 == len(l.src):
			line, _ := l.position(start)
			return "", l.errorf(l.pos+1, "TokenMissingError", `missing terminator: " (for %s starting at line %d)`, what, line)
		case c == '\\':
			if err := l.lexEscape(&b); err != nil {
				return "", err
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
}

var simpleEscapes = map[byte]string{
	'n': "\n", 't': "\t", 'r': "\r", 'e': "\x1b", 'a': "\a", 'b': "\b", 'f': "\f",
	'v': "\v", '0': "\x00", 'd': "\x7f", 's': " ", '"': `"`, '\\': `\`, '#': "#",
}

// lexEscape reads one backslash escape at l.pos into b.
func (l *lexer) lexEscape(b *strings.Builder) error {
	start := l.pos
	l.pos++ // the backslash
	if l.pos >= len(l.src) {
		return l.errorf(start, "TokenMissingError", `missing terminator: " (for string starting at line 1)`)
	}
	c := l.src[l.pos]
	if s, ok := simpleEscapes[c]; ok {
		b.WriteString(s)
		l.pos++
		return nil
	}
	switch c {
	case 'x':
		l.pos++
		if l.pos < len(l.src) && l.src[l.pos] == '{' {
			// \x{H*} is a code point, the form inspect uses above U+00FF.
			l.pos++
			digits := l.hexRun(6)
			if l.pos >= len(l.src) || l.src[l.pos] != '}' || digits == "" {
				return l.errorf(start, "SyntaxError", `invalid hex escape character, expected \x{H*}. Syntax error after: \x{`)
			}
			l.pos++
			return l.writeCodePoint(b, start, digits)
		}
		digits := l.hexRun(2)
		if len(digits) == 0 {
			return l.errorf(start, "SyntaxError", `invalid hex escape character, expected \xHH where H is a hexadecimal digit. Syntax error after: \x`)
		}
		n, _ := strconv.ParseUint(digits, 16, 8)
		b.WriteByte(byte(n))
		return nil
	case 'u':
		l.pos++
		var digits string
		if l.pos < len(l.src) && l.src[l.pos] == '{' {
			l.pos++
			digits = l.hexRun(6)
			if l.pos >= len(l.src) || l.src[l.pos] != '}' || digits == "" {
				return l.errorf(start, "SyntaxError", `invalid Unicode escape, expected \uHHHH or \u{H*}. Syntax error after: \u`)
			}
			l.pos++
		} else {
			digits = l.hexRun(4)
			if len(digits) != 4 {
				return l.errorf(start, "SyntaxError", `invalid Unicode escape, expected \uHHHH or \u{H*}. Syntax error after: \u`)
			}
		}
		return l.writeCodePoint(b, start, digits)
	}
	// Elixir keeps an unknown escape as the character itself.
	r, size := utf8.DecodeRuneInString(l.src[l.pos:])
	b.WriteRune(r)
	l.pos += size
	return nil
}

// writeCodePoint writes the code point spelled by hex digits to b.
func (l *lexer) writeCodePoint(b *strings.Builder, start int, digits string) error {
	n, _ := strconv.ParseUint(digits, 16, 32)
	if n > utf8.MaxRune || n >= 0xD800 && n <= 0xDFFF {
		return l.errorf(start, "SyntaxError", `invalid or reserved Unicode code point \u{%s}`, strings.ToUpper(digits))
	}
	b.WriteRune(rune(n))
	return nil
}

func (l *lexer) hexRun(max int) string {
	start := l.pos
	for l.pos < len(l.src) && l.pos-start < max && strings.IndexByte("0123456789abcdefABCDEF", l.src[l.pos]) >= 0 {
		l.pos++
	}
	return l.src[start:l.pos]
}

// lexNumber reads an integer (decimal with _ separators, 0x, 0o or 0b) or
// a float (digits, a dot, digits and an optional exponent).
func (l *lexer) lexNumber() error {
	start := l.pos
	if l.src[l.pos] == '0' && l.pos+1 < len(l.src) && strings.IndexByte("xob", l.src[l.pos+1]) >= 0 {
		return l.lexBasedInt()
	}

	l.digitRun()

	isFloat := false
	if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
		isFloat = true
		l.pos++
		l.digitRun()
		if l.pos < len(l.src) && (l.src[l.pos] == 'e' || l.src[l.pos] == 'E') {
			save := l.pos
			l.pos++
			if l.pos < len(l.src) && (l.src[l.pos] == '+' || l.src[l.pos] == '-') {
				l.pos++
			}
			if l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.digitRun()
			} else {
				l.pos = save
			}
		}
	}

	text := l.src[start:l.pos]
	if l.pos < len(l.src) && (isIdentChar(l.src[l.pos]) || l.src[l.pos] == '@') {
		return l.errorf(start, "SyntaxError", "invalid character %q after number %s. Separate the number from the next character with a comma or space", l.src[l.pos], text)
	}
	clean := strings.ReplaceAll(text, "_", "")
	if strings.HasSuffix(text, "_") || strings.Contains(text, "__") || strings.Contains(text, "_.") || strings.Contains(text, "._") {
		return l.errorf(start, "SyntaxError", "invalid number %s: an underscore must sit between two digits", text)
	}
	if isFloat {
		f, err := strconv.ParseFloat(clean, 64)
		if err != nil || math.IsInf(f, 0) {
			return l.errorf(start, "SyntaxError", "invalid float number %s", text)
		}
		l.emit(tokFloat, start, f)
		return nil
	}
	n, _ := new(big.Int).SetString(clean, 10)
	return l.emitInt(start, n)
}

// lexBasedInt reads an integer written as 0x, 0o or 0b and digits, with
// optional _ between digits.
func (l *lexer) lexBasedInt() error {
	start := l.pos
	base := map[byte]int{'x': 16, 'o': 8, 'b': 2}[l.src[l.pos+1]]
	l.pos += 2
	digitsStart := l.pos
	for l.pos < len(l.src) && isIdentChar(l.src[l.pos]) {
		l.pos++
	}
	digits := l.src[digitsStart:l.pos]
	n, ok := new(big.Int).SetString(strings.ReplaceAll(digits, "_", ""), base)
	if digits == "" || strings.HasPrefix(digits, "_") || strings.HasSuffix(digits, "_") || strings.Contains(digits, "__") || !ok {
		return l.errorf(start, "SyntaxError", "invalid number %s in base %d", l.src[start:l.pos], base)
	}
	return l.emitInt(start, n)
}

func (l *lexer) digitRun() {
	for l.pos < len(l.src) && (isDigit(l.src[l.pos]) || l.src[l.pos] == '_' && l.pos+1 < len(l.src) && isDigit(l.src[l.pos+1])) {
		l.pos++
	}
}

func (l *lexer) emitInt(start int, n *big.Int) error {
	if !n.IsInt64() {
		// The range of a 64-bit integer includes math.MinInt64 only after
		// negation, which the parser applies, so that value is rejected.
		return l.errorf(start, "SyntaxError", "integer %s is out of range: this shell supports 64-bit integers", n)
	}
	l.emit(tokInt, start, n.Int64())
	return nil
}

// lexChar reads a character literal such as ?a, whose value is the code
// point.
func (l *lexer) lexChar() error {
	start := l.pos
	l.pos++
	if l.pos >= len(l.src) {
		return l.errorf(start, "SyntaxError", `unexpected token: "?" (column %d, code point U+003F)`, l.col(start))
	}
	if l.src[l.pos] == '\\' && l.pos+1 < len(l.src) {
		if s, ok := simpleEscapes[l.src[l.pos+1]]; ok {
			l.pos += 2
			l.emit(tokInt, start, int64(s[0]))
			return nil
		}
	}
	r, size := utf8.DecodeRuneInString(l.src[l.pos:])
	l.pos += size
	l.emit(tokInt, start, int64(r))
	return nil
}
