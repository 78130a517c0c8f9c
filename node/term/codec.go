package term

import (
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Wire mapping. Every term is one msgpack value:
//
//	nil, bool        msgpack nil, bool
//	int64            msgpack int of any width (uint64 above MaxInt64 is rejected)
//	float64          msgpack float64 (float32 is accepted on decode)
//	string           msgpack str, or bin for a Go string that is not UTF-8
//	[]byte           msgpack bin
//	List             msgpack array
//	*Map             msgpack map, entries in Entries order
//	Atom             ext ExtAtom, payload = the UTF-8 name
//	Tuple            ext ExtTuple, payload = msgpack array of the elements
//	PID              ext ExtPID, payload = msgpack array [node str, id uint]
//
// Decoding turns str and bin into string when the bytes are UTF-8 and into
// []byte otherwise, as Elixir sees no difference between the two. An atom
// named true, false or nil is sent as msgpack bool or nil, in both
// directions. Extension numbers are append-only.
const (
	ExtAtom  int8 = 1
	ExtTuple int8 = 2
	ExtPID   int8 = 3
)

// Decoding limits.
const (
	// MaxDepth is the maximum nesting of lists, tuples and maps.
	MaxDepth = 100
	// MaxAtomLen is the maximum atom length in characters, as in Erlang.
	MaxAtomLen = 255
	// MaxContainerLen is the maximum element count of one list, tuple or
	// map (entries). Unmarshal also rejects counts larger than the
	// remaining input, as every element takes at least one byte.
	MaxContainerLen = 1 << 24
)

// readChunk is the step by which payload buffers grow, so that a forged
// length allocates at most this much beyond the bytes actually present.
const readChunk = 64 << 10

// Sentinel errors that callers can test with errors.Is.
var (
	// ErrUnsupported is returned when encoding a Go value outside the
	// term model.
	ErrUnsupported = errors.New("unsupported term type")
	// ErrTooDeep is returned when a term nests deeper than MaxDepth.
	ErrTooDeep = errors.New("term nested too deeply")
	// ErrInvalid is returned for input that is not a valid encoded term.
	ErrInvalid = errors.New("invalid encoded term")
)

// Marshal encodes v as msgpack.
func Marshal(v any) ([]byte, error) {
	// Most messages are small: one allocation covers them.
	return AppendMarshal(make([]byte, 0, 64), v)
}

// Unmarshal decodes exactly one term from b. Trailing bytes are an error.
func Unmarshal(b []byte) (any, error) {
	d := newByteDecoder(b)
	v, err := d.decode(0)
	if err != nil {
		return nil, err
	}
	if d.Remaining() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after term", ErrInvalid, d.Remaining())
	}
	return v, nil
}

// Encode writes v to e as one msgpack value.
func Encode(e *msgpack.Encoder, v any) error {
	b, err := appendTerm(nil, v, 0)
	if err != nil {
		return err
	}
	_, err = e.Writer().Write(b)
	return err
}

// Decode reads one term from d. Container counts are checked against
// MaxContainerLen, and buffers grow with the data read rather than with
// the lengths announced, so forged lengths cannot force large allocations.
func Decode(d *msgpack.Decoder) (any, error) {
	dec := decoder{d: d}
	return dec.decode(0)
}

// decoder reads terms from a stream for Decode, whose input length is
// unknown. Extension payloads, which arrive whole, go to byteDecoder.
type decoder struct {
	d *msgpack.Decoder
}

// checkLen rejects a count n of items that each take at least minSize
// bytes when the input cannot hold them.
func (dec *decoder) checkLen(what string, n, minSize, max int) error {
	if n < 0 || n > max {
		return fmt.Errorf("%w: %s length %d out of range 0..%d", ErrInvalid, what, n, max)
	}
	return nil
}

func (dec *decoder) decode(depth int) (any, error) {
	code, err := dec.d.PeekCode()
	if err != nil {
		return nil, truncated(err)
	}
	switch {
	case code == msgpcode.Nil:
		return nil, truncated(dec.d.DecodeNil())
	case code == msgpcode.False || code == msgpcode.True:
		b, err := dec.d.DecodeBool()
		return b, truncated(err)
	case msgpcode.IsFixedNum(code), code == msgpcode.Int8, code == msgpcode.Int16,
		code == msgpcode.Int32, code == msgpcode.Int64, code == msgpcode.Uint8,
		code == msgpcode.Uint16, code == msgpcode.Uint32:
		n, err := dec.d.DecodeInt64()
		return n, truncated(err)
	case code == msgpcode.Uint64:
		n, err := dec.d.DecodeUint64()
		if err != nil {
			return nil, truncated(err)
		}
		if n > math.MaxInt64 {
			return nil, fmt.Errorf("%w: integer %d exceeds int64", ErrInvalid, n)
		}
		return int64(n), nil
	case code == msgpcode.Float || code == msgpcode.Double:
		f, err := dec.d.DecodeFloat64()
		return f, truncated(err)
	case msgpcode.IsString(code) || msgpcode.IsBin(code):
		return dec.decodeBinary()
	case msgpcode.IsFixedArray(code) || code == msgpcode.Array16 || code == msgpcode.Array32:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		l, err := dec.decodeArray(depth)
		if err != nil {
			return nil, err
		}
		return List(l), nil
	case msgpcode.IsFixedMap(code) || code == msgpcode.Map16 || code == msgpcode.Map32:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		return dec.decodeMap(depth)
	case isExt(code):
		return dec.decodeExt(depth)
	}
	return nil, fmt.Errorf("%w: unknown msgpack code 0x%02x", ErrInvalid, code)
}

