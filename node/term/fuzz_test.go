package term

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

var unmarshalSeeds = []string{
	"c0", "c3", "cd012c", "cb3ff8000000000000", "a26869", "c401ff", "920102",
	"81a16b01", "d5016f6b", "c70001", "c7050292d4016101", "c7070392a46140766d07",
	"ddffffffff", "c9ffffffff02", "8201c001c0", "d40291", "d5029190",
}

func addUnmarshalSeeds(f *testing.F) {
	for _, s := range unmarshalSeeds {
		b, err := hex.DecodeString(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzUnmarshal checks that Unmarshal never panics and that every term it
// accepts encodes and decodes back to an equal term.
func FuzzUnmarshal(f *testing.F) {
	addUnmarshalSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data)
		if err != nil {
			return
		}
		_ = Inspect(v)
		b, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%s) after Unmarshal: %v", Inspect(v), err)
		}
		again, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%s)): %v", Inspect(v), err)
		}
		if !Equal(v, again) {
			t.Fatalf("round trip changed %s to %s", Inspect(v), Inspect(again))
		}
	})
}

// FuzzUnmarshalMatchesDecode checks that Unmarshal, which reads a byte
// slice, and Decode, which reads through the msgpack library's stream
// decoder, accept the same input and return equal terms.
func FuzzUnmarshalMatchesDecode(f *testing.F) {
	addUnmarshalSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data)
		r := bytes.NewReader(data)
		stream, streamErr := Decode(msgpack.NewDecoder(r))
		whole := streamErr == nil && r.Len() == 0
		if (err == nil) != whole {
			t.Fatalf("Unmarshal error %v, Decode error %v with %d bytes left", err, streamErr, r.Len())
		}
		if err == nil && !Equal(v, stream) {
			t.Fatalf("Unmarshal = %s, Decode = %s", Inspect(v), Inspect(stream))
		}
	})
}

// FuzzInspectString checks that Inspect handles any binary or atom name.
func FuzzInspectString(f *testing.F) {
	for _, s := range []string{"ok", "piyo@vm", "a b", "#{", "\xff", "\ufeff", "Elixir.Foo", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Inspect(s) == "" || Inspect(Atom(s)) == "" {
			t.Fatalf("Inspect(%q) is empty", s)
		}
		_ = InspectWith(s, InspectOptions{Limit: 1, PrintableLimit: 1})
	})
}
