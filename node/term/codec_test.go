package term

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestMarshalWireBytes(t *testing.T) {
	tests := []struct {
		in   any
		want string // hex
	}{
		{nil, "c0"},
		{true, "c3"},
		{Atom("false"), "c2"},
		{Atom("nil"), "c0"},
		{int64(1), "01"},
		{-1, "ff"},
		{int64(300), "cd012c"},
		{1.5, "cb3ff8000000000000"},
		{"hi", "a26869"},
		{"\xff", "c401ff"},
		{[]byte("hi"), "c4026869"},
		{List{1, 2}, "920102"},
		{NewMap(Pair{"k", 1}), "81a16b01"},
		{Atom("ok"), "d5016f6b"},
		{Atom(""), "c70001"},
		{Tuple{Atom("a"), 1}, "c70502" + "92" + "d40161" + "01"},
		{PID{Node: "a@vm", ID: 7}, "c70703" + "92" + "a46140766d" + "07"},
	}
	for _, tt := range tests {
		b, err := Marshal(tt.in)
		if err != nil {
			t.Errorf("Marshal(%#v) error: %v", tt.in, err)
			continue
		}
		if got := hex.EncodeToString(b); got != tt.want {
			t.Errorf("Marshal(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	terms := []any{
		nil, true, false, int64(0), int64(math.MinInt64), int64(math.MaxInt64),
		0.1, math.Inf(-1), "", "日本", []byte{0xff, 0}, Atom("ok"), Atom("piyo@vm"),
		Atom(strings.Repeat("é", MaxAtomLen)), List{}, Tuple{}, NewMap(),
		Tuple{Atom("hi"), "from a", List{1, 2.5, Tuple{}}},
		NewMap(Pair{Atom("a"), 1}, Pair{"k", NewMap(Pair{Tuple{1}, List{}})}),
		PID{Node: "b@vm", ID: math.MaxUint64},
	}
	for _, v := range terms {
		b, err := Marshal(v)
		if err != nil {
			t.Errorf("Marshal(%s): %v", Inspect(v), err)
			continue
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Errorf("Unmarshal(Marshal(%s)): %v", Inspect(v), err)
			continue
		}
		if !Equal(got, v) {
			t.Errorf("Unmarshal(Marshal(%s)) = %s", Inspect(v), Inspect(got))
		}
	}
}

func TestUnmarshalTypes(t *testing.T) {
	tests := []struct {
		hex  string
		want any
	}{
		{"c3", true},
		{"cc ff", int64(255)},
		{"cf 7fffffffffffffff", int64(math.MaxInt64)},
		{"d0 80", int64(-128)},
		{"ca 3fc00000", 1.5},
		{"a1 61", "a"},
		{"c4 01 61", "a"},
		{"c4 01 ff", []byte{0xff}},
		{"d4 01 61", Atom("a")},
		{"d6 01 74727565", true},
		{"d5 01 6f6b", Atom("ok")},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(strings.ReplaceAll(tt.hex, " ", ""))
		got, err := Unmarshal(b)
		if err != nil {
			t.Errorf("Unmarshal(%s) error: %v", tt.hex, err)
			continue
		}
		if !Equal(got, tt.want) {
			t.Errorf("Unmarshal(%s) = %#v, want %#v", tt.hex, got, tt.want)
		}
		if _, isBytes := tt.want.([]byte); isBytes {
			if _, ok := got.([]byte); !ok {
				t.Errorf("Unmarshal(%s) = %T, want []byte", tt.hex, got)
			}
		}
	}
}

func TestUnmarshalInvalid(t *testing.T) {
	deep := strings.Repeat("91", MaxDepth+1) + "c0"
	tests := []struct {
		name string
		hex  string
	}{
		{"empty", ""},
		{"trailing bytes", "c0c0"},
		{"reserved code", "c1"},
		{"truncated str", "a3 6162"},
		{"truncated int", "cd 01"},
		{"uint64 over int64", "cf ffffffffffffffff"},
		{"forged array length", "dd ffffffff"},
		{"forged map length", "df 7fffffff"},
		{"forged str length", "db ffffffff 61"},
		{"forged ext length", "c9 ffffffff 02"},
		{"array past input", "93 01 02"},
		{"nested too deep", deep},
		{"unknown extension", "d4 09 00"},
		{"atom not utf8", "d4 01 ff"},
		{"atom too long", "c9 00000400 01" + strings.Repeat("61", 1024)},
		{"tuple payload not array", "d4 02 01"},
		{"tuple payload trailing", "d5 02 90 c0"},
		{"tuple payload truncated", "d4 02 91"},
		{"pid wrong arity", "d4 03 90"},
		{"pid node not string", "c7 03 03 92 01 01"},
		{"pid negative id", "c7 04 03 92 a0 ff"},
		{"duplicate map key", "82 01 c0 01 c0"},
		{"duplicate key str and bin", "82 a1 61 c0 c4 01 61 c0"},
	}
	for _, tt := range tests {
		b, err := hex.DecodeString(strings.ReplaceAll(tt.hex, " ", ""))
		if err != nil {
			t.Fatalf("%s: bad hex: %v", tt.name, err)
		}
		if _, err := Unmarshal(b); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", tt.name)
		}
	}
}

func TestUnmarshalTooDeep(t *testing.T) {
	b := bytes.Repeat([]byte{0x91}, MaxDepth+1)
	b = append(b, 0xc0)
	if _, err := Unmarshal(b); !errors.Is(err, ErrTooDeep) {
		t.Errorf("Unmarshal(%d nested lists) error = %v, want ErrTooDeep", MaxDepth+1, err)
	}
	ok := append(bytes.Repeat([]byte{0x91}, MaxDepth), 0xc0)
	if _, err := Unmarshal(ok); err != nil {
		t.Errorf("Unmarshal(%d nested lists) error = %v, want nil", MaxDepth, err)
	}
}

func TestMarshalErrors(t *testing.T) {
	cyclic := List{nil}
	cyclic[0] = cyclic
	tests := []struct {
		name string
		in   any
		want error
	}{
		{"channel", make(chan int), ErrUnsupported},
		{"uint64 over int64", uint64(math.MaxUint64), ErrUnsupported},
		{"cyclic list", cyclic, ErrTooDeep},
	}
	for _, tt := range tests {
		if _, err := Marshal(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("Marshal(%s) error = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, err := Marshal(Atom("\xff")); err == nil {
		t.Error("Marshal(Atom(\"\\xff\")) succeeded, want an error")
	}
}

// TestDecodeStream reads several terms from one msgpack stream through
// Decode, the form the transport uses.
func TestDecodeStream(t *testing.T) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	in := []any{Atom("a"), Tuple{1, "x"}, NewMap(Pair{Atom("k"), List{}})}
	for _, v := range in {
		if err := Encode(enc, v); err != nil {
			t.Fatal(err)
		}
	}
	dec := msgpack.NewDecoder(&buf)
	for _, want := range in {
		got, err := Decode(dec)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !Equal(got, want) {
			t.Errorf("Decode = %s, want %s", Inspect(got), Inspect(want))
		}
	}
	if _, err := Decode(dec); err == nil {
		t.Error("Decode at end of stream succeeded, want an error")
	}
}

// TestDecodeForgedLength checks that Decode, which cannot see the input
// length, still rejects a forged length without allocating it up front.
func TestDecodeForgedLength(t *testing.T) {
	for _, h := range []string{"dbffffffff61", "c9ffffffff02", "ddffffffff"} {
		b, _ := hex.DecodeString(h)
		allocs := testing.AllocsPerRun(5, func() {
			_, _ = Decode(msgpack.NewDecoder(bytes.NewReader(b)))
		})
		if _, err := Decode(msgpack.NewDecoder(bytes.NewReader(b))); err == nil {
			t.Errorf("Decode(%s) succeeded, want an error", h)
		}
		if allocs > 50 {
			t.Errorf("Decode(%s) made %.0f allocations", h, allocs)
		}
	}
}

func TestEqualAndCompare(t *testing.T) {
	tests := []struct {
		a, b any
		want int
	}{
		{int64(1), 1.0, -1},
		{1.0, int64(1), 1},
		{int64(1), 1.5, -1},
		{int64(2), 1.5, 1},
		{int64(math.MaxInt64), 0x1p63, -1},
		{int64(1), Atom("a"), -1},
		{Atom("a"), PID{}, -1},
		{PID{}, Tuple{}, -1},
		{Tuple{1, 2}, NewMap(), -1},
		{NewMap(), List{}, -1},
		{List{}, "", -1},
		{Tuple{9}, Tuple{1, 1}, -1},
		{List{1, 2}, List{1, 2, 3}, -1},
		{"a", []byte("a"), 0},
		{"ab", "b", -1},
		{Atom("false"), false, 0},
		{false, nil, -1},
		{nil, true, -1},
		{3, int64(3), 0},
		{[]any{1}, List{int64(1)}, 0},
		{NewMap(Pair{1, 2}, Pair{3, 4}), NewMap(Pair{3, 4}, Pair{1, 2}), 0},
		{NewMap(Pair{1, 2}), NewMap(Pair{1, 3}), -1},
		{NewMap(Pair{2.0, 0}), NewMap(Pair{int64(5), 0}), 1},
		{math.NaN(), math.NaN(), 0},
		{0.0, math.Copysign(0, -1), 0},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", Inspect(tt.a), Inspect(tt.b), got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", Inspect(tt.b), Inspect(tt.a), got, -tt.want)
		}
		if got := Equal(tt.a, tt.b); got != (tt.want == 0) {
			t.Errorf("Equal(%s, %s) = %v, want %v", Inspect(tt.a), Inspect(tt.b), got, tt.want == 0)
		}
	}
}

