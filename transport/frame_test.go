package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// sampleFrames holds one frame of each type, with fields that need the
// longer msgpack forms.
func sampleFrames() []Frame {
	nonce := bytes.Repeat([]byte{0xab}, nonceSize)
	return []Frame{
		{Type: FrameTick},
		{Type: FrameHello, Version: HandshakeVersion, Name: "a@vm", Nonce: nonce, Flags: FlagEncrypt, Creation: 1 << 62},
		{Type: FrameHello, Version: 1 << 40, Name: strings.Repeat("n", 200) + "@vm", Nonce: nil},
		{Type: FrameStatus, Status: StatusOK, Name: "b@vm", Nonce: nonce, Flags: FlagEncrypt | 1<<40, Creation: 7},
		{Type: FrameStatus, Status: StatusBadCookie, Reason: "bad cookie"},
		{Type: FrameReply, Digest: nonce},
		{Type: FrameAck, Digest: nonce},
		{Type: FrameMessage, To: "shell", From: "a@vm", Payload: []byte{0x92, 0xa2, 'h', 'i', 0x01}},
		{Type: FrameMessage, To: "", From: "", Payload: nil},
		{Type: FrameMessage, To: strings.Repeat("t", 40), From: strings.Repeat("f", 300), Payload: make([]byte, 70000)},
		{Type: FramePing, ID: 1},
		{Type: FramePong, ID: 1<<64 - 1},
		{Type: FramePing, ID: 300},
		{Type: FrameGoodbye, Reason: "shutting down"},
		{Type: FrameGoodbye},
		{Type: FrameCall, ID: 1, Method: "shell.eval", Payload: []byte{0x81, 0xa3, 's', 'r', 'c', 0xa1, 'x'}, Timeout: 5000},
		{Type: FrameCall, ID: 1<<64 - 1, Method: "", Payload: nil, Timeout: 0},
		{Type: FrameCall, ID: 70000, Method: strings.Repeat("m", 300), Payload: make([]byte, 70000), Timeout: 1 << 40},
		{Type: FrameCallReply, ID: 1, Payload: []byte{0xc3}},
		{Type: FrameCallReply, ID: 2, Reason: "unknown method \"x\""},
	}
}

// frameEqual compares frames, treating nil and empty byte slices alike.
func frameEqual(a, b *Frame) bool {
	return a.Type == b.Type && a.Version == b.Version && a.Status == b.Status &&
		a.Name == b.Name && a.Reason == b.Reason && a.To == b.To && a.From == b.From &&
		a.ID == b.ID && a.Method == b.Method && a.Timeout == b.Timeout && a.Flags == b.Flags && a.Creation == b.Creation && bytes.Equal(a.Nonce, b.Nonce) && bytes.Equal(a.Digest, b.Digest) &&
		bytes.Equal(a.Payload, b.Payload)
}

func TestFrameRoundTrip(t *testing.T) {
	for _, want := range sampleFrames() {
		t.Run(want.Type.String(), func(t *testing.T) {
			wire, err := AppendFrame(nil, &want, 0)
			if err != nil {
				t.Fatalf("AppendFrame: %v", err)
			}
			if got := int(binary.BigEndian.Uint32(wire)); got != len(wire)-frameHeaderSize {
				t.Fatalf("length header = %d, want %d", got, len(wire)-frameHeaderSize)
			}
			var got Frame
			if err := DecodeFrame(wire[frameHeaderSize:], &got); err != nil {
				t.Fatalf("DecodeFrame: %v", err)
			}
			if !frameEqual(&got, &want) {
				t.Errorf("DecodeFrame(AppendFrame(f)) = %+v, want %+v", got, want)
			}
			size, err := bodySize(&want)
			if err != nil || size != len(wire)-frameHeaderSize {
				t.Errorf("bodySize = %d, %v, want %d", size, err, len(wire)-frameHeaderSize)
			}
		})
	}
}

