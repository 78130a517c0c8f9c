package discovery

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// Heartbeat wire format, version 1. A heartbeat is one UDP datagram:
//
//	offset  size  field
//	0       4     magic, the bytes "gnhb"
//	4       1     version, 1
//	5       1     flags: bit 0 (FlagSealed) is set when the body is sealed;
//	              the other bits are zero
//	6       ...   body, to the end of the datagram
//
// A plain body is a msgpack map with string keys:
//
//	"name"  string   the sender's node name, such as "b@vm"
//	"port"  integer  the TCP port of the sender's transport listener
//
// A decoder skips keys it does not know, so a later version may add some.
// The sender's IP address is the datagram's source address, so it is not in
// the body. The body never carries a cookie or a gossip secret.
//
// A sealed body is a 12-byte random nonce followed by the AES-256-GCM
// ciphertext of the plain body, tag included, with the 6-byte header as
// additional data. The key is 32 bytes of HKDF-SHA256 (RFC 5869) over the
// gossip secret, with no salt and the info string "gonode gossip heartbeat v1".
const (
	// HeartbeatMagic is the first four bytes of every heartbeat.
	HeartbeatMagic = "gnhb"
	// HeartbeatVersion is the version of the layout above.
	HeartbeatVersion = 1
	// FlagSealed marks a heartbeat whose body is sealed with AES-256-GCM.
	FlagSealed = 1 << 0

	// MaxPacketSize is the size of the largest datagram a decoder accepts.
	MaxPacketSize = 1024
	// MaxNameSize is the maximum length of a node name in bytes. Erlang
	// limits atoms, and so node names, to 255 characters, so this limit is
	// stricter than Erlang's for names outside ASCII.
	MaxNameSize = 255

	headerSize = len(HeartbeatMagic) + 2
	nonceSize  = 12
	tagSize    = 16

	// maxBodyEntries bounds the map in a body, known keys included.
	maxBodyEntries = 16

	sealKeyInfo = "gonode gossip heartbeat v1"
)

// libclusterPrefix starts each plain heartbeat of libcluster's Gossip
// strategy; its body is an Erlang term, which gonode does not decode.
const libclusterPrefix = "heartbeat::"

// ErrForeign and ErrUnopenable are the two kinds of decode failure;
// errors.Is matches every Decode error to one of them. A foreign packet is
// not a gonode heartbeat at all (another program, a truncated or forged
// packet). An unopenable one is a heartbeat from a gonode node that this
// node cannot read, which usually means the two were set up differently.
var (
	ErrForeign    = errors.New("not a gonode heartbeat")
	ErrUnopenable = errors.New("cannot open gonode heartbeat")
)

// Decode errors, each of kind ErrForeign or ErrUnopenable. Errors about a
// particular packet wrap them with detail.
var (
	ErrLibcluster = &codecError{ErrForeign, "libcluster heartbeat, not a gonode one"}
	ErrMalformed  = &codecError{ErrForeign, "malformed heartbeat"}
	// ErrVersion is also the error for unknown flags, which only a later
	// version sets.
	ErrVersion        = &codecError{ErrUnopenable, "unsupported heartbeat version"}
	ErrSealed         = &codecError{ErrUnopenable, "heartbeat is sealed but no gossip secret is set"}
	ErrNotSealed      = &codecError{ErrUnopenable, "heartbeat is not sealed but a gossip secret is set"}
	ErrAuthentication = &codecError{ErrUnopenable, "heartbeat authentication failed"}
)

// codecError is a decode error that errors.Is also matches to its kind.
type codecError struct {
	kind error
	text string
}

func (e *codecError) Error() string { return e.text }
func (e *codecError) Unwrap() error { return e.kind }

// Heartbeat is the content of one heartbeat.
type Heartbeat struct {
	// Name is the sender's node name, such as "b@vm".
	Name string
	// Port is the TCP port of the sender's transport listener.
	Port int
}

