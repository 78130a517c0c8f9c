package commands

import (
	"fmt"
	"strings"

	"github.com/gonode/gonode/node/term"
)

// expr is a parsed expression: literal, listExpr, tupleExpr, mapExpr,
// callExpr or matchExpr.
type expr interface{ pos() token }

// literal is a constant term.
type literal struct {
	value any
	at    token
}

// listExpr is a list. Keyword entries appear as two-element tupleExprs.
type listExpr struct {
	elems []expr
	at    token
}

// tupleExpr is a tuple. keyword marks the {key, value} tuple of a
// key: value entry.
type tupleExpr struct {
	elems   []expr
	keyword bool
	at      token
}

// mapExpr is a map literal.
type mapExpr struct {
	keys, values []expr
	at           token
}

// callExpr is a function call. module is "" for a local call such as
// flush(). A bare identifier without parentheses or arguments is a call
// with bare set: it evaluates as a variable when one is bound, else as a
// call, or as a node name where one is expected.
type callExpr struct {
	module string
	name   string
	args   []expr
	bare   bool
	at     token
}

// matchExpr binds a variable: name = value. The name _ discards the value.
type matchExpr struct {
	name  string
	value expr
	at    token
}

func (e literal) pos() token   { return e.at }
func (e listExpr) pos() token  { return e.at }
func (e tupleExpr) pos() token { return e.at }
func (e mapExpr) pos() token   { return e.at }
func (e callExpr) pos() token  { return e.at }
func (e matchExpr) pos() token { return e.at }

// qualifiedName returns "Mod.fun" or "fun".
func (e callExpr) qualifiedName() string {
	if e.module == "" {
		return e.name
	}
	return e.module + "." + e.name
}

// maxNesting bounds the nesting of brackets and calls in one input.
const maxNesting = 100

// parser builds an expr from tokens.
type parser struct {
	tokens []token
	pos    int
	depth  int
}