func TestFrameWireBytes(t *testing.T) {
	tests := []struct {
		name  string
		frame Frame
		want  []byte
	}{
		{"tick", Frame{Type: FrameTick}, []byte{0, 0, 0, 0}},
		{"ping", Frame{Type: FramePing, ID: 7}, []byte{0, 0, 0, 3, 0x92, 6, 7}},
		{"pong uint16", Frame{Type: FramePong, ID: 0x1234}, []byte{0, 0, 0, 5, 0x92, 7, 0xcd, 0x12, 0x34}},
		{"goodbye", Frame{Type: FrameGoodbye, Reason: "x"}, []byte{0, 0, 0, 4, 0x92, 8, 0xa1, 'x'}},
		{"message", Frame{Type: FrameMessage, To: "a", From: "b", Payload: []byte{0xc0}},
			[]byte{0, 0, 0, 9, 0x94, 5, 0xa1, 'a', 0xa1, 'b', 0xc4, 1, 0xc0}},
		{"call", Frame{Type: FrameCall, ID: 3, Method: "m", Payload: []byte{0xc0}, Timeout: 200},
			[]byte{0, 0, 0, 10, 0x95, 9, 3, 0xa1, 'm', 0xc4, 1, 0xc0, 0xcc, 200}},
		{"call cancel", Frame{Type: FrameCall, ID: 3},
			[]byte{0, 0, 0, 7, 0x95, 9, 3, 0xa0, 0xc4, 0, 0}},
		{"call reply", Frame{Type: FrameCallReply, ID: 3, Payload: []byte{0xc2}},
			[]byte{0, 0, 0, 7, 0x94, 10, 3, 0xa0, 0xc4, 1, 0xc2}},
		{"call error", Frame{Type: FrameCallReply, ID: 3, Reason: "no"},
			[]byte{0, 0, 0, 8, 0x94, 10, 3, 0xa2, 'n', 'o', 0xc4, 0}},
	}
	for _, tt := range tests {
		got, err := AppendFrame(nil, &tt.frame, 0)
		if err != nil {
			t.Fatalf("AppendFrame(%s): %v", tt.name, err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("AppendFrame(%s) = % x, want % x", tt.name, got, tt.want)
		}
	}
	if got, want := appendGoodbye(nil), mustAppend(t, &Frame{Type: FrameGoodbye}); !bytes.Equal(got, want) {
		t.Errorf("appendGoodbye = % x, want % x", got, want)
	}
}

func mustAppend(t testing.TB, f *Frame) []byte {
	t.Helper()
	b, err := AppendFrame(nil, f, 0)
	if err != nil {
		t.Fatalf("AppendFrame(%s): %v", f.Type, err)
	}
	return b
}

func TestAppendFrameErrors(t *testing.T) {
	big := Frame{Type: FrameMessage, To: "a", From: "b", Payload: make([]byte, 2000)}
	if _, err := AppendFrame(nil, &big, 1024); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("AppendFrame(2000-byte payload, max 1024) error = %v, want ErrFrameTooLarge", err)
	}
	if _, err := AppendFrame(nil, &Frame{Type: 99}, 0); err == nil {
		t.Error("AppendFrame(type 99) succeeded, want an error")
	}
}

