package term

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"
	"unicode/utf8"
)

// byteDecoder decodes terms from a byte slice, for Unmarshal and for the
// payloads of extensions. It reads lengths straight from the slice and
// checks each one against the bytes that remain, so a forged length fails
// before anything is allocated for it. Every error wraps ErrInvalid or
// ErrTooDeep.
type byteDecoder struct {
	b   []byte
	off int
}

func (d *byteDecoder) remaining() int { return len(d.b) - d.off }

func (d *byteDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrInvalid, d.off, fmt.Sprintf(format, args...))
}

func (d *byteDecoder) readByte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.errorf("truncated input")
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

// readN returns the next n bytes without copying them.
func (d *byteDecoder) readN(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, d.errorf("truncated input: %d bytes wanted, %d left", n, d.remaining())
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

// readBigEndian reads an unsigned big-endian integer of 1, 2, 4 or 8
// bytes.
func (d *byteDecoder) readBigEndian(size int) (uint64, error) {
	p, err := d.readN(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	default:
		return binary.BigEndian.Uint64(p), nil
	}
}

// readLen reads a length of size bytes and checks that the input holds n
// items of at least minSize bytes each.
func (d *byteDecoder) readLen(what string, size, minSize int) (int, error) {
	n, err := d.readBigEndian(size)
	if err != nil {
		return 0, err
	}
	return d.checkLen(what, n, minSize)
}

func (d *byteDecoder) checkLen(what string, n uint64, minSize int) (int, error) {
	if n > uint64(d.remaining()/minSize) {
		return 0, d.errorf("%s length %d exceeds the %d bytes left", what, n, d.remaining())
	}
	return int(n), nil
}

func (d *byteDecoder) decode(depth int) (any, error) {
	c, err := d.readByte()
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
	case mpNil:
		return nil, nil
	case mpFalse:
		return false, nil
	case mpTrue:
		return true, nil
	case mpUint8, mpUint16, mpUint32, mpUint64:
		n, err := d.readBigEndian(1 << (c - mpUint8))
		if err != nil {
			return nil, err
		}
		if n > math.MaxInt64 {
			return nil, d.errorf("integer %d exceeds int64", n)
		}
		return int64(n), nil
	case mpInt8, mpInt16, mpInt32, mpInt64:
		size := 1 << (c - mpInt8)
		n, err := d.readBigEndian(size)
		if err != nil {
			return nil, err
		}
		// Sign-extend from size bytes.
		shift := 64 - 8*size
		return int64(n<<shift) >> shift, nil
	case mpFloat32:
		n, err := d.readBigEndian(4)
		return float64(math.Float32frombits(uint32(n))), err
	case mpFloat64:
		n, err := d.readBigEndian(8)
		return math.Float64frombits(n), err
	case mpStr8, mpBin8, mpStr16, mpBin16, mpStr32, mpBin32:
		n, err := d.readLen("binary", binLenSize(c), 1)
		if err != nil {
			return nil, err
		}
		return d.decodeBinary(n)
	case mpArray16, mpArray32, mpMap16, mpMap32:
		size := 2
		if c == mpArray32 || c == mpMap32 {
			size = 4
		}
		n, err := d.readBigEndian(size)
		if err != nil {
			return nil, err
		}
		if n > MaxContainerLen {
			return nil, d.errorf("container length %d out of range 0..%d", n, MaxContainerLen)
		}
		return d.decodeContainer(c, int(n), depth)
	case mpFixExt1, mpFixExt1 + 1, mpFixExt1 + 2, mpFixExt1 + 3, mpFixExt1 + 4:
		return d.decodeExt(1<<(c-mpFixExt1), depth)
	case mpExt8, mpExt16, mpExt32:
		n, err := d.readBigEndian(1 << (c - mpExt8))
		if err != nil {
			return nil, err
		}
		// The type byte follows the length.
		if n >= uint64(d.remaining()) {
			return nil, d.errorf("extension length %d exceeds the %d bytes left", n, d.remaining())
		}
		return d.decodeExt(int(n), depth)
	}
	return nil, d.errorf("unknown msgpack code 0x%02x", c)
}

