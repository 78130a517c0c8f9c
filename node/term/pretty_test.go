package term

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func intList(from, to int) List {
	var l List
	for i := from; i <= to; i++ {
		l = append(l, int64(i))
	}
	return l
}

func TestFormatLayout(t *testing.T) {
	nested := NewMap(
		Pair{Key: Atom("nodes"), Value: List{Atom("a@vm"), Atom("b@vm")}},
		Pair{Key: Atom("counts"), Value: intList(1, 20)},
	)
	tests := []struct {
		name  string
		v     any
		width int
		want  string
	}{
		{"fits", List{int64(1), int64(2)}, 80, "[1, 2]"},
		{"no width", intList(1, 40), 0, Inspect(intList(1, 40))},
		{"filled list", intList(1, 30), 40,
			"[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,\n 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,\n 23, 24, 25, 26, 27, 28, 29, 30]"},
		{"nested map", nested, 76,
			"%{\n  counts: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,\n   19, 20],\n  nodes: [:\"a@vm\", :\"b@vm\"]\n}"},
		{"tuple of lists", Tuple{Atom("ok"), List{"aaaaaaaa", "bbbbbbbb"}}, 20,
			"{\n  :ok,\n  [\"aaaaaaaa\",\n   \"bbbbbbbb\"]\n}"},
		{"keyword list", List{Tuple{Atom("alpha"), Tuple{int64(1), int64(2)}}, Tuple{Atom("beta"), "x"}}, 16,
			"[\n  alpha: {1, 2},\n  beta: \"x\"\n]"},
		{"long atom alone", Atom(strings.Repeat("a", 30)), 10, ":" + strings.Repeat("a", 30)},
	}
	for _, tt := range tests {
		got := Format(tt.v, FormatOptions{InspectOptions: DefaultInspectOptions, Width: tt.width})
		if got != tt.want {
			t.Errorf("%s: Format =\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestFormatWideCharacters(t *testing.T) {
	// Each of these Japanese characters takes two terminal columns.
	width := func(s string) int {
		w := 0
		for _, r := range s {
			if r >= 0x3000 {
				w += 2
			} else {
				w++
			}
		}
		return w
	}
	v := List{"こんにちは", "さようなら", "ありがとう"}
	got := Format(v, FormatOptions{Width: 30, TextWidth: width})
	want := "[\"こんにちは\", \"さようなら\",\n \"ありがとう\"]"
	if got != want {
		t.Errorf("Format with wide characters =\n%s\nwant\n%s", got, want)
	}
	for _, line := range strings.Split(got, "\n") {
		if width(line) > 30 {
			t.Errorf("line %q takes %d columns, more than 30", line, width(line))
		}
	}
	if flat := Format(v, FormatOptions{Width: 30}); utf8.RuneCountInString(strings.Split(flat, "\n")[0]) > 30 {
		t.Errorf("first line of %q is longer than 30 characters", flat)
	}
}

func TestFormatColors(t *testing.T) {
	color := func(kind Syntax, s string) string {
		return "<" + [...]string{"default", "atom", "string", "number", "boolean", "nil"}[kind] + ">" + s + "</>"
	}
	v := List{Atom("ok"), "s", int64(1), 2.5, true, nil, NewMap(Pair{Key: Atom("a"), Value: int64(1)})}
	got := Format(v, FormatOptions{Color: color})
	want := `[<atom>:ok</>, <string>"s"</>, <number>1</>, <number>2.5</>, <boolean>true</>, <nil>nil</>, %{<atom>a: </><number>1</>}]`
	if got != want {
		t.Errorf("Format with colors =\n%s\nwant\n%s", got, want)
	}
}

// FuzzFormatMatchesInspect checks that Format without a width prints what
// Inspect prints, and that a broken layout differs from Inspect only in
// spaces and newlines.
func FuzzFormatMatchesInspect(f *testing.F) {
	for _, seed := range [][]byte{{0x93, 0x01, 0xa1, 'a', 0xc0}, {0x82, 0xa1, 'k', 0x01, 0x01, 0x92, 0x02, 0x03}} {
		f.Add(seed, 10)
	}
	f.Fuzz(func(t *testing.T, data []byte, width int) {
		v, err := Unmarshal(data)
		if err != nil {
			return
		}
		flat := Inspect(v)
		if got := Format(v, FormatOptions{InspectOptions: DefaultInspectOptions}); got != flat {
			t.Fatalf("Format without width = %q, Inspect = %q", got, flat)
		}
		width = width%200 + 1
		broken := Format(v, FormatOptions{InspectOptions: DefaultInspectOptions, Width: width})
		squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if squash(broken) != squash(flat) {
			t.Fatalf("Format at width %d = %q, which differs from %q beyond spaces", width, broken, flat)
		}
	})
}
