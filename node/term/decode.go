package term

import (
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gonode/gonode/transport/wire"
)

// byteDecoder decodes terms from a byte slice, for Unmarshal and for the
// payloads of extensions. It reads lengths straight from the slice and
// checks each one against the bytes that remain, so a forged length fails
// before anything is allocated for it. Every error wraps ErrInvalid or
// ErrTooDeep.
type byteDecoder struct {
	wire.Decoder
}

func newByteDecoder(b []byte) byteDecoder {
	return byteDecoder{wire.NewDecoder(b, ErrInvalid)}
}

// readLen reads a length of size bytes and checks that the input holds n
// items of at least minSize bytes each.
func (d *byteDecoder) readLen(what string, size, minSize int) (int, error) {
	n, err := d.ReadBigEndian(size)
	if err != nil {
		return 0, err
	}
	return d.checkLen(what, n, minSize)
}

func (d *byteDecoder) checkLen(what string, n uint64, minSize int) (int, error) {
	if n > uint64(d.Remaining()/minSize) {
		return 0, d.Errorf("%s length %d exceeds the %d bytes left", what, n, d.Remaining())
	}
	return int(n), nil
}

func (d *byteDecoder) decode(depth int) (any, error) {
	c, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c&0xe0 == 0xa0:
		return d.decodeBinary(int(c & 0x1f))
	case c&0xf0 == 0x90, c&0xf0 == 0x80:
		return d.decodeContainer(c, int(c&0x0f), depth)
	}
	switch c {
	case wire.Nil:
		return nil, nil
	case wire.False:
		return false, nil
	case wire.True:
		return true, nil
	case wire.Uint8, wire.Uint16, wire.Uint32, wire.Uint64:
		n, err := d.ReadBigEndian(1 << (c - wire.Uint8))
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt64 {
			return nil, d.Errorf("integer %d exceeds int64", n)
		}
		return int64(n), nil
	case wire.Int8, wire.Int16, wire.Int32, wire.Int64:
		size := 1 << (c - wire.Int8)
		n, err := d.ReadBigEndian(size)
		if err != nil {
			return nil, err
		}
		// Sign-extend from size bytes.
		shift := 64 - 8*size
		return int64(n<<shift) >> shift, nil
	case wire.Float32:
		n, err := d.ReadBigEndian(4)
		return float64(math.Float32frombits(uint32(n))), err
	case wire.Float64:
		n, err := d.ReadBigEndian(8)
		return math.Float64frombits(n), err
	case wire.Str8, wire.Bin8, wire.Str16, wire.Bin16, wire.Str32, wire.Bin32:
		n, err := d.readLen("binary", binLenSize(c), 1)
		if err != nil {
			return nil, err
		}
		return d.decodeBinary(n)
	case wire.Array16, wire.Array32, wire.Map16, wire.Map32:
		size := 2
		if c == wire.Array32 || c == wire.Map32 {
			size = 4
		}
		n, err := d.ReadBigEndian(size)
		if err != nil {
			return nil, err
		}
		if n > MaxContainerLen {
			return nil, d.Errorf("container length %d out of range 0..%d", n, MaxContainerLen)
		}
		return d.decodeContainer(c, int(n), depth)
	case wire.FixExt1, wire.FixExt1 + 1, wire.FixExt1 + 2, wire.FixExt1 + 3, wire.FixExt1 + 4:
		return d.decodeExt(1<<(c-wire.FixExt1), depth)
	case wire.Ext8, wire.Ext16, wire.Ext32:
		n, err := d.ReadBigEndian(1 << (c - wire.Ext8))
		if err != nil {
			return nil, err
		}
		// The type byte follows the length.
		if n >= uint64(d.Remaining()) {
			return nil, d.Errorf("extension length %d exceeds the %d bytes left", n, d.Remaining())
		}
		return d.decodeExt(int(n), depth)
	}
	return nil, d.Errorf("unknown msgpack code 0x%02x", c)
}

// binLenSize returns the size of the length of a str8..32 or bin8..32
// code.
func binLenSize(c byte) int {
	switch c {
	case wire.Str8, wire.Bin8:
		return 1
	case wire.Str16, wire.Bin16:
		return 2
	default:
		return 4
	}
}

// decodeBinary reads a str or bin body of n bytes: a string when it is
// UTF-8, else a copy as []byte.
func (d *byteDecoder) decodeBinary(n int) (any, error) {
	b, err := d.ReadN(uint64(n))
	if err != nil {
		return nil, err
	}
	if utf8.Valid(b) {
		return string(b), nil
	}
	return append([]byte{}, b...), nil
}

// decodeContainer reads the n elements of an array or the n entries of a
// map, whose format byte is c.
func (d *byteDecoder) decodeContainer(c byte, n, depth int) (any, error) {
	if depth >= MaxDepth {
		return nil, ErrTooDeep
	}
	if c&0xf0 == 0x90 || c == wire.Array16 || c == wire.Array32 {
		elems, err := d.decodeElements(n, depth)
		if err != nil {
			return nil, err
		}
		return List(elems), nil
	}
	return d.decodeMap(n, depth)
}

