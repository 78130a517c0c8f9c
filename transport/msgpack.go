package transport

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The frame codec encodes and decodes the small msgpack subset that frame
// bodies use by hand, so that encoding a message frame allocates nothing
// and every length read from the wire is checked against the bytes that
// remain. Encoders always pick the shortest form. The decoder accepts every
// form the msgpack specification allows for each field, so frames from
// another msgpack library decode too.

const maxUint32 = math.MaxUint32

// maxSkipDepth bounds the nesting of unknown trailing fields that the
// decoder skips.
const maxSkipDepth = 32

// msgpack format bytes, from the msgpack specification.
const (
	mpNil      = 0xc0
	mpFalse    = 0xc2
	mpTrue     = 0xc3
	mpBin8     = 0xc4
	mpBin16    = 0xc5
	mpBin32    = 0xc6
	mpExt8     = 0xc7
	mpExt16    = 0xc8
	mpExt32    = 0xc9
	mpFloat32  = 0xca
	mpFloat64  = 0xcb
	mpUint8    = 0xcc
	mpUint16   = 0xcd
	mpUint32   = 0xce
	mpUint64   = 0xcf
	mpInt8     = 0xd0
	mpInt16    = 0xd1
	mpInt32    = 0xd2
	mpInt64    = 0xd3
	mpFixExt1  = 0xd4
	mpFixExt16 = 0xd8
	mpStr8     = 0xd9
	mpStr16    = 0xda
	mpStr32    = 0xdb
	mpArray16  = 0xdc
	mpArray32  = 0xdd
	mpMap16    = 0xde
	mpMap32    = 0xdf
)

func uintSize(v uint64) int {
	switch {
	case v < 1<<7:
		return 1
	case v <= math.MaxUint8:
		return 2
	case v <= math.MaxUint16:
		return 3
	case v <= math.MaxUint32:
		return 5
	default:
		return 9
	}
}

func appendUint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, mpUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, mpUint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, mpUint32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, mpUint64), v)
	}
}

func strHeaderSize(n int) int {
	switch {
	case n < 32:
		return 1
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
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

func appendStr(b []byte, s string) []byte {
	return append(appendStrHeader(b, len(s)), s...)
}

func binHeaderSize(n int) int {
	switch {
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
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

// appendArrayHeader supports the fixarray form only, because every frame
// has fewer than 16 fields.
func appendArrayHeader(b []byte, n int) []byte {
	return append(b, 0x90|byte(n))
}

// mpDecoder reads msgpack values from a frame body. Every method checks
// lengths against the bytes that remain before slicing.
type mpDecoder struct {
	b   []byte
	off int
}

func (d *mpDecoder) remaining() int { return len(d.b) - d.off }

func (d *mpDecoder) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformedFrame, d.off, fmt.Sprintf(format, args...))
}

func (d *mpDecoder) readByte() (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.errorf("unexpected end of body")
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

// readN returns the next n bytes without copying them.
func (d *mpDecoder) readN(n uint64) ([]byte, error) {
	if n > uint64(d.remaining()) {
		return nil, d.errorf("length %d exceeds the %d bytes left", n, d.remaining())
	}
	p := d.b[d.off : d.off+int(n)]
	d.off += int(n)
	return p, nil
}

// readBigEndian reads an n-byte big-endian unsigned integer, n in 1..8.
func (d *mpDecoder) readBigEndian(n int) (uint64, error) {
	p, err := d.readN(uint64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range p {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

func (d *mpDecoder) readArrayLen() (int, error) {
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
		return 0, d.errorf("format 0x%02x is not an array", c)
	}
	if err != nil {
		return 0, err
	}
	// Each element takes at least one byte.
	if n > uint64(d.remaining()) {
		return 0, d.errorf("array of %d elements exceeds the %d bytes left", n, d.remaining())
	}
	return int(n), nil
}

// readUint reads a non-negative integer in any msgpack integer form.
func (d *mpDecoder) readUint() (uint64, error) {
	c, err := d.readByte()
	if err != nil {
		return 0, err
	}
	switch {
	case c < 0x80:
		return uint64(c), nil
	case c >= mpUint8 && c <= mpUint64:
		return d.readBigEndian(1 << (c - mpUint8))
	case c >= mpInt8 && c <= mpInt64:
		size := 1 << (c - mpInt8)
		v, err := d.readBigEndian(size)
		if err != nil {
			return 0, err
		}
		if v>>(8*size-1) != 0 {
			return 0, d.errorf("negative integer where a non-negative one is required")
		}
		return v, nil
	case c >= 0xe0:
		return 0, d.errorf("negative integer where a non-negative one is required")
	default:
		return 0, d.errorf("format 0x%02x is not an integer", c)
	}
}

// readBytes reads a str, bin or nil value and returns its bytes without
// copying. nil reads as an empty slice.
func (d *mpDecoder) readBytes() ([]byte, error) {
	c, err := d.readByte()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c == mpStr8 || c == mpBin8:
		n, err = d.readBigEndian(1)
	case c == mpStr16 || c == mpBin16:
		n, err = d.readBigEndian(2)
	case c == mpStr32 || c == mpBin32:
		n, err = d.readBigEndian(4)
	case c == mpNil:
		return nil, nil
	default:
		return nil, d.errorf("format 0x%02x is not a string or binary", c)
	}
	if err != nil {
		return nil, err
	}
	return d.readN(n)
}

// skip reads past one value of any type, so that a frame may carry fields
// that a newer peer appended.
func (d *mpDecoder) skip(depth int) error {
	if depth > maxSkipDepth {
		return d.errorf("value nested deeper than %d", maxSkipDepth)
	}
	c, err := d.readByte()
	if err != nil {
		return err
	}
	var n uint64 // bytes to skip, or elements for containers
	containers := uint64(0)
	switch {
	case c < 0x80 || c >= 0xe0 || c == mpNil || c == mpFalse || c == mpTrue:
		return nil
	case c&0xe0 == 0xa0:
		n = uint64(c & 0x1f)
	case c&0xf0 == 0x90:
		containers = uint64(c & 0x0f)
	case c&0xf0 == 0x80:
		containers = 2 * uint64(c&0x0f)
	case c == mpBin8 || c == mpStr8:
		n, err = d.readBigEndian(1)
	case c == mpBin16 || c == mpStr16:
		n, err = d.readBigEndian(2)
	case c == mpBin32 || c == mpStr32:
		n, err = d.readBigEndian(4)
	case c == mpExt8 || c == mpExt16 || c == mpExt32:
		n, err = d.readBigEndian(1 << (c - mpExt8))
		n++ // the type byte
	case c == mpFloat32:
		n = 4
	case c == mpFloat64:
		n = 8
	case c >= mpUint8 && c <= mpUint64:
		n = 1 << (c - mpUint8)
	case c >= mpInt8 && c <= mpInt64:
		n = 1 << (c - mpInt8)
	case c >= mpFixExt1 && c <= mpFixExt16:
		n = 1 + 1<<(c-mpFixExt1)
	case c == mpArray16 || c == mpArray32:
		containers, err = d.readBigEndian(2 << (c - mpArray16))
	case c == mpMap16 || c == mpMap32:
		containers, err = d.readBigEndian(2 << (c - mpMap16))
		containers *= 2
	default:
		return d.errorf("format 0x%02x is not valid msgpack", c)
	}
	if err != nil {
		return err
	}
	if containers > 0 {
		if containers > uint64(d.remaining()) {
			return d.errorf("container of %d values exceeds the %d bytes left", containers, d.remaining())
		}
		for range containers {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	}
	_, err = d.readN(n)
	return err
}
