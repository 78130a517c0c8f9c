// Package term represents Elixir terms as Go values, encodes them as
// msgpack and prints them the way Elixir's inspect does.
//
// A term is a Go value of one of these types:
//
//	Elixir            Go
//	atom              Atom (true, false and nil are bool and untyped nil)
//	string (UTF-8)    string
//	other binary      []byte
//	integer           int64
//	float             float64
//	list              List
//	tuple             Tuple
//	map               *Map
//	pid               PID
//
// Functions that take a term also accept the other Go integer kinds, float32,
// []any (as a list) and Map by value, and treat Atom("true"), Atom("false")
// and Atom("nil") as the Go values above. Decoding only produces the types
// in the table.
package term

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Term is any value of the types listed in the package documentation.
type Term = any

// Atom is an Elixir atom, stored by name without the leading colon.
type Atom string

// List is an Elixir proper list.
type List []any

// Tuple is an Elixir tuple.
type Tuple []any

// Pair is one key-value entry of a Map.
type Pair struct {
	Key   any
	Value any
}

// Map is an Elixir map. Entries keeps the order in which the entries were
// added or decoded. NewMap and Put keep the keys unique under Equal, and
// code that edits Entries directly must do the same.
type Map struct {
	Entries []Pair
}

// PID is a process identifier: a process ID on a node. Inspect prints it as
// #PID<0.ID.0>, without the node.
type PID struct {
	Node Atom
	ID   uint64
}

// NewMap returns a map with the given entries. A later pair replaces an
// earlier one with an equal key, as in Elixir's Map.new.
func NewMap(pairs ...Pair) *Map {
	m := &Map{Entries: make([]Pair, 0, len(pairs))}
	for _, p := range pairs {
		m.Put(p.Key, p.Value)
	}
	return m
}

// Len returns the number of entries. A nil map has none.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.Entries)
}

// Get returns the value stored under a key equal to key, and whether one
// was found. It scans the entries, so it takes time linear in Len.
func (m *Map) Get(key any) (any, bool) {
	if m == nil {
		return nil, false
	}
	for _, p := range m.Entries {
		if Equal(p.Key, key) {
			return p.Value, true
		}
	}
	return nil, false
}

// Put stores value under key, replacing the value of an equal key in
// place or appending a new entry.
func (m *Map) Put(key, value any) {
	for i, p := range m.Entries {
		if Equal(p.Key, key) {
			m.Entries[i].Value = value
			return
		}
	}
	m.Entries = append(m.Entries, Pair{Key: key, Value: value})
}

// normalize maps the convenience forms accepted by this package (other
// integer kinds, float32, []any, Map by value, atoms named true, false or
// nil) to the canonical types of the package documentation. Values it does
// not know come back unchanged.
func normalize(v any) any {
	switch x := v.(type) {
	case Atom:
		switch x {
		case "true":
			return true
		case "false":
			return false
		case "nil":
			return nil
		}
		// v, not x: boxing x again would allocate.
		return v
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x)
		}
		return v
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return v
	case float32:
		return float64(x)
	case []any:
		return List(x)
	case Map:
		return &x
	}
	return v
}

// Kind ranks follow Erlang's term order: number < atom < reference < fun <
// port < pid < tuple < map < list < bitstring. Types outside the term model
// sort last.
const (
	rankNumber = iota
	rankAtom
	rankPID
	rankTuple
	rankMap
	rankList
	rankBinary
	rankUnknown
)

func rank(v any) int {
	switch v.(type) {
	case int64, float64:
		return rankNumber
	case nil, bool, Atom:
		return rankAtom
	case PID:
		return rankPID
	case Tuple:
		return rankTuple
	case *Map:
		return rankMap
	case List:
		return rankList
	case string, []byte:
		return rankBinary
	}
	return rankUnknown
}

// Equal reports whether a and b are the same term, like Elixir's ===:
// 1 and 1.0 differ, a string equals a []byte with the same bytes, and maps
// are equal when they hold equal entries in any order. It terminates on
// cyclic values by giving up below a nesting depth of MaxDepth.
func Equal(a, b any) bool {
	return Compare(a, b) == 0
}