// TestDecodeOtherEncoder checks that frames written by a general msgpack
// encoder, which picks other integer and string forms, decode.
func TestDecodeOtherEncoder(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  Frame
	}{
		{"message with int64 type", []any{int64(5), "to", "from", []byte{1, 2}},
			Frame{Type: FrameMessage, To: "to", From: "from", Payload: []byte{1, 2}}},
		{"ping with uint64 id", []any{uint8(6), uint64(1 << 33)},
			Frame{Type: FramePing, ID: 1 << 33}},
		{"status with nil name and nonce", []any{2, 4, "no", nil, nil},
			Frame{Type: FrameStatus, Status: StatusNotAllowed, Reason: "no"}},
		{"hello with str nonce and extra fields", []any{1, 1, "a@b", "nonce", uint16(1), int64(9), map[string]any{"k": []any{1.5, true}}, "more"},
			Frame{Type: FrameHello, Version: 1, Name: "a@b", Nonce: []byte("nonce"), Flags: FlagEncrypt, Creation: 9}},
		{"hello without flags and creation", []any{1, 1, "a@b", "nonce"},
			Frame{Type: FrameHello, Version: 1, Name: "a@b", Nonce: []byte("nonce")}},
		{"unknown type with fields", []any{200, "x", []any{1, 2}},
			Frame{Type: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := msgpack.Marshal(tt.value)
			if err != nil {
				t.Fatal(err)
			}
			var got Frame
			if err := DecodeFrame(body, &got); err != nil {
				t.Fatalf("DecodeFrame(% x): %v", body, err)
			}
			if !frameEqual(&got, &tt.want) {
				t.Errorf("DecodeFrame = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestOtherDecoderReadsFrames checks that a general msgpack decoder reads
// our bodies as the documented arrays.
func TestOtherDecoderReadsFrames(t *testing.T) {
	wire := mustAppend(t, &Frame{Type: FrameMessage, To: "shell", From: "a@vm", Payload: []byte{0xc3}})
	var got []any
	if err := msgpack.Unmarshal(wire[frameHeaderSize:], &got); err != nil {
		t.Fatal(err)
	}
	want := []any{int8(5), "shell", "a@vm", []byte{0xc3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("msgpack.Unmarshal(message) = %#v, want %#v", got, want)
	}
}

func TestDecodeFrameMalformed(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"not an array", []byte{0x05}},
		{"empty array", []byte{0x90}},
		{"type zero", []byte{0x91, 0x00}},
		{"type too large", []byte{0x91, 0xcd, 0x01, 0x00}},
		{"negative type", []byte{0x91, 0xff}},
		{"type is a string", []byte{0x91, 0xa1, 'x'}},
		{"missing fields", []byte{0x92, 5, 0xa1, 'a'}},
		{"ping without id", []byte{0x91, 6}},
		{"negative id", []byte{0x92, 6, 0xd0, 0xff}},
		{"id is a float", []byte{0x92, 6, 0xca, 0, 0, 0, 0}},
		{"string length beyond body", []byte{0x92, 8, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}},
		{"bin length beyond body", []byte{0x94, 5, 0xa0, 0xa0, 0xc6, 0x7f, 0xff, 0xff, 0xff}},
		{"array length beyond body", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 6, 1}},
		{"truncated uint", []byte{0x92, 6, 0xcf, 0, 0}},
		{"trailing bytes", []byte{0x92, 6, 1, 0xc0}},
		{"status code out of range", []byte{0x95, 2, 0xcd, 0x01, 0x00, 0xa0, 0xa0, 0xc0}},
		{"invalid format in extra field", []byte{0x93, 6, 1, 0xc1}},
		{"deep extra field", append([]byte{0x93, 6, 1}, bytes.Repeat([]byte{0x91}, 40)...)},
		{"extra map beyond body", []byte{0x93, 6, 1, 0xdf, 0, 0, 0, 9, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Frame
			err := DecodeFrame(tt.body, &f)
			if !errors.Is(err, ErrMalformedFrame) {
				t.Errorf("DecodeFrame(% x) error = %v, want ErrMalformedFrame", tt.body, err)
			}
		})
	}
}

func TestFrameReaderStream(t *testing.T) {
	var wire []byte
	frames := sampleFrames()
	for i := range frames {
		wire = append(wire, mustAppend(t, &frames[i])...)
	}
	fr := NewFrameReader(bytes.NewReader(wire), 0)
	for i := range frames {
		var got Frame
		if err := fr.ReadFrame(&got); err != nil {
			t.Fatalf("ReadFrame %d: %v", i, err)
		}
		if !frameEqual(&got, &frames[i]) {
			t.Errorf("ReadFrame %d = %+v, want %+v", i, got, frames[i])
		}
	}
	var f Frame
	if err := fr.ReadFrame(&f); err != io.EOF {
		t.Errorf("ReadFrame at end = %v, want io.EOF", err)
	}
}

func TestFrameReaderTruncated(t *testing.T) {
	wire := mustAppend(t, &Frame{Type: FrameMessage, To: "a", From: "b", Payload: []byte("payload")})
	for n := 1; n < len(wire); n++ {
		fr := NewFrameReader(bytes.NewReader(wire[:n]), 0)
		var f Frame
		if err := fr.ReadFrame(&f); err != io.ErrUnexpectedEOF {
			t.Errorf("ReadFrame(first %d of %d bytes) = %v, want io.ErrUnexpectedEOF", n, len(wire), err)
		}
	}
}

// headerOnlyReader returns a length header and then fails the test if the
// frame reader asks for more, which would mean it went on to read a body.
type headerOnlyReader struct {
	t      *testing.T
	header []byte
}

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	if len(r.header) == 0 {
		r.t.Error("frame reader read past the length header of an oversized frame")
		return 0, io.EOF
	}
	n := copy(p, r.header)
	r.header = r.header[n:]
	return n, nil
}

func TestFrameReaderRejectsOversize(t *testing.T) {
	tests := []struct {
		max    int
		length uint32
	}{
		{1024, 1025},
		{DefaultMaxFrameSize, DefaultMaxFrameSize + 1},
		{DefaultMaxFrameSize, 0xffffffff},
	}
	for _, tt := range tests {
		header := binary.BigEndian.AppendUint32(nil, tt.length)
		fr := NewFrameReader(&headerOnlyReader{t: t, header: header}, tt.max)
		var f Frame
		err := fr.ReadFrame(&f)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("ReadFrame(length %d, max %d) error = %v, want ErrFrameTooLarge", tt.length, tt.max, err)
		}
	}

	// A frame of exactly the maximum size is accepted.
	exact := Frame{Type: FrameGoodbye, Reason: strings.Repeat("r", 1024-2-3)}
	wire := mustAppend(t, &exact)
	if got := len(wire) - frameHeaderSize; got != 1024 {
		t.Fatalf("test frame body is %d bytes, want 1024", got)
	}
	var f Frame
	if err := NewFrameReader(bytes.NewReader(wire), 1024).ReadFrame(&f); err != nil {
		t.Errorf("ReadFrame(body of exactly the maximum) = %v, want nil", err)
	}
}

func TestFrameReaderAllocations(t *testing.T) {
	msg := Frame{Type: FrameMessage, To: "shell", From: "a@vm", Payload: []byte{0x92, 0x01, 0x02}}
	one := mustAppend(t, &msg)
	wire := bytes.Repeat(one, 200)
	r := bytes.NewReader(wire)
	fr := NewFrameReader(r, 0)
	var f Frame
	if err := fr.ReadFrame(&f); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := fr.ReadFrame(&f); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadFrame of a repeated message allocates %v times, want 0", allocs)
	}
	buf := make([]byte, 0, 256)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := AppendFrame(buf[:0], &msg, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendFrame of a message allocates %v times, want 0", allocs)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, fr := range sampleFrames() {
		if len(fr.Payload) > 1000 {
			continue
		}
		wire := mustAppend(f, &fr)
		f.Add(wire[frameHeaderSize:])
	}
	f.Add([]byte{0x93, 6, 1, 0x81, 0xa1, 'k', 0xd4, 1, 2})
	// A call without its timeout, and a reply with a field more.
	f.Add([]byte{0x94, 9, 1, 0xa1, 'm', 0xc4, 0})
	f.Add([]byte{0x95, 10, 1, 0xa0, 0xc4, 0, 0xc0})
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > DefaultMaxFrameSize {
			return
		}
		var got Frame
		if err := DecodeFrame(body, &got); err != nil {
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("DecodeFrame error %v does not wrap ErrMalformedFrame", err)
			}
			return
		}
		if int(got.Type) >= len(frameTypeNames) {
			return // unknown types have no encoding
		}
		wire, err := AppendFrame(nil, &got, 0)
		if err != nil {
			t.Fatalf("AppendFrame(%+v): %v", got, err)
		}
		var again Frame
		if err := DecodeFrame(wire[frameHeaderSize:], &again); err != nil {
			t.Fatalf("DecodeFrame(AppendFrame(%+v)): %v", got, err)
		}
		if !frameEqual(&got, &again) {
			t.Fatalf("round trip changed the frame: %+v, then %+v", got, again)
		}

		// The stream reader must agree with DecodeFrame.
		stream := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		stream = append(stream, body...)
		var streamed Frame
		if err := NewFrameReader(bytes.NewReader(stream), 0).ReadFrame(&streamed); err != nil {
			t.Fatalf("ReadFrame: %v", err)
		}
		if !frameEqual(&got, &streamed) {
			t.Fatalf("ReadFrame = %+v, DecodeFrame = %+v", streamed, got)
		}
	})
}
