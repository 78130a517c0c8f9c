package wire

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

var errTest = errors.New("test sentinel")

func TestAppendUintForms(t *testing.T) {
	tests := []struct {
		v    uint64
		want []byte
	}{
		{0, []byte{0x00}},
		{127, []byte{0x7f}},
		{128, []byte{Uint8, 0x80}},
		{255, []byte{Uint8, 0xff}},
		{256, []byte{Uint16, 0x01, 0x00}},
		{math.MaxUint16, []byte{Uint16, 0xff, 0xff}},
		{math.MaxUint16 + 1, []byte{Uint32, 0x00, 0x01, 0x00, 0x00}},
		{math.MaxUint32, []byte{Uint32, 0xff, 0xff, 0xff, 0xff}},
		{math.MaxUint32 + 1, []byte{Uint64, 0, 0, 0, 1, 0, 0, 0, 0}},
		{math.MaxUint64, []byte{Uint64, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
	}
	for _, tt := range tests {
		got := AppendUint(nil, tt.v)
		if !bytes.Equal(got, tt.want) {
			t.Errorf("AppendUint(%d) = % x, want % x", tt.v, got, tt.want)
		}
		if n := UintSize(tt.v); n != len(tt.want) {
			t.Errorf("UintSize(%d) = %d, want %d", tt.v, n, len(tt.want))
		}
		d := NewDecoder(got, errTest)
		v, err := d.ReadUint()
		if err != nil || v != tt.v {
			t.Errorf("ReadUint(% x) = %d, %v, want %d", got, v, err, tt.v)
		}
	}
}

func TestAppendIntForms(t *testing.T) {
	tests := []struct {
		v    int64
		want []byte
	}{
		{5, []byte{0x05}},
		{200, []byte{Uint8, 200}},
		{-1, []byte{0xff}},
		{-32, []byte{0xe0}},
		{-33, []byte{Int8, 0xdf}},
		{math.MinInt8, []byte{Int8, 0x80}},
		{math.MinInt8 - 1, []byte{Int16, 0xff, 0x7f}},
		{math.MinInt16, []byte{Int16, 0x80, 0x00}},
		{math.MinInt16 - 1, []byte{Int32, 0xff, 0xff, 0x7f, 0xff}},
		{math.MinInt32, []byte{Int32, 0x80, 0, 0, 0}},
		{math.MinInt32 - 1, []byte{Int64, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}},
		{math.MinInt64, []byte{Int64, 0x80, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if got := AppendInt(nil, tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendInt(%d) = % x, want % x", tt.v, got, tt.want)
		}
	}
}

func TestAppendStrAndBinHeaders(t *testing.T) {
	tests := []struct {
		n       int
		wantStr []byte
		wantBin []byte
	}{
		{0, []byte{FixStr}, []byte{Bin8, 0}},
		{31, []byte{FixStr | 31}, []byte{Bin8, 31}},
		{32, []byte{Str8, 32}, []byte{Bin8, 32}},
		{255, []byte{Str8, 255}, []byte{Bin8, 255}},
		{256, []byte{Str16, 1, 0}, []byte{Bin16, 1, 0}},
		{math.MaxUint16, []byte{Str16, 0xff, 0xff}, []byte{Bin16, 0xff, 0xff}},
		{math.MaxUint16 + 1, []byte{Str32, 0, 1, 0, 0}, []byte{Bin32, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		if got := AppendStrHeader(nil, tt.n); !bytes.Equal(got, tt.wantStr) {
			t.Errorf("AppendStrHeader(%d) = % x, want % x", tt.n, got, tt.wantStr)
		}
		if got := StrHeaderSize(tt.n); got != len(tt.wantStr) {
			t.Errorf("StrHeaderSize(%d) = %d, want %d", tt.n, got, len(tt.wantStr))
		}
		if got := AppendBinHeader(nil, tt.n); !bytes.Equal(got, tt.wantBin) {
			t.Errorf("AppendBinHeader(%d) = % x, want % x", tt.n, got, tt.wantBin)
		}
		if got := BinHeaderSize(tt.n); got != len(tt.wantBin) {
			t.Errorf("BinHeaderSize(%d) = %d, want %d", tt.n, got, len(tt.wantBin))
		}
	}
}

func TestAppendContainerHeaders(t *testing.T) {
	tests := []struct {
		n         int
		wantArray []byte
		wantMap   []byte
	}{
		{0, []byte{FixArray}, []byte{FixMap}},
		{15, []byte{FixArray | 15}, []byte{FixMap | 15}},
		{16, []byte{Array16, 0, 16}, []byte{Map16, 0, 16}},
		{math.MaxUint16, []byte{Array16, 0xff, 0xff}, []byte{Map16, 0xff, 0xff}},
		{math.MaxUint16 + 1, []byte{Array32, 0, 1, 0, 0}, []byte{Map32, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		if got := AppendArrayHeader(nil, tt.n); !bytes.Equal(got, tt.wantArray) {
			t.Errorf("AppendArrayHeader(%d) = % x, want % x", tt.n, got, tt.wantArray)
		}
		if got := AppendMapHeader(nil, tt.n); !bytes.Equal(got, tt.wantMap) {
			t.Errorf("AppendMapHeader(%d) = % x, want % x", tt.n, got, tt.wantMap)
		}
		if got := ArrayHeaderSize(tt.n); got != len(tt.wantArray) {
			t.Errorf("ArrayHeaderSize(%d) = %d, want %d", tt.n, got, len(tt.wantArray))
		}
	}
}

func TestAppendExtHeader(t *testing.T) {
	tests := []struct {
		n    int
		want []byte
	}{
		{1, []byte{FixExt1, 7}},
		{2, []byte{0xd5, 7}},
		{4, []byte{0xd6, 7}},
		{8, []byte{0xd7, 7}},
		{16, []byte{FixExt16, 7}},
		{0, []byte{Ext8, 0, 7}},
		{3, []byte{Ext8, 3, 7}},
		{255, []byte{Ext8, 255, 7}},
		{256, []byte{Ext16, 1, 0, 7}},
		{math.MaxUint16 + 1, []byte{Ext32, 0, 1, 0, 0, 7}},
	}
	for _, tt := range tests {
		if got := AppendExtHeader(nil, 7, tt.n); !bytes.Equal(got, tt.want) {
			t.Errorf("AppendExtHeader(7, %d) = % x, want % x", tt.n, got, tt.want)
		}
	}
}

func TestReadUintRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "unexpected end of input"},
		{"negative fixint", []byte{0xff}, "negative integer"},
		{"negative int8", []byte{Int8, 0x80}, "negative integer"},
		{"string", []byte{FixStr | 1, 'x'}, "is not an integer"},
		{"truncated uint32", []byte{Uint32, 0, 0}, "length 4 exceeds the 2 bytes left"},
	}
	for _, tt := range tests {
		d := NewDecoder(tt.in, errTest)
		_, err := d.ReadUint()
		if !errors.Is(err, errTest) {
			t.Errorf("%s: error %v does not wrap the sentinel", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestReadUintSignedForm(t *testing.T) {
	d := NewDecoder([]byte{Int16, 0x01, 0x02}, errTest)
	v, err := d.ReadUint()
	if err != nil || v != 0x0102 {
		t.Fatalf("ReadUint = %d, %v, want 258", v, err)
	}
}

func TestReadBytes(t *testing.T) {
	long := strings.Repeat("y", 300)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", []byte{Nil}, ""},
		{"fixstr", []byte{FixStr | 2, 'h', 'i'}, "hi"},
		{"str8", append([]byte{Str8, 3}, "abc"...), "abc"},
		{"bin16", append([]byte{Bin16, 0x01, 0x2c}, long...), long},
		{"str32", append([]byte{Str32, 0, 0, 0, 1}, 'z'), "z"},
	}
	for _, tt := range tests {
		d := NewDecoder(tt.in, errTest)
		got, err := d.ReadBytes()
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
		if d.Remaining() != 0 {
			t.Errorf("%s: %d bytes left", tt.name, d.Remaining())
		}
	}
}

func TestReadBytesForgedLength(t *testing.T) {
	d := NewDecoder([]byte{Bin32, 0x7f, 0xff, 0xff, 0xff, 'x'}, errTest)
	if _, err := d.ReadBytes(); !errors.Is(err, errTest) {
		t.Fatalf("error %v, want one that wraps the sentinel", err)
	}
}

func TestReadArrayLen(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		max     int
		want    int
		wantErr string
	}{
		{"fixarray", []byte{FixArray | 2, 1, 2}, 10, 2, ""},
		{"array16", append([]byte{Array16, 0, 16}, make([]byte, 16)...), 100, 16, ""},
		{"above max", []byte{FixArray | 3, 1, 2, 3}, 2, 0, "array length 3 out of range 0..2"},
		{"beyond input", []byte{Array32, 0, 0, 1, 0, 1}, math.MaxInt, 0, "array length 256 exceeds the 1 bytes left"},
		{"not an array", []byte{FixMap}, 10, 0, "format 0x80 is not an array"},
	}
	for _, tt := range tests {
		d := NewDecoder(tt.in, errTest)
		n, err := d.ReadArrayLen(tt.max)
		if tt.wantErr == "" {
			if err != nil || n != tt.want {
				t.Errorf("%s: got %d, %v, want %d", tt.name, n, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestSkipEveryForm(t *testing.T) {
	values := [][]byte{
		{0x05}, {0xff}, {Nil}, {True}, {False},
		{FixStr | 1, 'a'},
		{Str8, 1, 'a'}, {Bin16, 0, 1, 'a'}, {Bin32, 0, 0, 0, 1, 'a'},
		{Float32, 0, 0, 0, 0}, {Float64, 0, 0, 0, 0, 0, 0, 0, 0},
		{Uint16, 1, 2}, {Int64, 0, 0, 0, 0, 0, 0, 0, 1},
		{FixExt1, 1, 'a'}, {FixExt16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		{Ext8, 2, 1, 'a', 'b'}, {Ext16, 0, 1, 1, 'a'},
		{FixArray | 2, 1, 2}, {Array16, 0, 1, Nil},
		{FixMap | 1, 1, 2}, {Map32, 0, 0, 0, 1, FixStr | 1, 'k', FixArray},
	}
	for _, v := range values {
		// A trailing marker byte checks that Skip stops at the value's end.
		d := NewDecoder(append(append([]byte{}, v...), 0x2a), errTest)
		if err := d.Skip(0); err != nil {
			t.Errorf("Skip(% x): %v", v, err)
			continue
		}
		if c, err := d.ReadByte(); err != nil || c != 0x2a {
			t.Errorf("Skip(% x) stopped at the wrong byte: %#x, %v", v, c, err)
		}
	}
}

func TestSkipRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"reserved format", []byte{0xc1}, "is not valid msgpack"},
		{"too deep", bytes.Repeat([]byte{FixArray | 1}, MaxSkipDepth+2), "nested deeper than"},
		{"map beyond input", []byte{Map32, 0, 0, 0, 9, 1}, "container of 18 values exceeds the 1 bytes left"},
		{"truncated str", []byte{Str8, 5, 'a'}, "length 5 exceeds the 1 bytes left"},
	}
	for _, tt := range tests {
		d := NewDecoder(tt.in, errTest)
		err := d.Skip(0)
		if !errors.Is(err, errTest) {
			t.Errorf("%s: error %v does not wrap the sentinel", tt.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestErrorfNamesOffset(t *testing.T) {
	d := NewDecoder([]byte{1, 2}, errTest)
	if _, err := d.ReadN(1); err != nil {
		t.Fatal(err)
	}
	err := d.Errorf("bad %s", "thing")
	if got, want := err.Error(), "test sentinel: at byte 1: bad thing"; got != want {
		t.Fatalf("Errorf = %q, want %q", got, want)
	}
}