// Compare orders two terms by Erlang's term order and returns -1, 0 or +1.
// Numbers compare by value, and an integer sorts before a float of the same
// value, so that Compare returns 0 only for equal terms. Tuples and maps
// compare by size first, maps then by their sorted keys and then by the
// values in key order. In map key order every integer sorts before every
// float. Atoms compare by name, binaries byte by byte.
//
// NOTE: NaN, which Erlang floats cannot hold, compares equal to itself and
// below every other float. Nesting deeper than MaxDepth compares as equal.
func Compare(a, b any) int {
	return compareDepth(a, b, 0, false)
}

// compareDepth compares a and b. With keyOrder set it uses the order of
// map keys, in which every integer sorts before every float.
func compareDepth(a, b any, depth int, keyOrder bool) int {
	if depth > MaxDepth {
		return 0
	}
	a, b = normalize(a), normalize(b)
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case int64, float64:
		return compareNumbers(a, b, keyOrder)
	case nil, bool, Atom:
		return strings.Compare(atomName(a), atomName(b))
	case PID:
		y := b.(PID)
		if c := strings.Compare(string(x.Node), string(y.Node)); c != 0 {
			return c
		}
		return cmp.Compare(x.ID, y.ID)
	case Tuple:
		y := b.(Tuple)
		if c := cmp.Compare(len(x), len(y)); c != 0 {
			return c
		}
		return compareSeq(x, y, depth, keyOrder)
	case List:
		return compareSeq(x, b.(List), depth, keyOrder)
	case *Map:
		return compareMaps(x, b.(*Map), depth)
	case string, []byte:
		return strings.Compare(binaryString(a), binaryString(b))
	}
	return strings.Compare(fmt.Sprintf("%T %v", a, a), fmt.Sprintf("%T %v", b, b))
}

// atomName returns the name of an atom term, including true, false and nil.
func atomName(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case Atom:
		return string(x)
	}
	return ""
}

func binaryString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v.(string)
}

func compareSeq(x, y []any, depth int, keyOrder bool) int {
	for i := 0; i < len(x) && i < len(y); i++ {
		if c := compareDepth(x[i], y[i], depth+1, keyOrder); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(x), len(y))
}

func compareMaps(x, y *Map, depth int) int {
	if c := cmp.Compare(x.Len(), y.Len()); c != 0 {
		return c
	}
	xs, ys := sortedEntries(x, depth), sortedEntries(y, depth)
	for i := range xs {
		if c := compareDepth(xs[i].Key, ys[i].Key, depth+1, true); c != 0 {
			return c
		}
	}
	for i := range xs {
		if c := compareDepth(xs[i].Value, ys[i].Value, depth+1, false); c != 0 {
			return c
		}
	}
	return 0
}

// sortedEntries returns a copy of the map's entries sorted in map key
// order, which is the order Erlang keeps for maps of up to 32 keys: term
// order, except that all integers sort before all floats.
func sortedEntries(m *Map, depth int) []Pair {
	if m == nil {
		return nil
	}
	entries := slices.Clone(m.Entries)
	slices.SortStableFunc(entries, func(p, q Pair) int {
		return compareDepth(p.Key, q.Key, depth+1, true)
	})
	return entries
}

func compareNumbers(a, b any, keyOrder bool) int {
	_, aInt := a.(int64)
	_, bInt := b.(int64)
	if keyOrder && aInt != bInt {
		if aInt {
			return -1
		}
		return 1
	}
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return cmp.Compare(x, y)
		case float64:
			if c := compareIntFloat(x, y); c != 0 {
				return c
			}
			return -1
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmp.Compare(x, y)
		case int64:
			if c := compareIntFloat(y, x); c != 0 {
				return -c
			}
			return 1
		}
	}
	return 0
}

// compareIntFloat compares an integer with a float by exact value, without
// the rounding that converting the integer to float64 would bring.
func compareIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 1
	case f >= 0x1p63:
		return -1
	case f < -0x1p63:
		return 1
	}
	whole := math.Trunc(f)
	if c := cmp.Compare(i, int64(whole)); c != 0 {
		return c
	}
	return cmp.Compare(0, f-whole)
}

// validAtomName reports whether name can be an atom: valid UTF-8 of at most
// 255 characters, the limit of the Erlang runtime.
func validAtomName(name string) bool {
	return utf8.ValidString(name) && utf8.RuneCountInString(name) <= MaxAtomLen
}
