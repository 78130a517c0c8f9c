package commands

import (
	"fmt"
	"strings"

	"github.com/gonode/gonode/node/term"
)

// expr is a parsed expression: literal, listExpr, tupleExpr, mapExpr or
// callExpr.
type expr interface{ column() int }

// literal is a constant term.
type literal struct {
	value any
	col   int
}

// listExpr is a list. Keyword entries appear as two-element tupleExprs.
type listExpr struct {
	elems []expr
	col   int
}

// tupleExpr is a tuple. keyword marks the {key, value} tuple of a
// key: value entry.
type tupleExpr struct {
	elems   []expr
	keyword bool
	col     int
}

// mapExpr is a map literal.
type mapExpr struct {
	keys, values []expr
	col          int
}

// callExpr is a function call. module is "" for a local call such as
// flush(). A bare identifier without parentheses or arguments is a call
// with bare set, which evaluates as a node name where one is expected.
type callExpr struct {
	module string
	name   string
	args   []expr
	bare   bool
	col    int
}

func (e literal) column() int   { return e.col }
func (e listExpr) column() int  { return e.col }
func (e tupleExpr) column() int { return e.col }
func (e mapExpr) column() int   { return e.col }
func (e callExpr) column() int  { return e.col }

// qualifiedName returns "Mod.fun" or "fun".
func (e callExpr) qualifiedName() string {
	if e.module == "" {
		return e.name
	}
	return e.module + "." + e.name
}

// maxNesting bounds the nesting of brackets and calls in one line.
const maxNesting = 100

// parser builds an expr from tokens.
type parser struct {
	tokens []token
	pos    int
	depth  int
}

// parse parses one shell line. It returns a nil expr for a line with no
// expression (blank or comment only). Grammar, in EBNF:
//
//	line     = [ expr ] EOF .
//	expr     = literal | list | tuple | map | call | "(" expr ")" .
//	literal  = [ "-" ] ( integer | float ) | atom | string | alias
//	         | "true" | "false" | "nil" .
//	list     = "[" [ items [ "," ] ] "]" .
//	tuple    = "{" [ items [ "," ] ] "}" .
//	items    = keywords | expr { "," expr } [ "," keywords ] .
//	keywords = key expr { "," key expr } .
//	key      = ident ":" | string ":" .        (a space must follow the colon)
//	map      = "%{" [ ( keywords | assoc { "," assoc } [ "," keywords ] ) [ "," ] ] "}" .
//	assoc    = expr "=>" expr .
//	call     = name [ "(" [ args ] ")" | args ] .
//	name     = ident | alias { "." alias } "." ident .
//	args     = items .
//
// Terminals: integer is decimal with optional _ between digits, or 0x, 0o
// and 0b with digits, or a character literal ?a; float is digits "."
// digits with an optional exponent; atom is :name, :"quoted" or an
// operator such as :+; string is "text" with the escapes \n \t \r \e \a
// \b \f \v \0 \d \s \" \\ \# \xHH \uHHHH \u{H...} and no interpolation;
// ident starts with a lower-case letter or _, may contain @ and may end in
// ? or !; alias starts with an upper-case letter, and an alias that does
// not name a function is the atom Elixir.Alias. A call without parentheses
// takes every argument up to the end of the enclosing list, as in
// Node.ping :"b@vm". A # starts a comment.
func parse(line string) (expr, error) {
	tokens, err := lex(line)
	if err != nil {
		return nil, err
	}
	p := &parser{tokens: tokens}
	if p.peek().kind == tokEOF {
		return nil, nil
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.unexpected(t)
	}
	return e, nil
}

func (p *parser) peek() token { return p.tokens[p.pos] }

