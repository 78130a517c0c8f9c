package discovery

import (
	"errors"
	"testing"
)

// FuzzHeartbeatDecode checks that Decode never panics, sorts every error
// into exactly one kind, and that whatever it accepts encodes back to a
// packet that decodes to the same heartbeat.
func FuzzHeartbeatDecode(f *testing.F) {
	plain := mustCodec(f, "")
	sealed := mustCodec(f, "fuzz")
	hb := Heartbeat{Name: "b@vm", Port: 4370}
	f.Add(mustEncode(f, plain, hb))
	f.Add(mustEncode(f, sealed, hb))
	f.Add(plainPacket(msgpackBody(f, "zone", "eu", "name", "b@vm", "port", 1)))
	f.Add([]byte("heartbeat::\x83t\x00\x00\x00\x01"))
	f.Add([]byte("gnhb\x02\x00"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, packet []byte) {
		for _, c := range []*HeartbeatCodec{plain, sealed} {
			got, err := c.Decode(packet)
			if err != nil {
				if errors.Is(err, ErrForeign) == errors.Is(err, ErrUnopenable) {
					t.Fatalf("Decode(%q) error %v is not of exactly one kind", packet, err)
				}
				continue
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("Decode(%q) = %+v, which is invalid: %v", packet, got, err)
			}
			again, err := c.Encode(got)
			if err != nil {
				t.Fatalf("Encode(%+v) after Decode: %v", got, err)
			}
			back, err := c.Decode(again)
			if err != nil {
				t.Fatalf("Decode(Encode(%+v)): %v", got, err)
			}
			if back != got {
				t.Fatalf("Decode(Encode(%+v)) = %+v", got, back)
			}
		}
	})
}
