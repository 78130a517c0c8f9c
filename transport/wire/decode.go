package wire

import (
	"encoding/binary"
	"fmt"
)

// MaxSkipDepth is the deepest nesting that Skip reads past.
const MaxSkipDepth = 32

// Decoder reads msgpack values from a byte slice. Every method checks a
// length against the bytes that remain before slicing, and every error it
// returns wraps the sentinel given to NewDecoder.
type Decoder struct {
	buf       []byte
	off       int
	malformed error
}

// NewDecoder returns a Decoder that reads b and wraps each of its errors
// around malformed, so callers keep testing errors with their own
// sentinel.
func NewDecoder(b []byte, malformed error) Decoder {
	return Decoder{buf: b, malformed: malformed}
}

// Remaining returns the number of bytes not yet read.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

// Errorf returns an error that wraps the decoder's sentinel and names the
// current byte offset.
func (d *Decoder) Errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", d.malformed, d.off, fmt.Sprintf(format, args...))
}

// ReadByte reads one byte.
func (d *Decoder) ReadByte() (byte, error) {
	if d.off >= len(d.buf) {
		return 0, d.Errorf("unexpected end of input")
	}
	c := d.buf[d.off]
	d.off++
	return c, nil
}

// ReadN returns the next n bytes without copying them.
func (d *Decoder) ReadN(n uint64) ([]byte, error) {
	if n > uint64(d.Remaining()) {
		return nil, d.Errorf("length %d exceeds the %d bytes left", n, d.Remaining())
	}
	p := d.buf[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

// ReadBigEndian reads an unsigned big-endian integer of size 1, 2, 4 or 8
// bytes.
func (d *Decoder) ReadBigEndian(size int) (uint64, error) {
	p, err := d.ReadN(uint64(size))
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

// ReadArrayLen reads an array header, which must come next, and returns
// its element count. It rejects a count above max, and a count above the
// bytes that remain, as each element takes at least one byte.
func (d *Decoder) ReadArrayLen(max int) (int, error) {
	c, err := d.ReadByte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c&0xf0 == FixArray:
		n = uint64(c & 0x0f)
	case c == Array16:
		n, err = d.ReadBigEndian(2)
	case c == Array32:
		n, err = d.ReadBigEndian(4)
	default:
		return 0, d.Errorf("format 0x%02x is not an array", c)
	}
	if err != nil {
		return 0, err
	}
	if n > uint64(max) {
		return 0, d.Errorf("array length %d out of range 0..%d", n, max)
	}
	if n > uint64(d.Remaining()) {
		return 0, d.Errorf("array length %d exceeds the %d bytes left", n, d.Remaining())
	}
	return int(n), nil
}

// ReadUint reads a non-negative integer in any msgpack integer form,
// signed forms included.
func (d *Decoder) ReadUint() (uint64, error) {
	c, err := d.ReadByte()
	if err != nil {
		return 0, err
	}
	switch {
	case c < 0x80:
		return uint64(c), nil
	case c >= Uint8 && c <= Uint64:
		return d.ReadBigEndian(1 << (c - Uint8))
	case c >= Int8 && c <= Int64:
		size := 1 << (c - Int8)
		v, err := d.ReadBigEndian(size)
		if err != nil {
			return 0, err
		}
		if v>>(8*size-1) != 0 {
			return 0, d.Errorf("negative integer where a non-negative one is required")
		}
		return v, nil
	case c >= NegFixInt:
		return 0, d.Errorf("negative integer where a non-negative one is required")
	default:
		return 0, d.Errorf("format 0x%02x is not an integer", c)
	}
}

// ReadBytes reads a str, bin or nil value and returns its bytes without
// copying. nil reads as a nil slice.
func (d *Decoder) ReadBytes() ([]byte, error) {
	c, err := d.ReadByte()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c&0xe0 == FixStr:
		n = uint64(c & 0x1f)
	case c == Str8 || c == Bin8:
		n, err = d.ReadBigEndian(1)
	case c == Str16 || c == Bin16:
		n, err = d.ReadBigEndian(2)
	case c == Str32 || c == Bin32:
		n, err = d.ReadBigEndian(4)
	case c == Nil:
		return nil, nil
	default:
		return nil, d.Errorf("format 0x%02x is not a string or binary", c)
	}
	if err != nil {
		return nil, err
	}
	return d.ReadN(n)
}

// Skip reads past one value of any type, at nesting depth depth (0 for a
// top-level value). It rejects values nested deeper than MaxSkipDepth.
func (d *Decoder) Skip(depth int) error {
	if depth > MaxSkipDepth {
		return d.Errorf("value nested deeper than %d", MaxSkipDepth)
	}
	c, err := d.ReadByte()
	if err != nil {
		return err
	}
	var n uint64 // bytes to skip, or elements for containers
	containers := uint64(0)
	switch {
	case c < 0x80 || c >= NegFixInt || c == Nil || c == False || c == True:
		return nil
	case c&0xe0 == FixStr:
		n = uint64(c & 0x1f)
	case c&0xf0 == FixArray:
		containers = uint64(c & 0x0f)
	case c&0xf0 == FixMap:
		containers = 2 * uint64(c&0x0f)
	case c == Bin8 || c == Str8:
		n, err = d.ReadBigEndian(1)
	case c == Bin16 || c == Str16:
		n, err = d.ReadBigEndian(2)
	case c == Bin32 || c == Str32:
		n, err = d.ReadBigEndian(4)
	case c == Ext8 || c == Ext16 || c == Ext32:
		n, err = d.ReadBigEndian(1 << (c - Ext8))
		n++ // the type byte
	case c == Float32:
		n = 4
	case c == Float64:
		n = 8
	case c >= Uint8 && c <= Uint64:
		n = 1 << (c - Uint8)
	case c >= Int8 && c <= Int64:
		n = 1 << (c - Int8)
	case c >= FixExt1 && c <= FixExt16:
		n = 1 + 1<<(c-FixExt1)
	case c == Array16 || c == Array32:
		containers, err = d.ReadBigEndian(2 << (c - Array16))
	case c == Map16 || c == Map32:
		containers, err = d.ReadBigEndian(2 << (c - Map16))
		containers *= 2
	default:
		return d.Errorf("format 0x%02x is not valid msgpack", c)
	}
	if err != nil {
		return err
	}
	if containers > 0 {
		if containers > uint64(d.Remaining()) {
			return d.Errorf("container of %d values exceeds the %d bytes left", containers, d.Remaining())
		}
		for range containers {
			if err := d.Skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	_, err = d.ReadN(n)
	return err
}