func (p *parser) advance() token {
	t := p.tokens[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) isPunct(text string) bool {
	t := p.peek()
	return t.kind == tokPunct && t.text == text
}

func syntaxErrorf(col int, format string, args ...any) *Error {
	return &Error{Kind: "SyntaxError", Message: fmt.Sprintf("iex:1:%d: ", col) + fmt.Sprintf(format, args...)}
}

// unexpected reports token t where it cannot stand, as iex does.
func (p *parser) unexpected(t token) *Error {
	switch t.kind {
	case tokEOF:
		return &Error{Kind: "TokenMissingError", Message: fmt.Sprintf("iex:1:%d: syntax error: expression is incomplete", t.col)}
	case tokPunct:
		if strings.Contains(")]}", t.text) {
			return syntaxErrorf(t.col, "unexpected token: %s", t.text)
		}
		return syntaxErrorf(t.col, "syntax error before: '%s'", t.text)
	case tokString:
		return syntaxErrorf(t.col, "syntax error before: %s", t.text)
	}
	return syntaxErrorf(t.col, "syntax error before: %s", t.text)
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return syntaxErrorf(p.peek().col, "expression nested more than %d levels deep", maxNesting)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseExpr() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case tokAtom, tokString, tokInt, tokFloat:
		p.advance()
		return literal{value: t.value, col: t.col}, nil
	case tokMinus:
		p.advance()
		n := p.advance()
		switch v := n.value.(type) {
		case int64:
			return literal{value: -v, col: t.col}, nil
		case float64:
			return literal{value: -v, col: t.col}, nil
		}
		return nil, p.unexpected(n)
	case tokIdent:
		return p.parseCall()
	case tokAlias:
		return p.parseAlias()
	case tokPunct:
		switch t.text {
		case "(":
			open := p.advance()
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expectClose(")", open); err != nil {
				return nil, err
			}
			return e, nil
		case "[":
			return p.parseList()
		case "{":
			return p.parseTuple()
		case "%{":
			return p.parseMap()
		}
	case tokKey:
		return nil, syntaxErrorf(t.col, "unexpected keyword list entry %s outside of a list, map or call", t.text)
	}
	return nil, p.unexpected(t)
}

// expectClose consumes the closing bracket for open or reports it missing.
func (p *parser) expectClose(close string, open token) error {
	if p.isPunct(close) {
		p.advance()
		return nil
	}
	t := p.peek()
	if t.kind == tokEOF {
		return &Error{Kind: "TokenMissingError", Message: fmt.Sprintf("iex:1:%d: missing terminator: %s (for %q starting at line 1)", t.col, close, open.text)}
	}
	if t.kind == tokPunct && strings.Contains(")]}", t.text) {
		return syntaxErrorf(t.col, "unexpected token: %s. The %q at line 1 is missing terminator %q", t.text, open.text, close)
	}
	return p.unexpected(t)
}

// parseItems parses items up to the closing bracket close. Keyword
// entries become {key, value} tuples and must come last. A trailing comma
// is allowed in lists and tuples, as in Elixir, but not in call
// arguments.
func (p *parser) parseItems(close string) ([]expr, error) {
	var items []expr
	keywords := false
	for !p.atClose() {
		if len(items) > 0 {
			comma := p.peek()
			if !p.isPunct(",") {
				return nil, p.unexpected(comma)
			}
			p.advance()
			if p.isPunct(close) && close == ")" {
				return nil, syntaxErrorf(p.peek().col, "syntax error before: '%s'", close)
			}
			if p.isPunct(close) {
				break
			}
		}
		t := p.peek()
		if t.kind == tokKey {
			keywords = true
			p.advance()
			v, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			items = append(items, keywordEntry(t, v))
			continue
		}
		if keywords {
			return nil, keywordNotLast(t.col)
		}
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return items, nil
}

// atClose reports whether the next token ends a bracketed sequence: any
// closing bracket or the end of the line. The caller checks which.
func (p *parser) atClose() bool {
	t := p.peek()
	return t.kind == tokEOF || t.kind == tokPunct && strings.Contains(")]}", t.text)
}

func keywordEntry(key token, value expr) tupleExpr {
	return tupleExpr{elems: []expr{literal{value: key.value, col: key.col}, value}, keyword: true, col: key.col}
}

func keywordNotLast(col int) *Error {
	return syntaxErrorf(col, "unexpected expression after keyword list. Keyword lists must always come last in lists and maps")
}

func (p *parser) parseList() (expr, error) {
	open := p.advance()
	items, err := p.parseItems("]")
	if err != nil {
		return nil, err
	}
	if err := p.expectClose("]", open); err != nil {
		return nil, err
	}
	return listExpr{elems: items, col: open.col}, nil
}

// parseTuple parses a tuple. As in Elixir, trailing keyword entries form
// one keyword list element: {1, a: 2} is {1, [a: 2]}.
func (p *parser) parseTuple() (expr, error) {
	open := p.advance()
	items, err := p.parseItems("}")
	if err != nil {
		return nil, err
	}
	if err := p.expectClose("}", open); err != nil {
		return nil, err
	}
	return tupleExpr{elems: groupKeywords(items), col: open.col}, nil
}

// groupKeywords gathers the trailing keyword entries of a tuple or an
// argument list into one list element.
func groupKeywords(items []expr) []expr {
	first := len(items)
	for first > 0 {
		t, ok := items[first-1].(tupleExpr)
		if !ok || !t.keyword {
			break
		}
		first--
	}
	if first == len(items) {
		return items
	}
	kw := listExpr{elems: items[first:], col: items[first].column()}
	return append(items[:first:first], kw)
}

func (p *parser) parseMap() (expr, error) {
	open := p.advance()
	m := mapExpr{col: open.col}
	keywords := false
	for !p.atClose() {
		if len(m.keys) > 0 {
			if !p.isPunct(",") {
				return nil, p.unexpected(p.peek())
			}
			p.advance()
			if p.isPunct("}") {
				break // trailing comma
			}
		}
		t := p.peek()
		if t.kind == tokKey {
			keywords = true
			p.advance()
			v, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, literal{value: t.value, col: t.col})
			m.values = append(m.values, v)
			continue
		}
		if keywords {
			return nil, keywordNotLast(t.col)
		}
		k, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); !p.isPunct("=>") {
			if t.kind == tokPunct {
				return nil, syntaxErrorf(t.col, "syntax error before: '%s'", t.text)
			}
			return nil, p.unexpected(t)
		}
		p.advance()
		v, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		m.keys = append(m.keys, k)
		m.values = append(m.values, v)
	}
	if err := p.expectClose("}", open); err != nil {
		return nil, err
	}
	return m, nil
}