func (d *byteDecoder) decodeElements(n, depth int) ([]any, error) {
	if _, err := d.checkLen("array", uint64(n), 1); err != nil {
		return nil, err
	}
	elems := make([]any, n)
	for i := range elems {
		v, err := d.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		elems[i] = v
	}
	return elems, nil
}

func (d *byteDecoder) decodeMap(n, depth int) (*Map, error) {
	if _, err := d.checkLen("map", uint64(n), 2); err != nil {
		return nil, err
	}
	m := &Map{Entries: make([]Pair, 0, n)}
	seen := make(map[string]struct{}, n)
	var key []byte
	for range n {
		k, err := d.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		v, err := d.decode(depth + 1)
		if err != nil {
			return nil, err
		}
		key = appendKey(key[:0], k)
		if _, dup := seen[string(key)]; dup {
			return nil, d.Errorf("duplicate map key %s", Inspect(k))
		}
		seen[string(key)] = struct{}{}
		m.Entries = append(m.Entries, Pair{Key: k, Value: v})
	}
	return m, nil
}

// decodeExt reads the type byte and the n-byte payload of an extension.
func (d *byteDecoder) decodeExt(n, depth int) (any, error) {
	c, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	id := int8(c)
	payload, err := d.ReadN(uint64(n))
	if err != nil {
		return nil, err
	}
	switch id {
	case ExtAtom:
		if n > 4*MaxAtomLen {
			return nil, d.Errorf("atom of %d bytes exceeds %d characters", n, MaxAtomLen)
		}
		return decodedAtom(payload)
	case ExtTuple:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		return decodeTuplePayload(payload, depth)
	case ExtPID:
		if n > 64+4*MaxAtomLen {
			return nil, d.Errorf("pid payload of %d bytes is too long", n)
		}
		return decodePIDPayload(payload)
	}
	return nil, d.Errorf("unknown extension type %d", id)
}

// readArrayLen reads an array header, which must come next.
func (d *byteDecoder) readArrayLen() (int, error) {
	return d.ReadArrayLen(MaxContainerLen)
}

func decodeTuplePayload(payload []byte, depth int) (any, error) {
	inner := newByteDecoder(payload)
	n, err := inner.readArrayLen()
	if err != nil {
		return nil, fmt.Errorf("tuple payload: %w", err)
	}
	elems, err := inner.decodeElements(n, depth)
	if err != nil {
		return nil, err
	}
	if inner.Remaining() != 0 {
		return nil, inner.Errorf("%d trailing bytes in tuple payload", inner.Remaining())
	}
	return Tuple(elems), nil
}

// decodePIDPayload reads [node str, id uint].
func decodePIDPayload(payload []byte) (any, error) {
	d := newByteDecoder(payload)
	if n, err := d.readArrayLen(); err != nil || n != 2 {
		return nil, fmt.Errorf("%w: pid payload is not a 2-element array", ErrInvalid)
	}
	c, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == wire.Str8 || c == wire.Str16 || c == wire.Str32:
		if n, err = d.readLen("pid node", binLenSize(c), 1); err != nil {
			return nil, err
		}
	default:
		return nil, d.Errorf("pid node is not a string")
	}
	node, err := d.ReadN(uint64(n))
	if err != nil {
		return nil, err
	}
	if !validAtomName(string(node)) {
		return nil, d.Errorf("pid node %q is not UTF-8 or exceeds %d characters", node, MaxAtomLen)
	}
	c, err = d.ReadByte()
	if err != nil {
		return nil, err
	}
	var id uint64
	switch {
	case c <= 0x7f:
		id = uint64(c)
	case c >= wire.Uint8 && c <= wire.Uint64:
		if id, err = d.ReadBigEndian(1 << (c - wire.Uint8)); err != nil {
			return nil, err
		}
	default:
		return nil, d.Errorf("pid id is not an unsigned integer")
	}
	if d.Remaining() != 0 {
		return nil, d.Errorf("%d trailing bytes in pid payload", d.Remaining())
	}
	return PID{Node: Atom(node), ID: id}, nil
}

// atomCache holds recently decoded atoms, already boxed, so that a stream
// of messages that repeat a few atoms does not allocate for them. A slot
// is picked by a hash of the name, and a new atom replaces the one there.
var (
	atomCache [256]atomic.Pointer[cachedAtom]
	atomSeed  = maphash.MakeSeed()
)

type cachedAtom struct {
	name string
	term any // the atom, or true, false or nil for those names
}

// decodedAtom checks an atom name read from the wire and returns its
// term.
func decodedAtom(name []byte) (any, error) {
	slot := &atomCache[maphash.Bytes(atomSeed, name)%uint64(len(atomCache))]
	if c := slot.Load(); c != nil && c.name == string(name) {
		return c.term, nil
	}
	if !validAtomName(string(name)) {
		return nil, fmt.Errorf("%w: atom name %q is not UTF-8 or exceeds %d characters", ErrInvalid, name, MaxAtomLen)
	}
	c := &cachedAtom{name: string(name)}
	c.term = normalize(Atom(c.name))
	slot.Store(c)
	return c.term, nil
}
