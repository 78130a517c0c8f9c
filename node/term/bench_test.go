package term

import (
	"testing"
)

// benchTerms are the terms the benchmarks encode and decode: the small
// message of the one-way throughput benchmark under bench/, the echo
// request, and a larger nested term like a shell session's reply.
var benchTerms = []struct {
	name string
	term any
}{
	{"atom_int_tuple", Tuple{Atom("msg"), int64(123456)}},
	{"echo_request", Tuple{Atom("echo@vm"), Atom("bench"), int64(42)}},
	{"nested", NewMap(
		Pair{Atom("node"), Atom("piyo@vm")},
		Pair{Atom("peers"), List{Atom("a@vm"), Atom("b@vm"), Atom("c@vm")}},
		Pair{"text", "hello from piyo"},
		Pair{Atom("stats"), Tuple{int64(1), 2.5, true, nil}},
		Pair{Atom("pid"), PID{Node: "piyo@vm", ID: 99}},
	)},
}

func BenchmarkMarshal(b *testing.B) {
	for _, bt := range benchTerms {
		b.Run(bt.name, func(b *testing.B) {
			var size int
			b.ReportAllocs()
			for b.Loop() {
				out, err := Marshal(bt.term)
				if err != nil {
					b.Fatal(err)
				}
				size = len(out)
			}
			b.SetBytes(int64(size))
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, bt := range benchTerms {
		b.Run(bt.name, func(b *testing.B) {
			data, err := Marshal(bt.term)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				got, err := Unmarshal(data)
				if err != nil {
					b.Fatal(err)
				}
				if got == nil {
					b.Fatal("Unmarshal returned nil")
				}
			}
		})
	}
}

func BenchmarkInspect(b *testing.B) {
	for _, bt := range benchTerms {
		b.Run(bt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if Inspect(bt.term) == "" {
					b.Fatal("Inspect returned an empty string")
				}
			}
		})
	}
}
