package transport

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/gonode/gonode/transport/wire"
)

// maxUint32 is the largest body length that the 4-byte length header
// carries.
const maxUint32 = math.MaxUint32

// noArrayLimit lets ReadArrayLen bound an array's length only by the bytes
// left in the body, which the maximum frame size already bounds.
const noArrayLimit = math.MaxInt

// FrameType is the first element of a frame body. Numbers are append-only:
// a number, once used, is never reused for another layout, and new fields
// are only ever added at the end of a layout. A decoder skips trailing
// fields it does not know, so an older node can read a newer node's frames.
//
// In the layouts below, uint is any msgpack integer form with a
// non-negative value, str and bin accept either msgpack str or bin (and nil
// as empty), and [32]bin is a binary of exactly 32 bytes, which the
// handshake checks.
type FrameType uint8

const (
	// FrameTick is a frame with an empty body: 4 zero bytes on the wire and
	// no msgpack. It only proves that the sender is alive. Type 0 is never
	// used inside a msgpack body.
	FrameTick FrameType = 0

	// FrameHello opens the handshake, client to server:
	//	[1, version uint, name str, nonce [32]bin, flags uint, creation uint]
	// flags is a set of Flag bits, and creation identifies this run of the
	// client node (see Config.Creation). Both read as 0 when missing.
	FrameHello FrameType = 1

	// FrameStatus is the server's verdict on a hello, or a rejection of the
	// client's reply:
	//	[2, code uint, reason str, name str, nonce bin, flags uint, creation uint]
	// With StatusOK, name is the server's node name, nonce its 32-byte
	// challenge, and flags and creation are the server's, as in FrameHello.
	// Otherwise name and nonce are empty, flags and creation are 0 or
	// missing, and reason is a human-readable explanation.
	FrameStatus FrameType = 2

	// FrameReply is the client's proof of the cookie, client to server:
	//	[3, digest [32]bin]
	FrameReply FrameType = 3

	// FrameAck is the server's proof of the cookie, server to client, and
	// ends the handshake:
	//	[4, digest [32]bin]
	FrameAck FrameType = 4

	// FrameMessage carries one message to the registered name to:
	//	[5, to str, from str, payload bin]
	// The payload is opaque to the transport (a msgpack term for gonode).
	FrameMessage FrameType = 5

	// FramePing asks the peer to send a FramePong with the same id:
	//	[6, id uint]
	FramePing FrameType = 6

	// FramePong returns the id of a FramePing:
	//	[7, id uint]
	FramePong FrameType = 7

	// FrameGoodbye announces that the sender closes the connection:
	//	[8, reason str]
	FrameGoodbye FrameType = 8

	// FrameCall requests that the peer run method on payload and send a
	// FrameCallReply with the same id (see Conn.Call):
	//	[9, id uint, method str, payload bin, timeout uint]
	// The payload is opaque to the transport. timeout is how many
	// milliseconds the caller waits, 0 for no limit, and the peer bounds
	// the call by the smaller of it and MaxCallDuration. A call with an
	// empty method cancels the caller's call of that id, and gets no
	// reply. Only peers of handshake version 3 or later send or accept
	// it.
	FrameCall FrameType = 9

	// FrameCallReply returns the result of the FrameCall with the same
	// id:
	//	[10, id uint, error str, payload bin]
	// An empty error means success, and payload is the result. Otherwise
	// error is a human-readable message and payload is empty.
	FrameCallReply FrameType = 10

	// FramePeers carries the sender's visible peers, for the transitive
	// mesh (Erlang's connect_all):
	//	[11, listen_port uint, peers [[name str, addr str], ...]]
	// listen_port is the TCP port the sender listens on, or 0. Each entry
	// names a node the sender is connected to and the transport address
	// (host:port) the sender reaches it at, empty when it has none that
	// other hosts can use. A node sends it after a connection comes up
	// and when its set of visible peers changes, at most MaxPeerEntries
	// entries. Entries may carry further fields after addr. Numbers 9 and
	// 10 are taken by the remote call frames.
	FramePeers FrameType = 11
)

