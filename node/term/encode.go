package term

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"
)

// The encoder appends msgpack straight to a byte slice instead of going
// through msgpack.Encoder, so that encoding a small message allocates
// nothing but the slice. It picks the same forms as msgpack.Encoder of
// github.com/vmihailenco/msgpack/v5 (the shortest integer, string, binary,
// container and extension forms, float64 always as a double), so the wire
// bytes are the same as before.

// msgpack format bytes, from the msgpack specification.
const (
	mpNil     = 0xc0
	mpFalse   = 0xc2
	mpTrue    = 0xc3
	mpBin8    = 0xc4
	mpBin16   = 0xc5
	mpBin32   = 0xc6
	mpExt8    = 0xc7
	mpExt16   = 0xc8
	mpExt32   = 0xc9
	mpFloat32 = 0xca
	mpFloat64 = 0xcb
	mpUint8   = 0xcc
	mpUint16  = 0xcd
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt8    = 0xd0
	mpInt16   = 0xd1
	mpInt32   = 0xd2
	mpInt64   = 0xd3
	mpFixExt1 = 0xd4
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

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
		return append(b, mpNil), nil
	case bool:
		if x {
			return append(b, mpTrue), nil
		}
		return append(b, mpFalse), nil
	case int64:
		return appendInt(b, x), nil
	case float64:
		return binary.BigEndian.AppendUint64(append(b, mpFloat64), math.Float64bits(x)), nil
	case string:
		if utf8.ValidString(x) {
			return append(appendStrHeader(b, len(x)), x...), nil
		}
		return append(appendBinHeader(b, len(x)), x...), nil
	case []byte:
		return append(appendBinHeader(b, len(x)), x...), nil
	case Atom:
		if !validAtomName(string(x)) {
			return b, fmt.Errorf("encode atom %q: not UTF-8 or longer than %d characters", string(x), MaxAtomLen)
		}
		return append(appendExtHeader(b, ExtAtom, len(x)), x...), nil
	case List:
		return appendElements(appendContainerHeader(b, len(x), 0x90, mpArray16), x, depth)
	case Tuple:
		return appendExt(b, ExtTuple, func(b []byte) ([]byte, error) {
			return appendElements(appendContainerHeader(b, len(x), 0x90, mpArray16), x, depth)
		})
	case *Map:
		return appendMap(b, x, depth)
	case PID:
		if !validAtomName(string(x.Node)) {
			return b, fmt.Errorf("encode pid node %q: not UTF-8 or longer than %d characters", string(x.Node), MaxAtomLen)
		}
		return appendExt(b, ExtPID, func(b []byte) ([]byte, error) {
			b = append(appendStrHeader(append(b, 0x92), len(x.Node)), x.Node...)
			return appendUint(b, x.ID), nil
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
		return append(b, 0x80), nil
	}
	b = appendContainerHeader(b, len(m.Entries), 0x80, mpMap16)
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
	h := appendExtHeader(header[:0], id, n)
	copy(b[start+len(h):], b[start+maxExtHeader:])
	copy(b[start:], h)
	return b[:start+len(h)+n], nil
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, mpInt8, byte(n))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, mpInt16), uint16(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, mpInt32), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(n))
	}
}

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= math.MaxInt8:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, mpUint8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpUint16), uint16(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, mpUint32), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, mpUint64), n)
	}
}

func appendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(b, mpStr8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpStr16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, mpStr32), uint32(n))
	}
}

func appendBinHeader(b []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(b, mpBin8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpBin16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, mpBin32), uint32(n))
	}
}

// appendContainerHeader appends an array or map header: fix is the
// fixarray or fixmap base and code16 the 16-bit form, which the 32-bit
// form follows.
func appendContainerHeader(b []byte, n int, fix, code16 byte) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, code16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, code16+1), uint32(n))
	}
}

func appendExtHeader(b []byte, id int8, n int) []byte {
	switch n {
	case 1, 2, 4, 8, 16:
		// fixext 1, 2, 4, 8 and 16 are the consecutive codes 0xd4..0xd8.
		b = append(b, mpFixExt1+byte(bits.TrailingZeros(uint(n))))
	default:
		switch {
		case n <= math.MaxUint8:
			b = append(b, mpExt8, byte(n))
		case n <= math.MaxUint16:
			b = binary.BigEndian.AppendUint16(append(b, mpExt16), uint16(n))
		default:
			b = binary.BigEndian.AppendUint32(append(b, mpExt32), uint32(n))
		}
	}
	return append(b, byte(id))
}