// binLenSize returns the size of the length of a str8..32 or bin8..32
// code.
func binLenSize(c byte) int {
	switch c {
	case mpStr8, mpBin8:
		return 1
	case mpStr16, mpBin16:
		return 2
	default:
		return 4
	}
}

// decodeBinary reads a str or bin body of n bytes: a string when it is
// UTF-8, else a copy as []byte.
func (d *byteDecoder) decodeBinary(n int) (any, error) {
	b, err := d.readN(n)
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
	if c&0xf0 == 0x90 || c == mpArray16 || c == mpArray32 {
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
			return nil, d.errorf("duplicate map key %s", Inspect(k))
		}
		seen[string(key)] = struct{}{}
		m.Entries = append(m.Entries, Pair{Key: k, Value: v})
	}
	return m, nil
}

// decodeExt reads the type byte and the n-byte payload of an extension.
func (d *byteDecoder) decodeExt(n, depth int) (any, error) {
	c, err := d.readByte()
	if err != nil {
		return nil, err
	}
	id := int8(c)
	payload, err := d.readN(n)
	if err != nil {
		return nil, err
	}
	switch id {
	case ExtAtom:
		if n > 4*MaxAtomLen {
			return nil, d.errorf("atom of %d bytes exceeds %d characters", n, MaxAtomLen)
		}
		return decodedAtom(payload)
	case ExtTuple:
		if depth >= MaxDepth {
			return nil, ErrTooDeep
		}
		return decodeTuplePayload(payload, depth)
	case ExtPID:
		if n > 64+4*MaxAtomLen {
			return nil, d.errorf("pid payload of %d bytes is too long", n)
		}
		return decodePIDPayload(payload)
	}
	return nil, d.errorf("unknown extension type %d", id)
}

// readArrayLen reads an array header, which must come next.
func (d *byteDecoder) readArrayLen() (int, error) {
	c, err := d.readByte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == 0x90:
		n = uint64(c & 0x0f)
	case c == mpArray16:
		n, err = d.readBigEndian(2)
	case c == mpArray32:
		n, err = d.readBigEndian(4)
	default:
		return 0, d.errorf("code 0x%02x is not an array", c)
	}
	if err != nil {
		return 0, err
	}
	if n > MaxContainerLen {
		return 0, d.errorf("array length %d out of range 0..%d", n, MaxContainerLen)
	}
	return int(n), nil
}

func decodeTuplePayload(payload []byte, depth int) (any, error) {
	inner := byteDecoder{b: payload}
	n, err := inner.readArrayLen()
	if err != nil {
		return nil, fmt.Errorf("tuple payload: %w", err)
	}
	elems, err := inner.decodeElements(n, depth)
	if err != nil {
		return nil, err
	}
	if inner.remaining() != 0 {
		return nil, inner.errorf("%d trailing bytes in tuple payload", inner.remaining())
	}
	return Tuple(elems), nil
}

// decodePIDPayload reads [node str, id uint].
func decodePIDPayload(payload []byte) (any, error) {
	d := byteDecoder{b: payload}
	if n, err := d.readArrayLen(); err != nil || n != 2 {
		return nil, fmt.Errorf("%w: pid payload is not a 2-element array", ErrInvalid)
	}
	c, err := d.readByte()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c&0xe0 == 0xa0:
		n = int(c & 0x1f)
	case c == mpStr8 || c == mpStr16 || c == mpStr32:
		if n, err = d.readLen("pid node", binLenSize(c), 1); err != nil {
			return nil, err
		}
	default:
		return nil, d.errorf("pid node is not a string")
	}
	node, err := d.readN(n)
	if err != nil {
		return nil, err
	}
	if !validAtomName(string(node)) {
		return nil, d.errorf("pid node %q is not UTF-8 or exceeds %d characters", node, MaxAtomLen)
	}
	c, err = d.readByte()
	if err != nil {
		return nil, err
	}
	var id uint64
	switch {
	case c <= 0x7f:
		id = uint64(c)
	case c >= mpUint8 && c <= mpUint64:
		if id, err = d.readBigEndian(1 << (c - mpUint8)); err != nil {
			return nil, err
		}
	default:
		return nil, d.errorf("pid id is not an unsigned integer")
	}
	if d.remaining() != 0 {
		return nil, d.errorf("%d trailing bytes in pid payload", d.remaining())
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