// Flag is a bit of the flags field of FrameHello and FrameStatus. Bits
// are append-only, and a bit this version does not know is ignored.
type Flag uint64

const (
	// FlagEncrypt says that the sender seals every frame after the
	// handshake (see Config.NoEncrypt). Both sides must agree, or the
	// server rejects the client with StatusEncryption.
	FlagEncrypt Flag = 1 << 0

	// FlagHidden marks the sender as a hidden node (--hidden): a
	// connection with a hidden node on either side is hidden on both, so
	// it is left out of Node.list and of the peer lists of FramePeers.
	// The two sides may differ in this bit.
	FlagHidden Flag = 1 << 1
)

// frameHeaderSize is the size of the big-endian length before each body.
const frameHeaderSize = 4

var frameTypeNames = [...]string{
	FrameTick:      "tick",
	FrameHello:     "hello",
	FrameStatus:    "status",
	FrameReply:     "reply",
	FrameAck:       "ack",
	FrameMessage:   "message",
	FramePing:      "ping",
	FramePong:      "pong",
	FrameGoodbye:   "goodbye",
	FrameCall:      "call",
	FrameCallReply: "call_reply",
	FramePeers:     "peers",
}

func (t FrameType) String() string {
	if int(t) < len(frameTypeNames) && frameTypeNames[t] != "" {
		return frameTypeNames[t]
	}
	return fmt.Sprintf("frame type %d", uint8(t))
}

// Frame is one decoded frame. Only the fields that the layout of Type
// lists are used: Version, Name, Nonce, Flags and Creation for hello;
// Status, Reason, Name, Nonce, Flags and Creation for status; Digest for reply and ack; To, From and Payload for
// message; ID for ping and pong; Reason for goodbye; ID, Method, Payload
// and Timeout for call; ID, Reason (the error) and Payload for call
// reply; ListenPort, Peers and PeersSkipped for peers. A frame of an
// unknown type decodes with only Type set.
type Frame struct {
	Type     FrameType
	Version  uint64
	Status   Status
	Name     string
	Reason   string
	Nonce    []byte
	Flags    Flag
	Creation uint64
	Digest   []byte
	To       string
	From     string
	Payload  []byte
	ID       uint64
	Method   string
	Timeout  uint64 // milliseconds

	ListenPort   uint16
	Peers        []PeerAddr
	PeersSkipped int // entries past MaxPeerEntries that the decoder dropped
}

