package term

import (
	"bytes"
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
	var buf bytes.Buffer
	if err := Encode(msgpack.NewEncoder(&buf), v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes exactly one term from b. Trailing bytes are an error.
func Unmarshal(b []byte) (any, error) {
	r := bytes.NewReader(b)
	dec := decoder{d: msgpack.NewDecoder(r), remaining: r.Len}
	v, err := dec.decode(0)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after term", ErrInvalid, r.Len())
	}
	return v, nil
}

// Encode writes v to e as one msgpack value.
func Encode(e *msgpack.Encoder, v any) error {
	return encode(e, v, 0)
}

// Decode reads one term from d. Container counts are checked against
// MaxContainerLen, and buffers grow with the data read rather than with
// the lengths announced, so forged lengths cannot force large allocations.
func Decode(d *msgpack.Decoder) (any, error) {
	dec := decoder{d: d}
	return dec.decode(0)
}

func encode(e *msgpack.Encoder, v any, depth int) error {
	if depth > MaxDepth {
		return ErrTooDeep
	}
	switch x := normalize(v).(type) {
	case nil:
		return e.EncodeNil()
	case bool:
		return e.EncodeBool(x)
	case int64:
		return e.EncodeInt(x)
	case float64:
		return e.EncodeFloat64(x)
	case string:
		if utf8.ValidString(x) {
			return e.EncodeString(x)
		}
		return e.EncodeBytes([]byte(x))
	case []byte:
		if x == nil {
			x = []byte{}
		}
		return e.EncodeBytes(x)
	case Atom:
		return encodeAtom(e, x)
	case List:
		if err := e.EncodeArrayLen(len(x)); err != nil {
			return err
		}
		for _, el := range x {
			if err := encode(e, el, depth+1); err != nil {
				return err
			}
		}
		return nil
	case Tuple:
		return encodeTuple(e, x, depth)
	case *Map:
		return encodeMap(e, x, depth)
	case PID:
		return encodePID(e, x)
	default:
		return fmt.Errorf("encode term: %w: %T", ErrUnsupported, v)
	}
}

func encodeAtom(e *msgpack.Encoder, a Atom) error {
	if !validAtomName(string(a)) {
		return fmt.Errorf("encode atom %q: not UTF-8 or longer than %d characters", string(a), MaxAtomLen)
	}
	return writeExt(e, ExtAtom, []byte(a))
}

func encodeTuple(e *msgpack.Encoder, t Tuple, depth int) error {
	var buf bytes.Buffer
	inner := msgpack.NewEncoder(&buf)
	if err := inner.EncodeArrayLen(len(t)); err != nil {
		return err
	}
	for _, el := range t {
		if err := encode(inner, el, depth+1); err != nil {
			return err
		}
	}
	return writeExt(e, ExtTuple, buf.Bytes())
}

func encodeMap(e *msgpack.Encoder, m *Map, depth int) error {
	if m == nil {
		return e.EncodeMapLen(0)
	}
	if err := e.EncodeMapLen(len(m.Entries)); err != nil {
		return err
	}
	for _, p := range m.Entries {
		if err := encode(e, p.Key, depth+1); err != nil {
			return err
		}
		if err := encode(e, p.Value, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func encodePID(e *msgpack.Encoder, p PID) error {
	if !validAtomName(string(p.Node)) {
		return fmt.Errorf("encode pid node %q: not UTF-8 or longer than %d characters", string(p.Node), MaxAtomLen)
	}
	var buf bytes.Buffer
	inner := msgpack.NewEncoder(&buf)
	if err := inner.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := inner.EncodeString(string(p.Node)); err != nil {
		return err
	}
	if err := inner.EncodeUint(p.ID); err != nil {
		return err
	}
	return writeExt(e, ExtPID, buf.Bytes())
}

func writeExt(e *msgpack.Encoder, id int8, payload []byte) error {
	if err := e.EncodeExtHeader(id, len(payload)); err != nil {
		return err
	}
	_, err := e.Writer().Write(payload)
	return err
}

// decoder reads terms from d. remaining, when set, returns the count of
// input bytes not yet read, which bounds announced lengths.
type decoder struct {
	d         *msgpack.Decoder
	remaining func() int
}

// checkLen rejects a count n of items that each take at least minSize
// bytes when the input cannot hold them.
func (dec *decoder) checkLen(what string, n, minSize, max int) error {
	if n < 0 || n > max {
		return fmt.Errorf("%w: %s length %d out of range 0..%d", ErrInvalid, what, n, max)
	}
	if dec.remaining != nil && n > dec.remaining()/minSize {
		return fmt.Errorf("%w: %s length %d exceeds the %d bytes left", ErrInvalid, what, n, dec.remaining())
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
		if !validAtomName(string(b)) {
			return nil, fmt.Errorf("%w: atom name %q is not UTF-8 or exceeds %d characters", ErrInvalid, b, MaxAtomLen)
		}
		return normalize(Atom(b)), nil
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

func decodeTuplePayload(payload []byte, depth int) (any, error) {
	r := bytes.NewReader(payload)
	inner := decoder{d: msgpack.NewDecoder(r), remaining: r.Len}
	code, err := inner.d.PeekCode()
	if err != nil {
		return nil, truncated(err)
	}
	if !msgpcode.IsFixedArray(code) && code != msgpcode.Array16 && code != msgpcode.Array32 {
		return nil, fmt.Errorf("%w: tuple payload starts with code 0x%02x, not an array", ErrInvalid, code)
	}
	elems, err := inner.decodeArray(depth)
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in tuple payload", ErrInvalid, r.Len())
	}
	return Tuple(elems), nil
}

func decodePIDPayload(payload []byte) (any, error) {
	r := bytes.NewReader(payload)
	d := msgpack.NewDecoder(r)
	n, err := d.DecodeArrayLen()
	if err != nil || n != 2 {
		return nil, fmt.Errorf("%w: pid payload is not a 2-element array", ErrInvalid)
	}
	code, err := d.PeekCode()
	if err != nil || !msgpcode.IsString(code) {
		return nil, fmt.Errorf("%w: pid node is not a string", ErrInvalid)
	}
	node, err := d.DecodeString()
	if err != nil {
		return nil, truncated(err)
	}

	if !validAtomName(node) {
		return nil, fmt.Errorf("%w: pid node %q is not UTF-8 or exceeds %d characters", ErrInvalid, node, MaxAtomLen)
	}
	code, err = d.PeekCode()
	if err != nil || !(msgpcode.IsFixedNum(code) && code <= msgpcode.PosFixedNumHigh ||
		code == msgpcode.Uint8 || code == msgpcode.Uint16 || code == msgpcode.Uint32 || code == msgpcode.Uint64) {
		return nil, fmt.Errorf("%w: pid id is not an unsigned integer", ErrInvalid)
	}
	id, err := d.DecodeUint64()
	if err != nil {
		return nil, truncated(err)
	}

	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes in pid payload", ErrInvalid, r.Len())
	}
	return PID{Node: Atom(node), ID: id}, nil
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
