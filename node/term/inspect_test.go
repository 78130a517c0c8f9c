package term

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The expected strings below are the output of Elixir 1.14.0 on
// Erlang/OTP 25 for the same terms, except where a comment notes otherwise.

func TestInspectAtom(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"ok", ":ok"},
		{"piyo@vm", `:"piyo@vm"`}, // Elixir 1.14: :piyo@vm; gonode quotes every atom with @
		{"piyo@my-host", `:"piyo@my-host"`},
		{"a@b.c", `:"a@b.c"`},
		{"hello world", `:"hello world"`},
		{"Foo", ":Foo"},
		{"Elixir.Foo", "Foo"},
		{"Elixir.Foo.Bar", "Foo.Bar"},
		{"Elixir", "Elixir"},
		{"Elixir.Elixir", "Elixir.Elixir"},
		{"Elixir.Elixir.Foo", "Elixir.Elixir.Foo"},
		{"Elixir.Foo.Elixir", "Foo.Elixir"},
		{"Elixir.foo", `:"Elixir.foo"`},
		{"Elixir.A.b", `:"Elixir.A.b"`},
		{"Elixir.", `:"Elixir."`},
		{"Elixir._A", `:"Elixir._A"`},
		{"Elixir.Foo@x", `:"Elixir.Foo@x"`},
		{"Elixir.Foo?", `:"Elixir.Foo?"`},
		{"Elixir.Éa", `:"Elixir.Éa"`},
		{"Foo.Bar", `:"Foo.Bar"`},
		{"foo?", ":foo?"},
		{"foo!", ":foo!"},
		{"foo?!", `:"foo?!"`},
		{"a??", `:"a??"`},
		{"fo?o", `:"fo?o"`},
		{"a?@", `:"a?@"`},
		{"a@?", `:"a@?"`},
		{"_", ":_"},
		{"_?", ":_?"},
		{"1a", `:"1a"`},
		{"a@", `:"a@"`},
		{"@foo", `:"@foo"`},
		{"", `:""`},
		{"?", `:"?"`},
		{"!", ":!"},
		{"+", ":+"},
		{"|||", ":|||"},
		{"&&&", ":&&&"},
		{"..//", ":..//"},
		{`\\`, `:\\`},
		{"%{}", ":%{}"},
		{"<<>>", ":<<>>"},
		{"//", `:"//"`},
		{"::", `:"::"`},
		{"=>", `:"=>"`},
		{"^^^", `:"^^^"`},
		{"~~~", `:"~~~"`},
		{"<|>", `:"<|>"`},
		{"....", `:"...."`},
		{"[]", `:"[]"`},
		{"not in", `:"not in"`},
		{"true", "true"},
		{"nil", "nil"},
		{"a\nb", `:"a\nb"`},
		{`a"b`, `:"a\"b"`},
		{`a\b`, `:"a\\b"`},
		{"a#{b", `:"a\#{b"`},
		{"a#b", `:"a#b"`},
		{"a\x00", `:"a\0"`},
		{"\x01", `:"\x01"`},
		{"a\u0085", `:"a\x85"`},
		{"\ufeff", `:"\uFEFF"`},
		{"\uffff", `:"\x{FFFF}"`},
		{"a\x7f", `:"a\d"`},
		{"é", ":é"},
		{"日本", ":日本"},
		{"Ünicode", ":Ünicode"},
		{"a_日", ":a_日"},
		{"a·b", ":a·b"},
		{"ᾈ", ":ᾈ"},
		{"Ωmega", `:"Ωmega"`},
		{"a١", `:"a١"`},
		{"a\u0301b", ":\"a\u0301b\""},
		{"ﬁ", `:"ﬁ"`},
		{"ℕ", `:"ℕ"`},
		{"ǅ", `:"ǅ"`},
		{"ʰ", `:"ʰ"`},
		{"ｱ", `:"ｱ"`},
		{"ⓐ", `:"ⓐ"`},
		{"a\u200db", ":\"a\u200db\""},
		// Bidi and other invisible format characters are escaped, which
		// Elixir 1.14 does not do.
		{"a\u202eb", `:"a\x{202E}b"`},
		{"b@h\u2066x", `:"b@h\x{2066}x"`},
		{"a\u200bb", `:"a\x{200B}b"`},
		{"a\u00adb", `:"a\x{AD}b"`},
		{"a\u2028b", `:"a\x{2028}b"`},
		{"\U000E0001", `:"\x{E0001}"`},
	}
	for _, tt := range tests {
		if got := Inspect(Atom(tt.name)); got != tt.want {
			t.Errorf("Inspect(Atom(%q)) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestInspectBinary(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"str", `"str"`},
		{"", `""`},
		{"a\nb\tc\rd", `"a\nb\tc\rd"`},
		{`q"q`, `"q\"q"`},
		{`b\s`, `"b\\s"`},
		{"#{x}", `"\#{x}"`},
		{"#", `"#"`},
		{"\x7f", `"\d"`},
		{"\ufeff", `"\uFEFF"`},
		{"a\u202eb", `"a\x{202E}b"`},
		{"\u200f", `"\x{200F}"`},
		{"é", `"é"`},
		{"\u00a0", "\"\u00a0\""},
		{"\U0010FFFF", "\"\U0010FFFF\""},
		{"\a\b\f\v\x1b", `"\a\b\f\v\e"`},
		{"\x00", "<<0>>"},
		{"a\x01", "<<97, 1>>"},
		{"\u0085", "<<194, 133>>"},
		{"\ufffe", "<<239, 191, 190>>"},
		{"\xed\xa0\x80", "<<237, 160, 128>>"},
		{[]byte{255}, "<<255>>"},
		{[]byte{}, `""`},
		{[]byte("abc"), `"abc"`},
		{string(make([]byte, 60)), "<<0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...>>"},
		{strings.Repeat("a", 4097), `"` + strings.Repeat("a", 4096) + `" <> ...`},
	}
	for _, tt := range tests {
		if got := Inspect(tt.in); got != tt.want {
			t.Errorf("Inspect(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestInspectContainers(t *testing.T) {
	seq := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = int64(i + 1)
		}
		return out
	}
	tests := []struct {
		in   any
		want string
	}{
		{List{int64(1), int64(2)}, "[1, 2]"},
		{List{}, "[]"},
		{Tuple{}, "{}"},
		{Tuple{Atom("hi"), "from a"}, `{:hi, "from a"}`},
		{NewMap(), "%{}"},
		{(*Map)(nil), "%{}"},
		{NewMap(Pair{Atom("a"), 1}, Pair{"k", 2}), `%{:a => 1, "k" => 2}`},
		{NewMap(Pair{"k", 2}, Pair{Atom("a"), 1}), `%{:a => 1, "k" => 2}`},
		{NewMap(Pair{Atom("b"), 3}, Pair{1, 2}, Pair{Atom("a"), 4}), "%{1 => 2, :a => 4, :b => 3}"},
		{NewMap(Pair{Tuple{1}, 1}, Pair{List{1}, 2}, Pair{"s", 3}, Pair{1.0, 4}, Pair{1, 5}, Pair{Atom("x"), 6}),
			`%{1 => 5, 1.0 => 4, :x => 6, {1} => 1, [1] => 2, "s" => 3}`},
		{NewMap(Pair{Atom("a b"), 1}), `%{"a b": 1}`},
		{NewMap(Pair{Atom("+"), 1}), "%{+: 1}"},
		{NewMap(Pair{nil, 1}), "%{nil: 1}"},
		{NewMap(Pair{true, 1}, Pair{false, 2}), "%{false: 2, true: 1}"},
		{NewMap(Pair{Atom("Elixir.Foo"), 1}), "%{Foo => 1}"},
		{NewMap(Pair{Atom("Elixir"), 1}), `%{"Elixir": 1}`},
		{NewMap(Pair{Atom("piyo@vm"), 1}), "%{piyo@vm: 1}"},
		{NewMap(Pair{Atom("a\x01"), 1}, Pair{Atom("é"), 2}, Pair{Atom("Foo"), 3}), `%{Foo: 3, "a\x01": 1, é: 2}`},
		{NewMap(Pair{Atom("a"), NewMap(Pair{Atom("b"), List{Tuple{Atom("c"), 1}}})}), "%{a: %{b: [c: 1]}}"},
		{List{Tuple{Atom("a"), 1}}, "[a: 1]"},
		{List{Tuple{Atom("a"), 1}, Tuple{Atom("b"), 2}}, "[a: 1, b: 2]"},
		{List{Tuple{Atom("a"), 1}, 2}, "[{:a, 1}, 2]"},
		{List{Tuple{"a", 1}}, `[{"a", 1}]`},
		{List{Tuple{Atom("a b"), 1}}, `["a b": 1]`},
		{List{Tuple{Atom("Elixir.Foo"), 1}}, "[{Foo, 1}]"},
		{List{Tuple{Atom("Foo"), 1}, Tuple{Atom("Elixir.Foo"), 2}}, "[{:Foo, 1}, {Foo, 2}]"},
		{List{Tuple{Atom("Elixir"), 1}}, `["Elixir": 1]`},
		{List{Tuple{Atom("a"), 1}, Tuple{Atom("a b"), 2}, Tuple{Atom("+"), 3}, Tuple{Atom("::"), 4}, Tuple{nil, 5}},
			`[a: 1, "a b": 2, +: 3, "::": 4, nil: 5]`},
		{List{Tuple{Atom("ok"), List{Tuple{Atom("a"), Tuple{1, 2}}}}}, "[ok: [a: {1, 2}]]"},
		// Elixir prints this list as 'ab'; charlists are not a term kind here.
		{List{int64(97), int64(98)}, "[97, 98]"},
		{List(seq(60)), "[" + joinInts(1, 50) + ", ...]"},
		{Tuple(seq(60)), "{" + joinInts(1, 50) + ", ...}"},
		{Tuple{List{}}, "{[]}"},
		{List{Tuple{}}, "[{}]"},
		{[]any{1.0, -1.5}, "[1.0, -1.5]"},
		{PID{Node: "a@vm", ID: 96}, "#PID<0.96.0>"},
	}
	for _, tt := range tests {
		if got := Inspect(tt.in); got != tt.want {
			t.Errorf("Inspect(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func joinInts(from, to int) string {
	var parts []string
	for i := from; i <= to; i++ {
		parts = append(parts, strconv.Itoa(i))
	}
	return strings.Join(parts, ", ")
}

func TestInspectWithLimits(t *testing.T) {
	tests := []struct {
		in   any
		opts InspectOptions
		want string
	}{
		{List{List{1, 2, 3}, List{4, 5, 6}}, InspectOptions{Limit: 3}, "[[1, 2, ...], [4, ...]]"},
		{Tuple{List{1, 2, 3}, List{4, 5, 6}}, InspectOptions{Limit: 3}, "{[1, 2, ...], [4, ...]}"},
		{NewMap(Pair{Atom("a"), List{1, 2, 3}}, Pair{Atom("b"), 2}), InspectOptions{Limit: 3}, "%{a: [1, 2, ...], b: 2}"},
		{NewMap(Pair{1, List{1, 2}}, Pair{2, 3}), InspectOptions{Limit: 2}, "%{1 => [1, ...], 2 => 3}"},
		{List{Tuple{Atom("a"), 1}, Tuple{Atom("b"), 2}, Tuple{Atom("c"), 3}}, InspectOptions{Limit: 2}, "[a: 1, b: 2, ...]"},
		{List{1, Tuple{Atom("a"), Atom("b")}}, InspectOptions{Limit: 2}, "[1, {...}]"},
		{[]byte{1, 2, 3}, InspectOptions{Limit: 1}, "<<1, ...>>"},
		{"ééé", InspectOptions{PrintableLimit: 2}, `"éé" <> ...`},
		{"\n\n\n", InspectOptions{PrintableLimit: 2}, `"\n\n" <> ...`},
		{"abc\xff", InspectOptions{PrintableLimit: 3}, `"abc" <> ...`},
		{"abc\xff", InspectOptions{PrintableLimit: 4}, "<<97, 98, 99, 255>>"},
		{"ab#{c", InspectOptions{PrintableLimit: 3}, `"ab\#{" <> ...`},
		{`ab"c`, InspectOptions{PrintableLimit: 2}, `"ab" <> ...`},
		{"abc", InspectOptions{PrintableLimit: 3}, `"abc"`},
		{List(make([]any, 100)), InspectOptions{}, "[" + strings.TrimSuffix(strings.Repeat("nil, ", 100), ", ") + "]"},
	}
	for _, tt := range tests {
		if got := InspectWith(tt.in, tt.opts); got != tt.want {
			t.Errorf("InspectWith(%#v, %+v) = %s, want %s", tt.in, tt.opts, got, tt.want)
		}
	}
}

func TestInspectScalars(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "nil"},
		{true, "true"},
		{false, "false"},
		{Atom("true"), "true"},
		{int64(-5), "-5"},
		{1_000_000, "1000000"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{float32(0.5), "0.5"},
		{1.0, "1.0"},
		{math.Copysign(0, -1), "-0.0"},
		{math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := Inspect(tt.in); got != tt.want {
			t.Errorf("Inspect(%#v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestInspectFloatGolden checks the lines of testdata/floats.txt, each a
// Go-formatted float and Elixir 1.14's inspect of it.
func TestInspectFloatGolden(t *testing.T) {
	f, err := os.Open("testdata/floats.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		in, want, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("line %d: missing space: %q", lines+1, sc.Text())
		}
		x, err := strconv.ParseFloat(in, 64)
		if err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		if got := Inspect(x); got != want {
			t.Errorf("Inspect(%s) = %s, want %s", in, got, want)
		}
		lines++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines < 1000 {
		t.Fatalf("read %d lines of floats.txt, want at least 1000", lines)
	}
}