// parse parses one shell input, which may span several lines, into its
// statements. It returns no statements for an input with no expression
// (blank or comment only). Grammar, in EBNF:
//
//	input    = [ stmt ] { ";" [ stmt ] } EOF .
//	stmt     = var "=" stmt | pipe .
//	pipe     = expr { "|>" call } .
//	expr     = literal | list | tuple | map | call | "(" stmt ")" .
//	literal  = [ "-" ] ( integer | float ) | atom | string | alias
//	         | "true" | "false" | "nil" .
//	list     = "[" [ items [ "," ] ] "]" .
//	tuple    = "{" [ items [ "," ] ] "}" .
//	items    = keywords | pipe { "," pipe } [ "," keywords ] .
//	keywords = key pipe { "," key pipe } .
//	key      = ident ":" | string ":" .        (a space must follow the colon)
//	map      = "%{" [ ( keywords | assoc { "," assoc } [ "," keywords ] ) [ "," ] ] "}" .
//	assoc    = pipe "=>" pipe .
//	call     = name [ "(" [ items ] ")" | bareargs ] .
//	bareargs = keywords | expr { "," expr } [ "," keywords ] .
//	name     = ident | alias { "." alias } "." ident .
//	var      = ident .                         (without @, ? or !)
//
// A pipe a |> f(b) is the call f(a, b). A call without parentheses takes
// every argument up to the end of the enclosing list and binds tighter
// than |>, so Node.ping b@vm |> f is f(Node.ping(b@vm)). An identifier
// without arguments is a variable when one of that name is bound, else a
// call with no arguments.
//
// Terminals: integer is decimal with optional _ between digits, or 0x, 0o
// and 0b with digits, or a character literal ?a; float is digits "."
// digits with an optional exponent; atom is :name, :"quoted" or an
// operator such as :+; string is "text" with the escapes \n \t \r \e \a
// \b \f \v \0 \d \s \" \\ \# \xHH \uHHHH \u{H...}, Unicode text and
// newlines, and no interpolation; ident starts with a lower-case letter or
// _, may contain @ and may end in ? or !; alias starts with an upper-case
// letter, and an alias that does not name a function is the atom
// Elixir.Alias. Newlines count as spaces outside strings. A # starts a
// comment that runs to the end of the line.
func parse(src string) ([]expr, error) {
	tokens, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{tokens: tokens}
	var stmts []expr
	for {
		for p.isPunct(";") {
			p.advance()
		}
		if p.peek().kind == tokEOF {
			return stmts, nil
		}
		e, err := p.parseStmt()
		if err != nil {
			return nil, err
		}
		stmts = append(stmts, e)
		if t := p.peek(); t.kind != tokEOF && !p.isPunct(";") {
			return nil, p.unexpected(t, `";" or the end of the input`)
		}
	}
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

func syntaxErrorf(t token, format string, args ...any) *Error {
	return errorAt("SyntaxError", t.line, t.col, fmt.Sprintf(format, args...))
}

// unexpected reports token t where it cannot stand, as iex does, and what
// the parser expected there instead.
func (p *parser) unexpected(t token, expected string) *Error {
	var e *Error
	switch t.kind {
	case tokEOF:
		e = errorAt("TokenMissingError", t.line, t.col, "syntax error: expression is incomplete")
	case tokPunct:
		if strings.Contains(")]}", t.text) {
			e = syntaxErrorf(t, "unexpected token: %s", t.text)
		} else {
			e = syntaxErrorf(t, "syntax error before: '%s'", t.text)
		}
	default:
		e = syntaxErrorf(t, "syntax error before: %s", t.text)
	}
	if expected != "" {
		e.Message += "; expected " + expected
	}
	return e
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return syntaxErrorf(p.peek(), "expression nested more than %d levels deep", maxNesting)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// parseStmt parses a match or a pipe.
func (p *parser) parseStmt() (expr, error) {
	t := p.peek()
	next := p.tokens[min(p.pos+1, len(p.tokens)-1)]
	if t.kind == tokIdent && next.kind == tokPunct && next.text == "=" {
		name := t.value.(string)
		if !isVariableName(name) {
			return nil, syntaxErrorf(t, "invalid variable name %s: a variable is a lower-case name without @, ? or !", name)
		}
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		p.advance()
		p.advance()
		v, err := p.parseStmt()
		if err != nil {
			return nil, err
		}
		return matchExpr{name: name, value: v, at: t}, nil
	}
	return p.parsePipe()
}

func isVariableName(name string) bool {
	return !strings.ContainsAny(name, "@?!") && name != "true" && name != "false" && name != "nil"
}

// parsePipe parses expr { "|>" call }, turning each step into a call
// with the value on the left as its first argument.
func (p *parser) parsePipe() (expr, error) {
	left, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	for p.isPunct("|>") {
		pipe := p.advance()
		t := p.peek()
		right, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		call, ok := right.(callExpr)
		if !ok {
			return nil, syntaxErrorf(t, "cannot pipe into %s; expected a call such as length() after |> at column %d", t.text, pipe.col)
		}
		call.bare = false
		call.args = append([]expr{left}, call.args...)
		left = call
	}
	return left, nil
}

func (p *parser) parseExpr() (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch t.kind {
	case tokAtom, tokString, tokInt, tokFloat:
		p.advance()
		return literal{value: t.value, at: t}, nil
	case tokMinus:
		p.advance()
		n := p.advance()
		switch v := n.value.(type) {
		case int64:
			return literal{value: -v, at: t}, nil
		case float64:
			return literal{value: -v, at: t}, nil
		}
		return nil, p.unexpected(n, "a number after -")
	case tokIdent:
		return p.parseCall()
	case tokAlias:
		return p.parseAlias()
	case tokPunct:
		switch t.text {
		case "(":
			open := p.advance()
			e, err := p.parseStmt()
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
		return nil, syntaxErrorf(t, "unexpected keyword list entry %s outside of a list, map or call", t.text)
	}
	return nil, p.unexpected(t, "an expression")
}

// expectClose consumes the closing bracket for open or reports it missing.
func (p *parser) expectClose(close string, open token) error {
	if p.isPunct(close) {
		p.advance()
		return nil
	}
	t := p.peek()
	if t.kind == tokEOF {
		return errorAt("TokenMissingError", t.line, t.col, fmt.Sprintf("missing terminator: %s (for %q starting at line %d)", close, open.text, open.line))
	}
	if t.kind == tokPunct && strings.Contains(")]}", t.text) {
		return syntaxErrorf(t, "unexpected token: %s. The %q at line %d is missing terminator %q", t.text, open.text, open.line, close)
	}
	return p.unexpected(t, fmt.Sprintf("%q or %q", ",", close))
}

// parseItems parses items up to the closing bracket close. Keyword
// entries become {key, value} tuples and must come last. A trailing comma
// is allowed in lists and tuples, as in Elixir, but not in call
// arguments.
func (p *parser) parseItems(open token, close string) ([]expr, error) {
	var items []expr
	keywords := false
	for !p.atClose() {
		if len(items) > 0 {
			comma := p.peek()
			if !p.isPunct(",") {
				return nil, p.unexpected(comma, fmt.Sprintf("%q or %q", ",", close))
			}
			p.advance()
			if p.isPunct(close) && close == ")" {
				return nil, syntaxErrorf(p.peek(), "syntax error before: '%s'; expected an argument after \",\"", close)
			}
			if p.isPunct(close) {
				break
			}
			if p.peek().kind == tokEOF {
				return nil, p.expectClose(close, open)
			}
		}
		t := p.peek()
		if t.kind == tokKey {
			keywords = true
			p.advance()
			v, err := p.parsePipe()
			if err != nil {
				return nil, err
			}
			items = append(items, keywordEntry(t, v))
			continue
		}
		if keywords {
			return nil, keywordNotLast(t)
		}
		e, err := p.parsePipe()
		if err != nil {
			return nil, err
		}
		items = append(items, e)
	}
	return items, nil
}

// atClose reports whether the next token ends a bracketed sequence: any
// closing bracket or the end of the input. The caller checks which.
func (p *parser) atClose() bool {
	t := p.peek()
	return t.kind == tokEOF || t.kind == tokPunct && strings.Contains(")]}", t.text)
}

func keywordEntry(key token, value expr) tupleExpr {
	return tupleExpr{elems: []expr{literal{value: key.value, at: key}, value}, keyword: true, at: key}
}

func keywordNotLast(t token) *Error {
	return syntaxErrorf(t, "unexpected expression after keyword list. Keyword lists must always come last in lists and maps")
}

func (p *parser) parseList() (expr, error) {
	open := p.advance()
	items, err := p.parseItems(open, "]")
	if err != nil {
		return nil, err
	}
	if err := p.expectClose("]", open); err != nil {
		return nil, err
	}
	return listExpr{elems: items, at: open}, nil
}

// parseTuple parses a tuple. As in Elixir, trailing keyword entries form
// one keyword list element: {1, a: 2} is {1, [a: 2]}.
func (p *parser) parseTuple() (expr, error) {
	open := p.advance()
	items, err := p.parseItems(open, "}")
	if err != nil {
		return nil, err
	}
	if err := p.expectClose("}", open); err != nil {
		return nil, err
	}
	return tupleExpr{elems: groupKeywords(items), at: open}, nil
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
	kw := listExpr{elems: items[first:], at: items[first].pos()}
	return append(items[:first:first], kw)
}

func (p *parser) parseMap() (expr, error) {
	open := p.advance()
	m := mapExpr{at: open}
	keywords := false
	for !p.atClose() {
		if len(m.keys) > 0 {
			if !p.isPunct(",") {
				return nil, p.unexpected(p.peek(), `"," or "}"`)
			}
			p.advance()
			if p.isPunct("}") {
				break // trailing comma
			}
			if p.peek().kind == tokEOF {
				return nil, p.expectClose("}", open)
			}
		}
		t := p.peek()
		if t.kind == tokKey {
			keywords = true
			p.advance()
			v, err := p.parsePipe()
			if err != nil {
				return nil, err
			}
			m.keys = append(m.keys, literal{value: t.value, at: t})
			m.values = append(m.values, v)
			continue
		}
		if keywords {
			return nil, keywordNotLast(t)
		}
		k, err := p.parsePipe()
		if err != nil {
			return nil, err
		}
		if !p.isPunct("=>") {
			return nil, p.unexpected(p.peek(), `"=>" after a map key, or key: value`)
		}
		p.advance()
		v, err := p.parsePipe()
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
			return p.parseArgs(callExpr{module: strings.Join(parts, "."), name: t.value.(string), at: first})
		}
		return nil, p.unexpected(t, "a function name after \".\"")
	}
	// Elixir and Elixir.Foo already carry the prefix, as in Elixir.
	name := strings.Join(parts, ".")
	if parts[0] != "Elixir" {
		name = "Elixir." + name
	}
	return literal{value: term.Atom(name), at: first}, nil
}

// parseCall parses a local call or a bare identifier. true, false and nil
// are literals.
func (p *parser) parseCall() (expr, error) {
	t := p.advance()
	name := t.value.(string)
	switch name {
	case "true":
		return literal{value: true, at: t}, nil
	case "false":
		return literal{value: false, at: t}, nil
	case "nil":
		return literal{value: nil, at: t}, nil
	}
	return p.parseArgs(callExpr{name: name, at: t})
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
		items, err := p.parseItems(open, ")")
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
	return prev.off+len(prev.text) == cur.off
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
				return nil, keywordNotLast(t)
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