// AppendFrame appends f's length header and body to dst and returns the
// extended slice. It fails with ErrFrameTooLarge when the body would exceed
// maxSize bytes (0 means DefaultMaxFrameSize), and on an unknown type.
func AppendFrame(dst []byte, f *Frame, maxSize int) ([]byte, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	maxSize = min(maxSize, maxUint32)
	size, err := bodySize(f)
	if err != nil {
		return dst, err
	}
	if size > maxSize {
		return dst, fmt.Errorf("%w: %s body of %d bytes exceeds the maximum %d", ErrFrameTooLarge, f.Type, size, maxSize)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	switch f.Type {
	case FrameTick:
	case FrameHello:
		dst = wire.AppendArrayHeader(dst, 6)
		dst = append(dst, byte(f.Type))
		dst = wire.AppendUint(dst, f.Version)
		dst = wire.AppendStr(dst, f.Name)
		dst = append(wire.AppendBinHeader(dst, len(f.Nonce)), f.Nonce...)
		dst = wire.AppendUint(dst, uint64(f.Flags))
		dst = wire.AppendUint(dst, f.Creation)
	case FrameStatus:
		dst = wire.AppendArrayHeader(dst, 7)
		dst = append(dst, byte(f.Type))
		dst = wire.AppendUint(dst, uint64(f.Status))
		dst = wire.AppendStr(dst, f.Reason)
		dst = wire.AppendStr(dst, f.Name)
		dst = append(wire.AppendBinHeader(dst, len(f.Nonce)), f.Nonce...)
		dst = wire.AppendUint(dst, uint64(f.Flags))
		dst = wire.AppendUint(dst, f.Creation)
	case FrameReply, FrameAck:
		dst = wire.AppendArrayHeader(dst, 2)
		dst = append(dst, byte(f.Type))
		dst = append(wire.AppendBinHeader(dst, len(f.Digest)), f.Digest...)
	case FrameMessage:
		dst = appendMessageBody(dst, f.To, f.From, f.Payload)
	case FramePing, FramePong:
		dst = appendControl(dst, f.Type, f.ID)
	case FrameGoodbye:
		dst = wire.AppendArrayHeader(dst, 2)
		dst = append(dst, byte(f.Type))
		dst = wire.AppendStr(dst, f.Reason)
	case FrameCall:
		dst = wire.AppendArrayHeader(dst, 5)
		dst = append(dst, byte(f.Type))
		dst = wire.AppendUint(dst, f.ID)
		dst = wire.AppendStr(dst, f.Method)
		dst = append(wire.AppendBinHeader(dst, len(f.Payload)), f.Payload...)
		dst = wire.AppendUint(dst, f.Timeout)
	case FrameCallReply:
		dst = wire.AppendArrayHeader(dst, 4)
		dst = append(dst, byte(f.Type))
		dst = wire.AppendUint(dst, f.ID)
		dst = wire.AppendStr(dst, f.Reason)
		dst = append(wire.AppendBinHeader(dst, len(f.Payload)), f.Payload...)
	case FramePeers:
		dst = appendPeersBody(dst, f)
	}
	return dst, nil
}

// bodySize returns the encoded size of f's body without encoding it.
func bodySize(f *Frame) (int, error) {
	var n int
	switch f.Type {
	case FrameTick:
		return 0, nil
	case FrameHello:
		n = 2 + wire.UintSize(f.Version) + strSize(f.Name) + binSize(f.Nonce) + wire.UintSize(uint64(f.Flags)) + wire.UintSize(f.Creation)
	case FrameStatus:
		n = 2 + wire.UintSize(uint64(f.Status)) + strSize(f.Reason) + strSize(f.Name) + binSize(f.Nonce) + wire.UintSize(uint64(f.Flags)) + wire.UintSize(f.Creation)
	case FrameReply, FrameAck:
		n = 2 + binSize(f.Digest)
	case FrameMessage:
		n = messageBodySize(f.To, f.From, len(f.Payload))
	case FramePing, FramePong:
		n = 2 + wire.UintSize(f.ID)
	case FrameGoodbye:
		n = 2 + strSize(f.Reason)
	case FrameCall:
		n = 2 + wire.UintSize(f.ID) + strSize(f.Method) + binSize(f.Payload) + wire.UintSize(f.Timeout)
	case FrameCallReply:
		n = 2 + wire.UintSize(f.ID) + strSize(f.Reason) + binSize(f.Payload)
	case FramePeers:
		n = peersBodySize(f)
	default:
		return 0, fmt.Errorf("encode frame: unknown %s", f.Type)
	}
	return n, nil
}

func strSize(s string) int { return wire.StrHeaderSize(len(s)) + len(s) }
func binSize(b []byte) int { return wire.BinHeaderSize(len(b)) + len(b) }

// messageBodySize returns the body size of a message frame.
func messageBodySize(to, from string, payloadLen int) int {
	return 2 + strSize(to) + strSize(from) + wire.BinHeaderSize(payloadLen) + payloadLen
}

// appendMessageBody appends a message body, without the length header.
func appendMessageBody(dst []byte, to, from string, payload []byte) []byte {
	dst = append(dst, 0x94, byte(FrameMessage))
	dst = wire.AppendStr(dst, to)
	dst = wire.AppendStr(dst, from)
	dst = wire.AppendBinHeader(dst, len(payload))
	return append(dst, payload...)
}

// appendControl appends a ping or pong body, without the length header.
func appendControl(dst []byte, t FrameType, id uint64) []byte {
	dst = append(dst, 0x92, byte(t))
	return wire.AppendUint(dst, id)
}

// DecodeFrame decodes a frame body, without its length header, into f. The
// byte fields of f (Nonce, Digest, Payload) alias body. An empty body is a
// tick. The error wraps ErrMalformedFrame.
func DecodeFrame(body []byte, f *Frame) error {
	return decodeFrame(body, f, nil)
}

// internCache keeps the last message addresses, so that a stream of
// messages between the same names converts them to strings only once.
type internCache struct {
	to, from string
}

func intern(last *string, b []byte) string {
	// The compiler does not allocate for this comparison.
	if string(b) == *last {
		return *last
	}
	*last = string(b)
	return *last
}

func decodeFrame(body []byte, f *Frame, cache *internCache) error {
	*f = Frame{}
	if len(body) == 0 {
		return nil
	}
	d := wire.NewDecoder(body, ErrMalformedFrame)
	fields, err := d.ReadArrayLen(noArrayLimit)
	if err != nil {
		return err
	}
	if fields == 0 {
		return d.Errorf("empty array has no frame type")
	}
	t, err := d.ReadUint()
	if err != nil {
		return err
	}
	if t == 0 || t > 0xff {
		return d.Errorf("invalid frame type %d", t)
	}
	f.Type = FrameType(t)
	known, err := decodeFields(&d, f, fields-1, cache)
	if err != nil {
		return fmt.Errorf("decode %s: %w", f.Type, err)
	}
	for range fields - 1 - known {
		if err := d.Skip(0); err != nil {
			return fmt.Errorf("decode %s: %w", f.Type, err)
		}
	}
	if d.Remaining() != 0 {
		return fmt.Errorf("decode %s: %w", f.Type, d.Errorf("%d bytes after the frame", d.Remaining()))
	}
	return nil
}

// decodeFields decodes the fields that f.Type defines and returns how many
// it read. fields is the number of array elements after the type.
func decodeFields(d *wire.Decoder, f *Frame, fields int, cache *internCache) (int, error) {
	n, err := decodeRequired(d, f, fields, cache)
	if err != nil || (f.Type != FrameHello && f.Type != FrameStatus) {
		return n, err
	}
	// flags and creation, which a peer may leave out.
	if n < fields {
		var flags uint64
		if flags, err = d.ReadUint(); err != nil {
			return n, err
		}
		f.Flags = Flag(flags)
		n++
	}
	if n < fields {
		if f.Creation, err = d.ReadUint(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// decodeRequired decodes the fields that every frame of f.Type has.
func decodeRequired(d *wire.Decoder, f *Frame, fields int, cache *internCache) (int, error) {
	var want int
	switch f.Type {
	case FrameHello:
		want = 3
	case FrameStatus:
		want = 4
	case FrameReply, FrameAck, FramePing, FramePong, FrameGoodbye:
		want = 1
	case FrameMessage, FrameCallReply:
		want = 3
	case FrameCall:
		want = 4
	case FramePeers:
		want = 2
	default:
		// An unknown type: the caller skips every field.
		return 0, nil
	}
	if fields < want {
		return 0, d.Errorf("%d fields, want at least %d", fields, want)
	}
	var err error
	switch f.Type {
	case FrameHello:
		if f.Version, err = d.ReadUint(); err != nil {
			return 0, err
		}
		if f.Name, err = readString(d); err != nil {
			return 0, err
		}
		f.Nonce, err = d.ReadBytes()
	case FrameStatus:
		var code uint64
		if code, err = d.ReadUint(); err != nil {
			return 0, err
		}
		if code > 0xff {
			return 0, d.Errorf("status code %d out of range", code)
		}
		f.Status = Status(code)
		if f.Reason, err = readString(d); err != nil {
			return 0, err
		}
		if f.Name, err = readString(d); err != nil {
			return 0, err
		}
		f.Nonce, err = d.ReadBytes()
	case FrameReply, FrameAck:
		f.Digest, err = d.ReadBytes()
	case FrameMessage:
		err = decodeMessage(d, f, cache)
	case FramePing, FramePong:
		f.ID, err = d.ReadUint()
	case FrameGoodbye:
		f.Reason, err = readString(d)
	case FrameCall:
		err = decodeCall(d, f)
	case FrameCallReply:
		if f.ID, err = d.ReadUint(); err != nil {
			return 0, err
		}
		if f.Reason, err = readString(d); err != nil {
			return 0, err
		}
		f.Payload, err = d.ReadBytes()
	case FramePeers:
		err = decodePeers(d, f)
	}
	return want, err
}

func decodeMessage(d *wire.Decoder, f *Frame, cache *internCache) error {
	to, err := d.ReadBytes()
	if err != nil {
		return err
	}
	from, err := d.ReadBytes()
	if err != nil {
		return err
	}
	if f.Payload, err = d.ReadBytes(); err != nil {
		return err
	}
	if cache == nil {
		f.To, f.From = string(to), string(from)
		return nil
	}
	f.To = intern(&cache.to, to)
	f.From = intern(&cache.from, from)
	return nil
}

func decodeCall(d *wire.Decoder, f *Frame) error {
	var err error
	if f.ID, err = d.ReadUint(); err != nil {
		return err
	}
	if f.Method, err = readString(d); err != nil {
		return err
	}
	if f.Payload, err = d.ReadBytes(); err != nil {
		return err
	}
	f.Timeout, err = d.ReadUint()
	return err
}

func readString(d *wire.Decoder) (string, error) {
	b, err := d.ReadBytes()
	return string(b), err
}

// FrameReader reads frames from a stream. It is not safe for concurrent
// use.
type FrameReader struct {
	r       *bufio.Reader
	maxSize int
	header  [frameHeaderSize]byte
	buf     []byte
	cache   internCache
	open    *frameCipher // set after the handshake when frames are sealed
}

// readBufferSize is the size of a FrameReader's bufio.Reader.
const readBufferSize = 64 << 10

// maxRetainedBuffer is the largest frame buffer a FrameReader keeps
// between frames. A larger frame gets a buffer of its own, so one big
// message does not pin a megabyte for the life of the connection.
const maxRetainedBuffer = 64 << 10

// NewFrameReader returns a FrameReader that reads from r and rejects
// bodies larger than maxSize bytes (0 means DefaultMaxFrameSize).
func NewFrameReader(r io.Reader, maxSize int) *FrameReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxFrameSize
	}
	return &FrameReader{r: bufio.NewReaderSize(r, readBufferSize), maxSize: maxSize}
}

// ReadFrame reads the next frame into f. The byte fields of f (Nonce,
// Digest, Payload) alias the reader's buffer and are valid only until the
// next call. A length above the maximum fails with ErrFrameTooLarge before
// any body is read or allocated. A stream that ends between frames returns
// io.EOF, and one that ends inside a frame returns io.ErrUnexpectedEOF.
// On a connection that seals its frames, a frame that fails to open
// returns ErrFrameAuth.
func (fr *FrameReader) ReadFrame(f *Frame) error {
	if _, err := io.ReadFull(fr.r, fr.header[:]); err != nil {
		return err
	}
	size := binary.BigEndian.Uint32(fr.header[:])
	limit := uint64(fr.maxSize)
	if fr.open != nil {
		limit += sealOverhead
	}
	if uint64(size) > limit {
		return fmt.Errorf("%w: length %d exceeds the maximum %d", ErrFrameTooLarge, size, limit)
	}
	body := fr.body(int(size))
	if _, err := io.ReadFull(fr.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if fr.open != nil {
		var err error
		if body, err = fr.open.open(fr.header[:], body); err != nil {
			return err
		}
	}
	return decodeFrame(body, f, &fr.cache)
}

func (fr *FrameReader) body(size int) []byte {
	if size > maxRetainedBuffer {
		return make([]byte, size)
	}
	if cap(fr.buf) < size {
		fr.buf = make([]byte, min(max(size, 2*cap(fr.buf), 512), maxRetainedBuffer))
	}
	return fr.buf[:size]
}
