package term

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/gonode/gonode/transport/wire"
)

// The encoder appends msgpack straight to a byte slice instead of going
// through msgpack.Encoder, so that encoding a small message allocates
// nothing but the slice. It picks the same forms as msgpack.Encoder of
// github.com/vmihailenco/msgpack/v5 (the shortest integer, string, binary,
// container and extension forms, float64 always as a double), so the wire
// bytes are the same as before.

// maxExtHeader is the longest extension header: ext32, a 4-byte length
// and the type byte.
const maxExtHeader = 6

// AppendMarshal appends the msgpack encoding of v to dst and returns the
// extended slice. On an error it returns dst unchanged.
func AppendMarshal(dst []byte, v any) ([]byte, error) {
	out, err := appendTerm(dst, v, 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendTerm(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, ErrTooDeep
	}
	switch x := normalize(v).(type) {
	case nil:
		return append(b, wire.Nil), nil
	case bool:
		if x {
			return append(b, wire.True), nil
		}
		return append(b, wire.False), nil
	case int64:
		return wire.AppendInt(b, x), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, wire.Float64), math.Float64bits(x)), nil
	case string:
		if utf8.ValidString(x) {
			return append(wire.AppendStrHeader(b, len(x)), x...), nil
		}
		return append(wire.AppendBinHeader(b, len(x)), x...), nil
	case []byte:
		return append(wire.AppendBinHeader(b, len(x)), x...), nil
	case Atom:
		if !validAtomName(string(x)) {
			return b, fmt.Errorf("encode atom %q: not UTF-8 or longer than %d characters", string(x), MaxAtomLen)
		}
		return append(wire.AppendExtHeader(b, ExtAtom, len(x)), x...), nil
	case List:
		return appendElements(wire.AppendArrayHeader(b, len(x)), x, depth)
	case Tuple:
		return appendExt(b, ExtTuple, func(b []byte) ([]byte, error) {
			return appendElements(wire.AppendArrayHeader(b, len(x)), x, depth)
		})
	case *Map:
		return appendMap(b, x, depth)
	case PID:
		if !validAtomName(string(x.Node)) {
			return b, fmt.Errorf("encode pid node %q: not UTF-8 or longer than %d characters", string(x.Node), MaxAtomLen)
		}
		return appendExt(b, ExtPID, func(b []byte) ([]byte, error) {
			b = append(wire.AppendStrHeader(wire.AppendArrayHeader(b, 2), len(x.Node)), x.Node...)
			return wire.AppendUint(b, x.ID), nil
		})
	default:
		return b, fmt.Errorf("encode term: %w: %T", ErrUnsupported, v)
	}
}

func appendElements(b []byte, elems []any, depth int) ([]byte, error) {
	var err error
	for _, el := range elems {
		if b, err = appendTerm(b, el, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendMap(b []byte, m *Map, depth int) ([]byte, error) {
	if m == nil {
		return wire.AppendMapHeader(b, 0), nil
	}
	b = wire.AppendMapHeader(b, len(m.Entries))
	var err error
	for _, p := range m.Entries {
		if b, err = appendTerm(b, p.Key, depth+1); err != nil {
			return b, err
		}
		if b, err = appendTerm(b, p.Value, depth+1); err != nil {
			return b, err
		}
	}
	return b, nil
}

// appendExt appends an extension whose payload appendPayload writes. The
// payload is written after room for the longest header, and moved back
// once its length, and so the header's, is known.
func appendExt(b []byte, id int8, appendPayload func([]byte) ([]byte, error)) ([]byte, error) {
	start := len(b)
	b = append(b, make([]byte, maxExtHeader)...)
	b, err := appendPayload(b)
	if err != nil {
		return b, err
	}
	n := len(b) - start - maxExtHeader
	var header [maxExtHeader]byte
	h := wire.AppendExtHeader(header[:0], id, n)
	copy(b[start+len(h):], b[start+maxExtHeader:])
	copy(b[start:], h)
	return b[:start+len(h)+n], nil
}