func TestMapGetPut(t *testing.T) {
	m := NewMap(Pair{Atom("a"), 1}, Pair{1, "int"}, Pair{Atom("a"), 2})
	if m.Len() != 2 {
		t.Fatalf("Len = %d, want 2", m.Len())
	}
	if v, ok := m.Get(Atom("a")); !ok || !Equal(v, 2) {
		t.Errorf("Get(:a) = %v, %v, want 2, true", v, ok)
	}
	if _, ok := m.Get(1.0); ok {
		t.Error("Get(1.0) found the key 1")
	}
	m.Put(1.0, "float")
	if m.Len() != 3 {
		t.Errorf("Len after Put(1.0) = %d, want 3", m.Len())
	}
	var nilMap *Map
	if _, ok := nilMap.Get(1); ok {
		t.Error("nil map Get found a key")
	}
}

// TestMarshalMatchesMsgpack checks the hand-written encoder against the
// msgpack library at every length and integer boundary where the form
// changes.
func TestMarshalMatchesMsgpack(t *testing.T) {
	ints := []int64{0, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	for _, n := range ints {
		checkSameAsMsgpack(t, n, n)
	}
	checkSameAsMsgpack(t, 2.5, 2.5)
	for _, size := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		s := strings.Repeat("a", size)
		checkSameAsMsgpack(t, s, s)
		checkSameAsMsgpack(t, []byte(s), []byte(s))
	}
	for _, size := range []int{0, 15, 16, 65535, 65536} {
		list := make(List, size)
		checkSameAsMsgpack(t, list, []any(list))
		m := &Map{}
		want := make(map[int64]any, size)
		for i := range min(size, 70000) {
			m.Entries = append(m.Entries, Pair{int64(i), nil})
			want[int64(i)] = nil
		}
		checkSameHeader(t, m, want)
	}
}

