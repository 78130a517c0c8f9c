package term

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// operatorAtoms are the operator and special-form atoms that Elixir 1.14
// prints without quotes, such as :+ and :%{}. Others, like :"//", :"::",
// :"=>", :"^^^" and :"~~~", need quotes.
var operatorAtoms = map[string]bool{}

func init() {
	for _, op := range strings.Fields(`
		+ - * / ** ++ -- +++ --- .. ... ..// <> ! ^ @ & &&& && || |||
		== != === !== =~ < > <= >= |> <<< >>> <<~ ~>> <~ ~> <~> \\ = | ->
		<- . % %{} {} <<>>`) {
		operatorAtoms[op] = true
	}
}

// inspectAtom prints an atom as Elixir 1.14 does: true, false and nil bare,
// aliases without their Elixir. prefix (Foo.Bar), identifiers and
// operators after a colon (:ok, :+), and anything else quoted
// (:"hello world"). One exception: an atom holding "@" is always quoted,
// so that node names print as :"piyo@vm" wherever they appear, in the
// form users type them; Elixir 1.14 prints :piyo@vm bare.
func inspectAtom(name string) string {
	switch {
	case strings.Contains(name, "@"):
		return `:"` + quoteAtomText(name) + `"`
	case name == "true" || name == "false" || name == "nil":
		return name
	case name == "Elixir":
		return name
	case strings.HasPrefix(name, "Elixir.") && isAliasPath(name[len("Elixir."):]):
		rest := name[len("Elixir."):]
		if rest == "Elixir" || strings.HasPrefix(rest, "Elixir.") {
			return name // Elixir.Elixir stays whole to differ from Elixir
		}
		return rest
	case isAtomIdentifier(name) || operatorAtoms[name]:
		return ":" + name
	}
	return `:"` + quoteAtomText(name) + `"`
}

// keywordKey prints an atom as the key of a keyword list or map
// ("a: ", "\"a b\": "). Aliases such as Foo are quoted there as
// "Elixir.Foo": Elixir 1.14 does not use keyword syntax for them, which
// isKeywordKey checks, apart from the atom Elixir itself.
func keywordKey(name string) string {
	if name != "Elixir" && isAtomIdentifier(name) || operatorAtoms[name] {
		return name + ": "
	}
	return `"` + quoteAtomText(name) + `": `
}

// isKeywordKey reports whether an atom may appear in keyword syntax: any
// atom but the aliases whose name starts with "Elixir.".
func isKeywordKey(v any) bool {
	switch x := v.(type) {
	case nil, bool:
		return true
	case Atom:
		return !strings.HasPrefix(string(x), "Elixir.")
	}
	return false
}

// isAliasPath reports whether s is one or more dot-separated alias
// segments, each an ASCII capital letter followed by ASCII letters, digits
// and underscores.
func isAliasPath(s string) bool {
	for seg := range strings.SplitSeq(s, ".") {
		if seg == "" || seg[0] < 'A' || seg[0] > 'Z' {
			return false
		}
		for i := 1; i < len(seg); i++ {
			if !isASCIIIdentChar(seg[i]) {
				return false
			}
		}
	}
	return true
}

func isASCIIIdentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// isAtomIdentifier reports whether name can follow a colon unquoted: a
// letter or underscore, then letters, digits, underscores and @ signs,
// optionally ending in ? or !.
//
// NOTE: for non-ASCII names Elixir 1.14 also requires NFC form, UTS 39
// identifier status and a single script (Latin may mix with Han, Hiragana
// and Katakana). The checks here approximate those with Go's unicode
// tables: they quote names with combining marks and with characters that
// Unicode maps to other forms under NFKC, like "ﬁ" and "ℕ", as far as the
// table in isCompatibilityLetter covers them.
func isAtomIdentifier(name string) bool {
	body := name
	if strings.HasSuffix(body, "?") || strings.HasSuffix(body, "!") {
		body = body[:len(body)-1]
	}
	if body == "" || !utf8.ValidString(body) {
		return false
	}
	scripts := map[string]bool{}
	for i, r := range body {
		switch {
		case r < utf8.RuneSelf:
			c := byte(r)
			if i == 0 && !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
			if !isASCIIIdentChar(c) && c != '@' {
				return false
			}
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
				scripts["Latin"] = true
			}
		case r == 0xB7 && i > 0:
			// U+00B7 MIDDLE DOT continues identifiers (Other_ID_Continue).
		case isIdentifierLetter(r):
			scripts[scriptOf(r)] = true
		default:
			return false
		}
	}
	return allowedScripts(scripts)
}

// isIdentifierLetter reports whether r is a non-ASCII letter that Elixir
// accepts in an unquoted atom.
func isIdentifierLetter(r rune) bool {
	if !unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Lm, unicode.Lo) {
		return false
	}
	if isCompatibilityLetter(r) {
		return false
	}
	return scriptOf(r) != ""
}

// isCompatibilityLetter reports whether r lies in a block of letters that
// NFKC maps to other characters, which Elixir rejects in identifiers.
func isCompatibilityLetter(r rune) bool {
	switch {
	case r >= 0x01C4 && r <= 0x01CC, r >= 0x01F1 && r <= 0x01F3: // DŽ..nj, DZ..dz digraphs
		return true
	case r >= 0x02B0 && r <= 0x02FF: // Spacing Modifier Letters
		return true
	case r >= 0x2100 && r <= 0x214F: // Letterlike Symbols
		return true
	case r >= 0xFB00 && r <= 0xFB4F: // Alphabetic Presentation Forms
		return true
	case r >= 0xFF00 && r <= 0xFFEF: // Halfwidth and Fullwidth Forms
		return true
	case r >= 0x1D400 && r <= 0x1D7FF: // Mathematical Alphanumeric Symbols
		return true
	}
	return false
}

// identifierScripts are the scripts checked by scriptOf, which covers the
// common writing systems and leaves the rest quoted.
var identifierScripts = []string{
	"Latin", "Greek", "Cyrillic", "Armenian", "Hebrew", "Arabic", "Devanagari",
	"Bengali", "Thai", "Georgian", "Hangul", "Hiragana", "Katakana", "Han",
	"Bopomofo", "Ethiopic", "Tamil", "Telugu", "Kannada", "Malayalam",
}

func scriptOf(r rune) string {
	for _, name := range identifierScripts {
		if unicode.Is(unicode.Scripts[name], r) {
			return name
		}
	}
	return ""
}

// allowedScripts reports whether a set of scripts may share one
// identifier: one script, or Latin with the scripts of Chinese, Japanese or
// Korean writing (UTS 39 "highly restrictive").
func allowedScripts(scripts map[string]bool) bool {
	if len(scripts) <= 1 {
		return true
	}
	for _, group := range [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	} {
		inGroup := 0
		for _, s := range group {
			if scripts[s] {
				inGroup++
			}
		}
		if inGroup == len(scripts) {
			return true
		}
	}
	return false
}
