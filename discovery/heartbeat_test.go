package discovery

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func mustCodec(t testing.TB, secret string) *HeartbeatCodec {
	t.Helper()
	c, err := NewHeartbeatCodec([]byte(secret))
	if err != nil {
		t.Fatalf("NewHeartbeatCodec: %v", err)
	}
	return c
}

func mustEncode(t testing.TB, c *HeartbeatCodec, hb Heartbeat) []byte {
	t.Helper()
	packet, err := c.Encode(hb)
	if err != nil {
		t.Fatalf("Encode(%+v): %v", hb, err)
	}
	return packet
}

// plainPacket returns a version 1 plain heartbeat with the given body.
func plainPacket(body []byte) []byte {
	return append([]byte("gnhb\x01\x00"), body...)
}

// msgpackBody encodes the map entries in order as a msgpack map.
func msgpackBody(t testing.TB, kv ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	if err := e.EncodeMapLen(len(kv) / 2); err != nil {
		t.Fatal(err)
	}
	for _, v := range kv {
		if err := e.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestHeartbeatRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		secret string
		hb     Heartbeat
	}{
		{"plain", "", Heartbeat{Name: "b@vm", Port: 4370}},
		{"plain low port", "", Heartbeat{Name: "a@127.0.0.1", Port: 1}},
		{"plain unicode", "", Heartbeat{Name: "ノード@ホスト", Port: 65535}},
		{"plain max name", "", Heartbeat{Name: strings.Repeat("n", MaxNameSize-3) + "@vm", Port: 9}},
		{"sealed", "genki", Heartbeat{Name: "b@vm", Port: 4370}},
		{"sealed max name", "genki", Heartbeat{Name: strings.Repeat("n", MaxNameSize-3) + "@vm", Port: 65535}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustCodec(t, tt.secret)
			packet := mustEncode(t, c, tt.hb)
			if len(packet) > MaxPacketSize {
				t.Errorf("len(packet) = %d, want at most %d", len(packet), MaxPacketSize)
			}
			got, err := c.Decode(packet)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tt.hb {
				t.Errorf("Decode(Encode(%+v)) = %+v", tt.hb, got)
			}
		})
	}
}

func TestHeartbeatPlainLayout(t *testing.T) {
	packet := mustEncode(t, mustCodec(t, ""), Heartbeat{Name: "b@vm", Port: 4370})
	want := []byte("gnhb\x01\x00" +
		"\x82" + // map of 2 entries
		"\xa4name\xa4b@vm" +
		"\xa4port\xcd\x11\x12") // uint16 4370
	if !bytes.Equal(packet, want) {
		t.Errorf("Encode = %q, want %q", packet, want)
	}
}

