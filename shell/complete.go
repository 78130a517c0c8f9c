package shell

import (
	"slices"
	"strings"
	"sync"

	"github.com/gonode/gonode/commands"
	"github.com/gonode/gonode/node/term"
)

// completer completes, at the cursor, command names ("Node." lists the
// Node commands), variable names, and inside a call the names of known
// and connected nodes: b completes to b@host, :" to :"b@host".
type completer struct {
	rt *Runtime

	mu   sync.Mutex
	vars []string // guarded by mu; the session's variables after the last input
}

// setVariables records the variable names to complete. The shell calls it
// after each input because the line editor may call Do while an input
// runs.
func (c *completer) setVariables(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.vars = names
}

// wordChars are the characters of the word that completion extends.
const wordChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@?!:\"-"

// Do returns the completions of the word before pos, as suffixes, and
// the length of that word in runes.
func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	before := string(line[:pos])
	start := len(before)
	for start > 0 && strings.IndexByte(wordChars, before[start-1]) >= 0 {
		start--
	}
	word := before[start:]
	inCall := strings.TrimSpace(before[:start]) != ""

	var out [][]rune
	add := func(full, prefix string) {
		if strings.HasPrefix(full, prefix) && full != prefix {
			out = append(out, []rune(full[len(prefix):]))
		}
	}
	switch {
	case strings.HasPrefix(word, `:"`):
		for _, n := range c.nodeNames() {
			add(n+`"`, word[2:])
		}
	case strings.HasPrefix(word, ":"):
		for _, n := range c.nodeNames() {
			add(`"`+n+`"`, word[1:])
		}
	default:
		for _, name := range commands.Names() {
			add(name, word)
		}
		c.mu.Lock()
		for _, name := range c.vars {
			add(name, word)
		}
		c.mu.Unlock()
		if inCall && !strings.Contains(word, ".") {
			for _, n := range c.nodeNames() {
				add(n, word)
			}
		}
	}
	return out, len([]rune(word))
}

// nodeNames returns this node, the connected nodes and the known ones,
// each once.
func (c *completer) nodeNames() []string {
	var names []string
	for _, group := range [][]term.Atom{{c.rt.Self()}, c.rt.List(), c.rt.Known()} {
		for _, n := range group {
			if !slices.Contains(names, string(n)) {
				names = append(names, string(n))
			}
		}
	}
	return names
}