// parseAlias parses Foo, Foo.Bar (the atom Elixir.Foo.Bar) or a remote
// call Foo.Bar.fun.
func (p *parser) parseAlias() (expr, error) {
	first := p.advance()
	parts := []string{first.value.(string)}
	for p.isPunct(".") {
		p.advance()
		t := p.peek()
		switch t.kind {
		case tokAlias:
			p.advance()
			parts = append(parts, t.value.(string))
			continue
		case tokIdent:
			p.advance()
			return p.parseArgs(callExpr{module: strings.Join(parts, "."), name: t.value.(string), col: first.col})
		}
		return nil, p.unexpected(t)
	}
	// Elixir and Elixir.Foo already carry the prefix, as in Elixir.
	name := strings.Join(parts, ".")
	if parts[0] != "Elixir" {
		name = "Elixir." + name
	}
	return literal{value: term.Atom(name), col: first.col}, nil
}

// parseCall parses a local call or a bare identifier. true, false and nil
// are literals.
func (p *parser) parseCall() (expr, error) {
	t := p.advance()
	name := t.value.(string)
	switch name {
	case "true":
		return literal{value: true, col: t.col}, nil
	case "false":
		return literal{value: false, col: t.col}, nil
	case "nil":
		return literal{value: nil, col: t.col}, nil
	}
	return p.parseArgs(callExpr{name: name, col: t.col})
}

// startsExpr reports whether t can begin an argument of a call without
// parentheses.
func startsExpr(t token) bool {
	switch t.kind {
	case tokAtom, tokString, tokInt, tokFloat, tokIdent, tokAlias, tokKey, tokMinus:
		return true
	case tokPunct:
		return t.text == "[" || t.text == "{" || t.text == "%{" || t.text == "("
	}
	return false
}

// parseArgs parses the arguments of c: in parentheses directly after the
// name, or without parentheses up to the end of the enclosing list.
func (p *parser) parseArgs(c callExpr) (expr, error) {
	t := p.peek()
	switch {
	case t.kind == tokPunct && t.text == "(" && p.adjacent():
		open := p.advance()
		items, err := p.parseItems(")")
		if err != nil {
			return nil, err
		}
		if err := p.expectClose(")", open); err != nil {
			return nil, err
		}
		c.args = groupKeywords(items)
	case startsExpr(t):
		items, err := p.parseBareArgs()
		if err != nil {
			return nil, err
		}
		c.args = groupKeywords(items)
	default:
		c.bare = c.module == ""
	}
	return c, nil
}

// adjacent reports whether the current token directly follows the
// previous one with no space, as the parenthesis of a call must.
func (p *parser) adjacent() bool {
	if p.pos == 0 {
		return false
	}
	prev, cur := p.tokens[p.pos-1], p.tokens[p.pos]
	return prev.col+len([]rune(prev.text)) == cur.col
}

// parseBareArgs parses comma-separated arguments of a call without
// parentheses.
func (p *parser) parseBareArgs() ([]expr, error) {
	var items []expr
	keywords := false
	for {
		t := p.peek()
		if t.kind == tokKey {
			keywords = true
			p.advance()
			v, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			items = append(items, keywordEntry(t, v))
		} else {
			if keywords {
				return nil, keywordNotLast(t.col)
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			items = append(items, e)
		}
		if !p.isPunct(",") {
			return items, nil
		}
		p.advance()
	}
}
