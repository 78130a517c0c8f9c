// Package wire holds the msgpack primitives shared by the frame and term
// codecs: the format bytes, appenders that pick the shortest form of a
// header or integer, and a decoder that checks every length read from the
// input against the bytes that remain. It imports nothing from this
// module, so that both codecs can import it without a cycle.
package wire

// Format bytes, from the msgpack specification.
const (
	FixMap    = 0x80 // fixmap: 0x80 | entry count, count < 16
	FixArray  = 0x90 // fixarray: 0x90 | element count, count < 16
	FixStr    = 0xa0 // fixstr: 0xa0 | byte length, length < 32
	Nil       = 0xc0
	False     = 0xc2
	True      = 0xc3
	Bin8      = 0xc4
	Bin16     = 0xc5
	Bin32     = 0xc6
	Ext8      = 0xc7
	Ext16     = 0xc8
	Ext32     = 0xc9
	Float32   = 0xca
	Float64   = 0xcb
	Uint8     = 0xcc
	Uint16    = 0xcd
	Uint32    = 0xce
	Uint64    = 0xcf
	Int8      = 0xd0
	Int16     = 0xd1
	Int32     = 0xd2
	Int64     = 0xd3
	FixExt1   = 0xd4 // fixext 1, 2, 4, 8 and 16 are 0xd4..0xd8
	FixExt16  = 0xd8
	Str8      = 0xd9
	Str16     = 0xda
	Str32     = 0xdb
	Array16   = 0xdc
	Array32   = 0xdd
	Map16     = 0xde
	Map32     = 0xdf
	NegFixInt = 0xe0 // negative fixint: 0xe0..0xff are -32..-1
)