// Validate returns an error when h cannot be sent: the name must be valid
// UTF-8 of at most MaxNameSize bytes, without control characters, of the
// form "name@host" with both parts non-empty, and the port must be in
// 1..65535.
func (h Heartbeat) Validate() error {
	if err := validateNodeName(h.Name); err != nil {
		return err
	}
	if h.Port < 1 || h.Port > 65535 {
		return fmt.Errorf("transport port %d out of range 1..65535", h.Port)
	}
	return nil
}

func validateNodeName(name string) error {
	if len(name) > MaxNameSize {
		return fmt.Errorf("node name of %d bytes exceeds the maximum of %d", len(name), MaxNameSize)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("node name %q is not valid UTF-8", name)
	}
	if strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("node name %q contains a control character", name)
	}
	local, host, found := strings.Cut(name, "@")
	if !found || local == "" || host == "" || strings.Contains(host, "@") {
		return fmt.Errorf("node name %q is not of the form name@host", name)
	}
	return nil
}

// HeartbeatCodec encodes and decodes heartbeats, sealed when it was made
// with a secret. It is safe for concurrent use.
type HeartbeatCodec struct {
	aead cipher.AEAD // nil when there is no secret
}

// NewHeartbeatCodec returns a codec that seals and opens heartbeats with a
// key derived from secret, or a plain codec when secret is empty.
func NewHeartbeatCodec(secret []byte) (*HeartbeatCodec, error) {
	if len(secret) == 0 {
		return &HeartbeatCodec{}, nil
	}
	key, err := hkdf.Key(sha256.New, secret, nil, sealKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive heartbeat key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("make heartbeat cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("make heartbeat cipher: %w", err)
	}
	return &HeartbeatCodec{aead: aead}, nil
}

// Sealed reports whether c seals the heartbeats it encodes.
func (c *HeartbeatCodec) Sealed() bool { return c.aead != nil }

// Encode returns h as a datagram. A sealing codec uses a fresh random nonce
// on each call, so two encodings of one heartbeat differ.
func (c *HeartbeatCodec) Encode(h Heartbeat) ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("encode heartbeat: %w", err)
	}
	var body bytes.Buffer
	e := msgpack.NewEncoder(&body)
	// The encoder writes to memory, so these calls cannot fail.
	_ = e.EncodeMapLen(2)
	_ = e.EncodeString("name")
	_ = e.EncodeString(h.Name)
	_ = e.EncodeString("port")
	_ = e.EncodeInt(int64(h.Port))

	packet := make([]byte, headerSize, headerSize+nonceSize+body.Len()+tagSize)
	copy(packet, HeartbeatMagic)
	packet[len(HeartbeatMagic)] = HeartbeatVersion
	if c.aead == nil {
		return append(packet, body.Bytes()...), nil
	}
	packet[len(HeartbeatMagic)+1] = FlagSealed
	header := packet[:headerSize]
	nonce := packet[headerSize : headerSize+nonceSize]
	packet = packet[:headerSize+nonceSize]
	rand.Read(nonce) // since Go 1.24, crypto/rand.Read never returns an error
	return c.aead.Seal(packet, nonce, body.Bytes(), header), nil
}

// Decode returns the heartbeat in packet. Every error matches ErrForeign or
// ErrUnopenable with errors.Is, and names the reason.
func (c *HeartbeatCodec) Decode(packet []byte) (Heartbeat, error) {
	if len(packet) > MaxPacketSize {
		return Heartbeat{}, fmt.Errorf("%w: packet of %d bytes exceeds the maximum of %d", ErrMalformed, len(packet), MaxPacketSize)
	}
	if bytes.HasPrefix(packet, []byte(libclusterPrefix)) {
		return Heartbeat{}, ErrLibcluster
	}
	if len(packet) < headerSize || string(packet[:len(HeartbeatMagic)]) != HeartbeatMagic {
		return Heartbeat{}, ErrForeign
	}
	version, flags := packet[len(HeartbeatMagic)], packet[len(HeartbeatMagic)+1]
	if version != HeartbeatVersion {
		return Heartbeat{}, fmt.Errorf("%w %d (this node speaks %d)", ErrVersion, version, HeartbeatVersion)
	}
	if flags&^FlagSealed != 0 {
		return Heartbeat{}, fmt.Errorf("%w: unknown flags %#02x", ErrVersion, flags&^FlagSealed)
	}
	body, err := c.open(packet, flags&FlagSealed != 0)
	if err != nil {
		return Heartbeat{}, err
	}
	return decodeBody(body)
}