// checkSameHeader compares the map header and the total size, because
// the msgpack library orders the keys differently.
func checkSameHeader(t *testing.T, m *Map, ref map[int64]any) {
	t.Helper()
	got, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceMsgpack(t, ref)
	header := 1
	switch want[0] {
	case 0xde:
		header = 3
	case 0xdf:
		header = 5
	}
	if !bytes.Equal(got[:header], want[:header]) || len(got) != len(want) {
		t.Errorf("Marshal(map of %d entries) = %x... (%d bytes), msgpack has %x... (%d bytes)", m.Len(), got[:header], len(got), want[:header], len(want))
	}
}

func checkSameAsMsgpack(t *testing.T, v, ref any) {
	t.Helper()
	got, err := Marshal(v)
	if err != nil {
		t.Fatalf("Marshal(%T of %.20s): %v", v, Inspect(v), err)
	}
	want := referenceMsgpack(t, ref)
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal(%T of %.20s) = %x..., msgpack has %x...", v, Inspect(v), got[:min(len(got), 8)], want[:min(len(want), 8)])
	}
}

// referenceMsgpack encodes v with the msgpack library, set up to pick the
// shortest integer forms as Marshal does.
func referenceMsgpack(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMarshalExtHeaders checks the extension header at each length where
// its form changes, and that the payload follows it intact.
func TestMarshalExtHeaders(t *testing.T) {
	tests := []struct {
		payload int // bytes of the tuple payload
		header  string
	}{
		{1, "d402"}, {2, "d502"}, {3, "c70302"}, {4, "d602"}, {8, "d702"}, {16, "d802"},
		{17, "c71102"}, {255, "c7ff02"}, {256, "c8010002"}, {65536, "c90001000002"},
	}
	for _, tt := range tests {
		// A tuple of nothing takes 1 byte (the array header), and one of a
		// string takes 1 byte, the string header and the string.
		in := Tuple{}
		switch n := tt.payload - 1; {
		case n == 0:
		case n <= 32:
			in = Tuple{strings.Repeat("x", n-1)}
		case n <= 257:
			in = Tuple{strings.Repeat("x", n-2)}
		default:
			in = Tuple{strings.Repeat("x", n-3)}
		}
		b, err := Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(b[:len(tt.header)/2]); got != tt.header {
			t.Errorf("tuple payload of %d bytes: header %s, want %s", tt.payload, got, tt.header)
		}
		if len(b) != len(tt.header)/2+tt.payload {
			t.Errorf("tuple payload of %d bytes: encoded %d bytes, want %d", tt.payload, len(b), len(tt.header)/2+tt.payload)
		}
		back, err := Unmarshal(b)
		if err != nil || !Equal(back, in) {
			t.Errorf("tuple payload of %d bytes: Unmarshal = %v, %v", tt.payload, back != nil, err)
		}
	}
}
