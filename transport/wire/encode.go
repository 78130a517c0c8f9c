package wire

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// The appenders always pick the shortest form, so equal values encode to
// equal bytes. A length above math.MaxUint32 does not fit msgpack, and the
// header appenders do not check for it, so the caller must.

// UintSize returns the encoded size of v in bytes.
func UintSize(v uint64) int {
	switch {
	case v <= math.MaxInt8:
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

// AppendUint appends v as a positive fixint or uint 8, 16, 32 or 64.
func AppendUint(b []byte, v uint64) []byte {
	switch {
	case v <= math.MaxInt8:
		return append(b, byte(v))
	case v <= math.MaxUint8:
		return append(b, Uint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, Uint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, Uint32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, Uint64), v)
	}
}

// AppendInt appends v as AppendUint does when v >= 0, and otherwise as a
// negative fixint or int 8, 16, 32 or 64.
func AppendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(b, uint64(v))
	case v >= -32:
		return append(b, byte(v))
	case v >= math.MinInt8:
		return append(b, Int8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, Int16), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, Int32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, Int64), uint64(v))
	}
}

// StrHeaderSize returns the size of the header of a str of n bytes.
func StrHeaderSize(n int) int {
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

// AppendStrHeader appends the header of a str of n bytes.
func AppendStrHeader(b []byte, n int) []byte {
	switch {
	case n < 32:
		return append(b, FixStr|byte(n))
	case n <= math.MaxUint8:
		return append(b, Str8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, Str16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, Str32), uint32(n))
	}
}

// AppendStr appends s as a str. It does not check that s is UTF-8.
func AppendStr(b []byte, s string) []byte {
	return append(AppendStrHeader(b, len(s)), s...)
}

// BinHeaderSize returns the size of the header of a bin of n bytes.
func BinHeaderSize(n int) int {
	switch {
	case n <= math.MaxUint8:
		return 2
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

// AppendBinHeader appends the header of a bin of n bytes.
func AppendBinHeader(b []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(b, Bin8, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, Bin16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, Bin32), uint32(n))
	}
}

// ArrayHeaderSize returns the size of the header of an array of n
// elements, which is also the size of a map header of n entries.
func ArrayHeaderSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= math.MaxUint16:
		return 3
	default:
		return 5
	}
}

// AppendArrayHeader appends the header of an array of n elements.
func AppendArrayHeader(b []byte, n int) []byte {
	return appendContainerHeader(b, n, FixArray, Array16)
}

// AppendMapHeader appends the header of a map of n entries.
func AppendMapHeader(b []byte, n int) []byte {
	return appendContainerHeader(b, n, FixMap, Map16)
}

// appendContainerHeader appends an array or map header. fix is the
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

// AppendExtHeader appends the header of an extension of type id with an
// n-byte payload: fixext for n of 1, 2, 4, 8 or 16, else ext 8, 16 or 32.
func AppendExtHeader(b []byte, id int8, n int) []byte {
	switch n {
	case 1, 2, 4, 8, 16:
		b = append(b, FixExt1+byte(bits.TrailingZeros(uint(n))))
	default:
		switch {
		case n <= math.MaxUint8:
			b = append(b, Ext8, byte(n))
		case n <= math.MaxUint16:
			b = binary.BigEndian.AppendUint16(append(b, Ext16), uint16(n))
		default:
			b = binary.BigEndian.AppendUint32(append(b, Ext32), uint32(n))
		}
	}
	return append(b, byte(id))
}