// open returns the plain body of packet, whose header has been checked.
func (c *HeartbeatCodec) open(packet []byte, sealed bool) ([]byte, error) {
	switch {
	case !sealed && c.aead == nil:
		return packet[headerSize:], nil
	case !sealed:
		return nil, ErrNotSealed
	case c.aead == nil:
		return nil, ErrSealed
	}
	if len(packet) < headerSize+nonceSize+tagSize {
		return nil, fmt.Errorf("%w: sealed packet of %d bytes is too short", ErrMalformed, len(packet))
	}
	header := packet[:headerSize]
	nonce := packet[headerSize : headerSize+nonceSize]
	body, err := c.aead.Open(nil, nonce, packet[headerSize+nonceSize:], header)
	if err != nil {
		return nil, ErrAuthentication
	}
	return body, nil
}

// decodeBody decodes a plain body and checks its fields.
func decodeBody(body []byte) (Heartbeat, error) {
	r := bytes.NewReader(body)
	d := msgpack.NewDecoder(r)
	n, err := d.DecodeMapLen()
	if err != nil {
		return Heartbeat{}, fmt.Errorf("%w: body: %v", ErrMalformed, err)
	}
	if n < 0 || n > maxBodyEntries {
		return Heartbeat{}, fmt.Errorf("%w: body map of %d entries, want 2..%d", ErrMalformed, n, maxBodyEntries)
	}

	var h Heartbeat
	var haveName, havePort bool
	for range n {
		key, err := d.DecodeString()
		if err != nil {
			return Heartbeat{}, fmt.Errorf("%w: body key: %v", ErrMalformed, err)
		}
		switch key {
		case "name":
			if haveName {
				return Heartbeat{}, fmt.Errorf("%w: duplicate key %q", ErrMalformed, key)
			}
			haveName = true
			h.Name, err = d.DecodeString()
		case "port":
			if havePort {
				return Heartbeat{}, fmt.Errorf("%w: duplicate key %q", ErrMalformed, key)
			}
			havePort = true
			h.Port, err = decodePort(d)
		default:
			err = d.Skip()
		}
		if err != nil {
			return Heartbeat{}, fmt.Errorf("%w: body value for %q: %v", ErrMalformed, key, err)
		}
	}

	if r.Len() != 0 {
		return Heartbeat{}, fmt.Errorf("%w: %d bytes after the body", ErrMalformed, r.Len())
	}
	if !haveName || !havePort {
		return Heartbeat{}, fmt.Errorf("%w: body lacks the name or the port", ErrMalformed)
	}
	if err := h.Validate(); err != nil {
		return Heartbeat{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return h, nil
}

// decodePort decodes a port number, which must be a msgpack integer that
// fits in 16 bits. The range 1..65535 is checked by Validate. It looks at
// the type code first, so that a forged packet cannot make the decoder
// build a value of another type, such as an array of a billion entries.
func decodePort(d *msgpack.Decoder) (int, error) {
	c, err := d.PeekCode()
	if err != nil {
		return 0, err
	}
	var port int64
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Int8, c == msgpcode.Int16, c == msgpcode.Int32, c == msgpcode.Int64:
		port, err = d.DecodeInt64()
	case c == msgpcode.Uint8, c == msgpcode.Uint16, c == msgpcode.Uint32, c == msgpcode.Uint64:
		var u uint64
		u, err = d.DecodeUint64()
		if err == nil && u > 65535 {
			return 0, fmt.Errorf("port %d out of range 1..65535", u)
		}
		port = int64(u)
	default:
		return 0, fmt.Errorf("port is not an integer (msgpack type code 0x%02x)", c)
	}
	if err != nil {
		return 0, err
	}
	if port < 0 || port > 65535 {
		return 0, fmt.Errorf("port %d out of range 1..65535", port)
	}
	return int(port), nil
}