func TestHeartbeatSealedLayout(t *testing.T) {
	hb := Heartbeat{Name: "b@vm", Port: 4370}
	plain := mustEncode(t, mustCodec(t, ""), hb)
	body := plain[headerSize:]
	sealer := mustCodec(t, "genki")
	packet := mustEncode(t, sealer, hb)

	if got, want := packet[:headerSize], []byte("gnhb\x01\x01"); !bytes.Equal(got, want) {
		t.Errorf("header = %q, want %q", got, want)
	}
	if got, want := len(packet), headerSize+nonceSize+len(body)+tagSize; got != want {
		t.Errorf("len(packet) = %d, want %d", got, want)
	}
	if bytes.Contains(packet, []byte("b@vm")) {
		t.Errorf("sealed packet %q contains the node name in the clear", packet)
	}
	if again := mustEncode(t, sealer, hb); bytes.Equal(again, packet) {
		t.Error("two sealed encodings are equal, want a fresh nonce each time")
	}

	// Open the packet as the format comment describes, without the codec.
	key, err := hkdf.Key(sha256.New, []byte("genki"), nil, "gonode gossip heartbeat v1", 32)
	if err != nil {
		t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := packet[headerSize : headerSize+nonceSize]
	got, err := aead.Open(nil, nonce, packet[headerSize+nonceSize:], packet[:headerSize])
	if err != nil {
		t.Fatalf("open with the documented key: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("opened body = %q, want %q", got, body)
	}
}

func TestHeartbeatDecodeRejects(t *testing.T) {
	good := Heartbeat{Name: "b@vm", Port: 4370}
	plainGood := mustEncode(t, mustCodec(t, ""), good)
	sealedGood := mustEncode(t, mustCodec(t, "genki"), good)
	sealedOther := mustEncode(t, mustCodec(t, "other"), good)
	withVersion := func(packet []byte, version, flags byte) []byte {
		p := bytes.Clone(packet)
		p[4], p[5] = version, flags
		return p
	}

	tests := []struct {
		name   string
		secret string
		packet []byte
		want   error // the most specific sentinel
	}{
		{"empty", "", nil, ErrForeign},
		{"short", "", []byte("gnh"), ErrForeign},
		{"header only wrong magic", "", []byte("GNHB\x01\x00"), ErrForeign},
		{"random", "", []byte("\x00\x01\x02\x03\x04\x05\x06\x07"), ErrForeign},
		{"libcluster", "", append([]byte("heartbeat::"), 0x83, 0x74, 0, 0, 0, 1), ErrLibcluster},
		{"libcluster with secret", "genki", []byte("heartbeat::"), ErrLibcluster},
		{"oversized", "", append(bytes.Clone(plainGood), make([]byte, MaxPacketSize)...), ErrMalformed},
		{"truncated body", "", plainGood[:len(plainGood)-1], ErrMalformed},
		{"header only", "", plainGood[:headerSize], ErrMalformed},
		{"trailing bytes", "", append(bytes.Clone(plainGood), 0xc0), ErrMalformed},
		{"body not a map", "", plainPacket([]byte("\x92\x01\x02")), ErrMalformed},
		{"body nil", "", plainPacket([]byte("\xc0")), ErrMalformed},
		{"missing port", "", plainPacket(msgpackBody(t, "name", "b@vm")), ErrMalformed},
		{"missing name", "", plainPacket(msgpackBody(t, "port", 4370)), ErrMalformed},
		{"duplicate name", "", plainPacket(msgpackBody(t, "name", "b@vm", "name", "c@vm", "port", 1)), ErrMalformed},
		{"duplicate port", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", 1, "port", 2)), ErrMalformed},
		{"port zero", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", 0)), ErrMalformed},
		{"port negative", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", -1)), ErrMalformed},
		{"port too large", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", 65536)), ErrMalformed},
		{"port huge uint", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", uint64(1)<<63)), ErrMalformed},
		{"port float", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", 4370.0)), ErrMalformed},
		{"port string", "", plainPacket(msgpackBody(t, "name", "b@vm", "port", "4370")), ErrMalformed},
		{"name int", "", plainPacket(msgpackBody(t, "name", 7, "port", 4370)), ErrMalformed},
		{"name without host", "", plainPacket(msgpackBody(t, "name", "b", "port", 4370)), ErrMalformed},
		{"name empty host", "", plainPacket(msgpackBody(t, "name", "b@", "port", 4370)), ErrMalformed},
		{"name two at signs", "", plainPacket(msgpackBody(t, "name", "b@vm@x", "port", 4370)), ErrMalformed},
		{"name control char", "", plainPacket(msgpackBody(t, "name", "b\n@vm", "port", 4370)), ErrMalformed},
		{"name invalid utf8", "", plainPacket(msgpackBody(t, "name", "b\xff@vm", "port", 4370)), ErrMalformed},
		{"name too long", "", plainPacket(msgpackBody(t, "name", strings.Repeat("n", MaxNameSize)+"@vm", "port", 4370)), ErrMalformed},
		{"key int", "", plainPacket(msgpackBody(t, 1, "b@vm", "port", 4370)), ErrMalformed},
		{"too many entries", "", plainPacket([]byte("\xde\x00\x11")), ErrMalformed},
		{"forged string length", "", plainPacket([]byte("\x81\xdb\xff\xff\xff\xff")), ErrMalformed},
		{"forged map length", "", plainPacket([]byte("\xdf\xff\xff\xff\xff")), ErrMalformed},
		{"forged skipped array", "", plainPacket([]byte("\x83\xa1x\xdd\xff\xff\xff\xff")), ErrMalformed},
		{"forged port array", "", plainPacket([]byte("\x82\xa4port\xdd\x61\x30\x30\x30\xc6\x30\x30")), ErrMalformed},
		{"forged port map", "", plainPacket([]byte("\x82\xa4port\xdf\x7f\xff\xff\xff")), ErrMalformed},
		{"forged port bin", "", plainPacket([]byte("\x82\xa4port\xc6\x7f\xff\xff\xff")), ErrMalformed},
		{"version 0", "", withVersion(plainGood, 0, 0), ErrVersion},
		{"version 2", "", withVersion(plainGood, 2, 0), ErrVersion},
		{"unknown flag", "", withVersion(plainGood, 1, 0x02), ErrVersion},
		{"sealed without secret", "", sealedGood, ErrSealed},
		{"plain with secret", "genki", plainGood, ErrNotSealed},
		{"other secret", "genki", sealedOther, ErrAuthentication},
		{"sealed too short", "genki", sealedGood[:headerSize+nonceSize+tagSize-1], ErrMalformed},
		{"sealed truncated", "genki", sealedGood[:len(sealedGood)-1], ErrAuthentication},
		{"sealed extended", "genki", append(bytes.Clone(sealedGood), 0), ErrAuthentication},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustCodec(t, tt.secret).Decode(tt.packet)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %+v, %v; want error %v", got, err, tt.want)
			}
			foreign, unopenable := errors.Is(err, ErrForeign), errors.Is(err, ErrUnopenable)
			if foreign == unopenable {
				t.Errorf("Decode error %v: foreign %v, unopenable %v; want exactly one", err, foreign, unopenable)
			}
		})
	}
}

func TestHeartbeatSealedTamper(t *testing.T) {
	c := mustCodec(t, "genki")
	packet := mustEncode(t, c, Heartbeat{Name: "b@vm", Port: 4370})
	for i := headerSize; i < len(packet); i++ {
		tampered := bytes.Clone(packet)
		tampered[i] ^= 0x01
		if got, err := c.Decode(tampered); !errors.Is(err, ErrAuthentication) {
			t.Errorf("Decode with byte %d flipped = %+v, %v; want %v", i, got, err, ErrAuthentication)
		}
	}
}

func TestHeartbeatDecodeSkipsUnknownKeys(t *testing.T) {
	body := msgpackBody(t,
		"zone", "eu",
		"name", "b@vm",
		"meta", map[string]any{"x": []any{1, "y", nil}},
		"port", 4370)
	got, err := mustCodec(t, "").Decode(plainPacket(body))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if want := (Heartbeat{Name: "b@vm", Port: 4370}); got != want {
		t.Errorf("Decode = %+v, want %+v", got, want)
	}
}

func TestHeartbeatEncodeRejects(t *testing.T) {
	tests := []struct {
		name string
		hb   Heartbeat
	}{
		{"empty name", Heartbeat{Name: "", Port: 1}},
		{"no host", Heartbeat{Name: "a", Port: 1}},
		{"no local part", Heartbeat{Name: "@vm", Port: 1}},
		{"control char", Heartbeat{Name: "a\x00@vm", Port: 1}},
		{"too long", Heartbeat{Name: strings.Repeat("a", MaxNameSize) + "@vm", Port: 1}},
		{"port zero", Heartbeat{Name: "a@vm", Port: 0}},
		{"port too large", Heartbeat{Name: "a@vm", Port: 65536}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, secret := range []string{"", "genki"} {
				if packet, err := mustCodec(t, secret).Encode(tt.hb); err == nil {
					t.Errorf("Encode(%+v) with secret %q = %q, want an error", tt.hb, secret, packet)
				}
			}
		})
	}
}