func isExt(code byte) bool {
	switch code {
	case msgpcode.FixExt1, msgpcode.FixExt2, msgpcode.FixExt4, msgpcode.FixExt8,
		msgpcode.FixExt16, msgpcode.Ext8, msgpcode.Ext16, msgpcode.Ext32:
		return true
	}
	return false
}

// truncated turns end of input inside a term into an ErrInvalid error.
func truncated(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated input: %w", ErrInvalid, err)
	}
	return err
}

// readN reads n bytes, growing the buffer by readChunk at a time.
func (dec *decoder) readN(n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		step := min(n-len(buf), readChunk)
		start := len(buf)
		buf = append(buf, make([]byte, step)...)
		if err := dec.d.ReadFull(buf[start:]); err != nil {
			return nil, truncated(err)
		}
	}
	return buf, nil
}

func (dec *decoder) decodeBinary() (any, error) {
	n, err := dec.d.DecodeBytesLen()
	if err != nil {
		return nil, truncated(err)
	}
	if err := dec.checkLen("binary", n, 1, math.MaxUint32); err != nil {
		return nil, err
	}
	b, err := dec.readN(n)
	if err != nil {
		return nil, err
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	return b, nil
}

func (dec *decoder) decodeArray(depth int) ([]any, error) {
	n, err := dec.d.DecodeArrayLen()
	if err != nil {
		return nil, truncated(err)
	}
	if err := dec.checkLen("array", n, 1, MaxContainerLen); err != nil {
		return nil, err
	}
	out := make([]any, 0, min(n, 1024))
	for i := 0; i < n; i++ {
		v, err := dec.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (dec *decoder) decodeMap(depth int) (*Map, error) {
	n, err := dec.d.DecodeMapLen()
	if err != nil {
		return nil, truncated(err)
	}
	if err := dec.checkLen("map", n, 2, MaxContainerLen); err != nil {
		return nil, err
	}
	m := &Map{Entries: make([]Pair, 0, min(n, 1024))}
	seen := make(map[string]struct{}, min(n, 1024))
	for i := 0; i < n; i++ {
		k, err := dec.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := dec.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		key := string(appendKey(nil, k))
		if _, dup := seen[key]; dup {
			return nil, fmt.Errorf("%w: duplicate map key %s", ErrInvalid, Inspect(k))
		}
		seen[key] = struct{}{}
		m.Entries = append(m.Entries, Pair{Key: k, Value: v})
	}
	return m, nil
}

func (dec *decoder) decodeExt(depth int) (any, error) {
	id, n, err := dec.d.DecodeExtHeader()
	if err != nil {
		return nil, truncated(err)
	}
	if err := dec.checkLen("extension", n, 1, math.MaxUint32); err != nil {
		return nil, err
	}
	switch id {
	case ExtAtom:
		if n > 4*MaxAtomLen {
			return nil, fmt.Errorf("%w: atom of %d bytes exceeds %d characters", ErrInvalid, n, MaxAtomLen)
		}
		b, err := dec.readN(n)
		if err != nil {
			return nil, err
		}
		return decodedAtom(b)
	case ExtTuple:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		payload, err := dec.readN(n)
		if err != nil {
			return nil, err
		}
		return decodeTuplePayload(payload, depth)
	case ExtPID:
		if n > 64+4*MaxAtomLen {
			return nil, fmt.Errorf("%w: pid payload of %d bytes is too long", ErrInvalid, n)
		}
		payload, err := dec.readN(n)
		if err != nil {
			return nil, err
		}
		return decodePIDPayload(payload)
	}
	return nil, fmt.Errorf("%w: unknown extension type %d", ErrInvalid, id)
}

// appendKey appends a byte form of v that is equal for two terms exactly
// when Equal reports them equal. Map decoding uses it to find duplicate
// keys in linear time.
func appendKey(buf []byte, v any) []byte {
	switch x := normalize(v).(type) {
	case nil, bool, Atom:
		return appendTagged(buf, 'a', atomName(x))
	case int64:
		return fmt.Appendf(buf, "i%d;", x)
	case float64:
		if x == 0 {
			x = 0 // -0.0 equals 0.0 under Equal
		}
		if math.IsNaN(x) {
			return append(buf, "fNaN;"...)
		}
		return fmt.Appendf(buf, "f%x;", math.Float64bits(x))
	case string:
		return appendTagged(buf, 'b', x)
	case []byte:
		return appendTagged(buf, 'b', string(x))
	case PID:
		buf = appendTagged(buf, 'p', string(x.Node))
		return fmt.Appendf(buf, "%d;", x.ID)
	case List:
		buf = fmt.Appendf(buf, "l%d;", len(x))
		for _, el := range x {
			buf = appendKey(buf, el)
		}
		return buf
	case Tuple:
		buf = fmt.Appendf(buf, "t%d;", len(x))
		for _, el := range x {
			buf = appendKey(buf, el)
		}
		return buf
	case *Map:
		entries := sortedEntries(x, 0)
		buf = fmt.Appendf(buf, "m%d;", len(entries))
		for _, p := range entries {
			buf = appendKey(buf, p.Key)
			buf = appendKey(buf, p.Value)
		}
		return buf
	}
	return fmt.Appendf(buf, "?%T%v;", v, v)
}

func appendTagged(buf []byte, tag byte, s string) []byte {
	buf = fmt.Appendf(buf, "%c%d:", tag, len(s))
	return append(buf, s...)
}
