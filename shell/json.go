package shell

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gonode/gonode/node/term"
)

// MarshalJSON encodes a term as the JSON value that --format json
// prints:
//
//	nil, true, false     null, true, false
//	integer, float       number
//	atom                 string: :pong is "pong", :"b@vm" is "b@vm"
//	string               string
//	other binary         {"base64": "..."}
//	list, tuple          array: {:ok, [1]} is ["ok", [1]]
//	map                  object when every key is an atom or a string and
//	                     no two keys have the same name, its keys sorted;
//	                     else an array of [key, value] arrays
//	pid                  string: "#PID<0.5.0>"
//
// So a keyword list is an array of two-element arrays, and atoms and
// strings look alike.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v, 0); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// jsonLine returns s as a JSON string, with <, > and & left as they are.
func jsonLine(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func writeJSON(b *bytes.Buffer, v any, depth int) error {
	if depth > term.MaxDepth {
		return fmt.Errorf("term nested more than %d levels deep", term.MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case term.Atom:
		switch x {
		case "nil":
			b.WriteString("null")
		case "true", "false":
			b.WriteString(string(x))
		default:
			b.WriteString(jsonLine(string(x)))
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("float %v has no JSON form", x)
		}
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case string:
		return writeBinary(b, []byte(x))
	case []byte:
		return writeBinary(b, x)
	case term.List:
		return writeArray(b, x, depth)
	case term.Tuple:
		return writeArray(b, x, depth)
	case []any:
		return writeArray(b, x, depth)
	case *term.Map:
		return writeMap(b, x, depth)
	case term.PID:
		b.WriteString(jsonLine(term.Inspect(x)))
	default:
		return fmt.Errorf("no JSON form for %T", v)
	}
	return nil
}

func writeBinary(b *bytes.Buffer, s []byte) error {
	if !utf8.Valid(s) {
		b.WriteString(`{"base64":"` + base64.StdEncoding.EncodeToString(s) + `"}`)
		return nil
	}
	b.WriteString(jsonLine(string(s)))
	return nil
}

func writeArray(b *bytes.Buffer, elems []any, depth int) error {
	b.WriteByte('[')
	for i, el := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := writeJSON(b, el, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte(']')
	return nil
}

func writeMap(b *bytes.Buffer, m *term.Map, depth int) error {
	entries := slices.Clone(m.Entries)
	slices.SortFunc(entries, func(x, y term.Pair) int { return term.Compare(x.Key, y.Key) })
	names := make(map[string]bool, len(entries))
	object := true
	for _, e := range entries {
		var name string
		switch k := e.Key.(type) {
		case term.Atom:
			name = string(k)
		case string:
			name = k
		default:
			object = false
		}
		if names[name] {
			object = false
		}
		names[name] = true
	}
	if !object {
		pairs := make([]any, len(entries))
		for i, e := range entries {
			pairs[i] = term.Tuple{e.Key, e.Value}
		}
		return writeArray(b, pairs, depth)
	}
	b.WriteByte('{')
	for i, e := range entries {
		if i > 0 {
			b.WriteByte(',')
		}
		var name string
		if a, ok := e.Key.(term.Atom); ok {
			name = string(a)
		} else {
			name = e.Key.(string)
		}
		b.WriteString(jsonLine(name))
		b.WriteByte(':')
		if err := writeJSON(b, e.Value, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}
