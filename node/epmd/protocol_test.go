package epmd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEncodeRequests(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{
			name: "ALIVE2_REQ",
			got: encodeAlive2Request(nodeInfo{
				Port: 0x1234, NodeType: NodeTypeNormal, Protocol: ProtocolTCPIPv4,
				HighestVersion: 6, LowestVersion: 5, Name: "ab",
			}),
			want: []byte{0, 15, 120, 0x12, 0x34, 77, 0, 0, 6, 0, 5, 0, 2, 'a', 'b', 0, 0},
		},
		{
			name: "ALIVE2_REQ with extra",
			got: encodeAlive2Request(nodeInfo{
				Port: 1, NodeType: NodeTypeHidden, HighestVersion: 6, LowestVersion: 6,
				Name: "c", Extra: []byte{9, 8},
			}),
			want: []byte{0, 16, 120, 0, 1, 72, 0, 0, 6, 0, 6, 0, 1, 'c', 0, 2, 9, 8},
		},
		{
			name: "PORT_PLEASE2_REQ",
			got:  encodePortPlease2Request("ab"),
			want: []byte{0, 3, 122, 'a', 'b'},
		},
		{
			name: "NAMES_REQ",
			got:  encodeSimpleRequest(codeNames),
			want: []byte{0, 1, 110},
		},
		{
			name: "KILL_REQ",
			got:  encodeSimpleRequest(codeKill),
			want: []byte{0, 1, 107},
		},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestEncodeReplies(t *testing.T) {
	node := nodeInfo{Port: 40123, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "b"}
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{
			name: "ALIVE2_X_RESP",
			got:  encodeAlive2Response(true, 0, 0x01020304),
			want: []byte{118, 0, 1, 2, 3, 4},
		},
		{
			name: "ALIVE2_RESP",
			got:  encodeAlive2Response(false, 1, 0x00010002),
			want: []byte{121, 1, 0, 2},
		},
		{
			name: "PORT2_RESP not found",
			got:  encodePort2Response(nil),
			want: []byte{119, 1},
		},
		{
			name: "PORT2_RESP found",
			got:  encodePort2Response(&node),
			want: []byte{119, 0, 0x9c, 0xbb, 77, 0, 0, 6, 0, 6, 0, 1, 'b', 0, 0},
		},
		{
			name: "NAMES_RESP",
			got:  encodeNamesResponse(4369, []NameEntry{{"a", 1}, {"b c", 65535}}),
			want: append([]byte{0, 0, 0x11, 0x11}, "name a at port 1\nname b c at port 65535\n"...),
		},
		{
			name: "NAMES_RESP empty",
			got:  encodeNamesResponse(9, nil),
			want: []byte{0, 0, 0, 9},
		},
	}
	for _, tt := range tests {
		if !bytes.Equal(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseNodeFields(t *testing.T) {
	valid := nodeInfo{Port: 7, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "x", Extra: []byte("e")}
	validBytes := valid.appendFields(nil)
	got, err := parseNodeFields(validBytes)
	if err != nil {
		t.Fatalf("parseNodeFields(valid) error: %v", err)
	}
	if got.Port != 7 || got.NodeType != 77 || got.HighestVersion != 6 || got.LowestVersion != 6 {
		t.Errorf("parseNodeFields(valid) fields = %+v, want %+v", got, valid)
	}
	if got.Name != "x" || string(got.Extra) != "e" {
		t.Errorf("parseNodeFields(valid) name, extra = %q, %q, want %q, %q", got.Name, got.Extra, "x", "e")
	}

	bad := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"short fixed fields", []byte{0, 7, 77, 0, 0, 6, 0, 6, 0}},
		{"name past end", []byte{0, 7, 77, 0, 0, 6, 0, 6, 0, 5, 'x', 0, 0}},
		{"no extra length", []byte{0, 7, 77, 0, 0, 6, 0, 6, 0, 1, 'x'}},
		{"extra past end", []byte{0, 7, 77, 0, 0, 6, 0, 6, 0, 1, 'x', 0, 3, 'e'}},
		{"trailing bytes", append(bytes.Clone(validBytes), 0)},
		{"empty name", []byte{0, 7, 77, 0, 0, 6, 0, 6, 0, 0, 0, 0}},
		{"name with host", nodeInfo{Name: "a@vm"}.appendFields(nil)},
		{"name not UTF-8", nodeInfo{Name: "\xff"}.appendFields(nil)},
		{"name too long", nodeInfo{Name: strings.Repeat("n", MaxNameLen+1)}.appendFields(nil)},
	}
	for _, tt := range bad {
		_, err := parseNodeFields(tt.in)
		if !errors.Is(err, errMalformed) {
			t.Errorf("parseNodeFields(%s) error = %v, want errMalformed", tt.name, err)
		}
	}
}

func TestParseAlive2Response(t *testing.T) {
	tests := []struct {
		in      []byte
		want    alive2Response
		wantErr bool
	}{
		{in: []byte{118, 0, 0xff, 0, 0, 1}, want: alive2Response{Result: 0, Creation: 0xff000001}},
		{in: []byte{121, 0, 0, 3}, want: alive2Response{Result: 0, Creation: 3}},
		{in: []byte{118, 1, 0, 0, 0, 0}, want: alive2Response{Result: 1}},
		{in: []byte{118, 0, 0, 0, 1}, wantErr: true},
		{in: []byte{121, 0, 0, 3, 0}, wantErr: true},
		{in: []byte{119, 0, 0, 0}, wantErr: true},
		{in: []byte{118}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseAlive2Response(tt.in)
		if tt.wantErr {
			if !errors.Is(err, errMalformed) {
				t.Errorf("parseAlive2Response(%v) error = %v, want errMalformed", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseAlive2Response(%v) = %+v, %v, want %+v, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParsePort2Response(t *testing.T) {
	node := nodeInfo{Port: 40123, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "b"}
	got, found, err := parsePort2Response(encodePort2Response(&node))
	if err != nil || !found || got.Port != 40123 || got.Name != "b" {
		t.Errorf("parsePort2Response(found) = %+v, %v, %v, want port 40123 name b", got, found, err)
	}
	_, found, err = parsePort2Response([]byte{119, 1})
	if err != nil || found {
		t.Errorf("parsePort2Response([119 1]) = found %v, %v, want false, nil", found, err)
	}
	for _, in := range [][]byte{{}, {119}, {118, 0}, {119, 0, 1, 2}} {
		if _, _, err := parsePort2Response(in); !errors.Is(err, errMalformed) {
			t.Errorf("parsePort2Response(%v) error = %v, want errMalformed", in, err)
		}
	}
}

func TestParseNamesResponse(t *testing.T) {
	in := append([]byte{0, 0, 0x11, 0x11}, "name a at port 1\nname b at port c at port 2\n"...)
	port, entries, err := parseNamesResponse(in)
	if err != nil {
		t.Fatalf("parseNamesResponse error: %v", err)
	}
	if port != 4369 {
		t.Errorf("epmd port = %d, want 4369", port)
	}
	want := []NameEntry{{"a", 1}, {"b at port c", 2}}
	if len(entries) != len(want) {
		t.Fatalf("entries = %v, want %v", entries, want)
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entries[%d] = %v, want %v", i, entries[i], want[i])
		}
	}

	bad := []string{
		"name a at port 1",         // no final newline
		"node a at port 1\n",       // wrong prefix
		"name a port 1\n",          // no " at port "
		"name a at port x\n",       // port not a number
		"name a at port 65536\n",   // port out of range
		"name a at port 1\n\n",     // empty line
		"name  at port\n",          // no port at all
		"name a at port -1\n",      // negative port
		"name a at port 1 extra\n", // junk after the port
	}
	for _, text := range bad {
		in := append([]byte{0, 0, 0x11, 0x11}, text...)
		if _, _, err := parseNamesResponse(in); !errors.Is(err, errMalformed) {
			t.Errorf("parseNamesResponse(%q) error = %v, want errMalformed", text, err)
		}
	}
	if _, _, err := parseNamesResponse([]byte{0, 0, 1}); !errors.Is(err, errMalformed) {
		t.Errorf("parseNamesResponse(3 bytes) error = %v, want errMalformed", err)
	}
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		in      []byte
		want    []byte
		wantErr bool
	}{
		{in: []byte{0, 1, 110}, want: []byte{110}},
		{in: []byte{0, 2, 122, 'a', 'z'}, want: []byte{122, 'a'}},
		{in: []byte{0, 0}, wantErr: true},
		{in: []byte{0}, wantErr: true},
		{in: []byte{0, 3, 122}, wantErr: true},
		{in: []byte{0xff, 0xff, 1}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := readRequest(bytes.NewReader(tt.in))
		if tt.wantErr {
			if err == nil {
				t.Errorf("readRequest(%v) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("readRequest(%v) = %v, %v, want %v, nil", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseNodeFields(f *testing.F) {
	f.Add(nodeInfo{Port: 7, NodeType: 77, HighestVersion: 6, LowestVersion: 6, Name: "x"}.appendFields(nil))
	f.Add([]byte{0, 7, 77, 0, 0, 6, 0, 6, 0, 5, 'x', 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := parseNodeFields(in)
		if err != nil {
			return
		}
		if out := n.appendFields(nil); !bytes.Equal(out, in) {
			t.Errorf("appendFields(parseNodeFields(%v)) = %v", in, out)
		}
	})
}

func FuzzParseNamesResponse(f *testing.F) {
	f.Add(encodeNamesResponse(4369, []NameEntry{{"a", 1}, {"b", 2}}))
	f.Add([]byte{0, 0, 0, 1, 'n'})
	f.Fuzz(func(t *testing.T, in []byte) {
		port, entries, err := parseNamesResponse(in)
		if err != nil {
			return
		}
		// Ports such as "007" parse but encode as "7", so compare the
		// decoded values after a second round.
		_, again, err := parseNamesResponse(encodeNamesResponse(port, entries))
		if err != nil {
			t.Fatalf("parse(encode(%v)) error: %v", entries, err)
		}
		if len(again) != len(entries) {
			t.Fatalf("parse(encode(%v)) = %v", entries, again)
		}
		for i := range entries {
			if again[i] != entries[i] {
				t.Errorf("entry %d after round trip = %v, want %v", i, again[i], entries[i])
			}
		}
	})
}
