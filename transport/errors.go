package transport

import "errors"

// Errors returned by the handshake. Both sides return the same sentinel for
// a rejection: the side that rejects returns it from [Accept], and the side
// that is rejected returns it from [Dial]. Each is wrapped in a
// [*HandshakeError], so test them with [errors.Is].
var (
	// ErrBadCookie means that a peer's proof of the cookie did not verify,
	// or that the peer rejected our proof: the two nodes have different
	// cookies.
	ErrBadCookie = errors.New("bad cookie")

	// ErrAlreadyConnected means that the server already has a connection
	// to the client's node (status alive).
	ErrAlreadyConnected = errors.New("already connected")

	// ErrNameInUse means that the client claimed a node name that the
	// server uses itself or that another connection holds.
	ErrNameInUse = errors.New("node name in use")

	// ErrNotAllowed means that the server rejected the client for another
	// reason, such as an invalid node name or a local policy.
	ErrNotAllowed = errors.New("connection not allowed")

	// ErrVersion means that the two sides do not speak a common handshake
	// version.
	ErrVersion = errors.New("unsupported handshake version")

	// ErrHandshakeTimeout means that the handshake did not finish within
	// [Config.HandshakeTimeout].
	ErrHandshakeTimeout = errors.New("handshake timed out")

	// ErrPeerMismatch means that the server proved a node name other than
	// the one the client dialed.
	ErrPeerMismatch = errors.New("peer name mismatch")

	// ErrEncryptionMismatch means that one side seals frames and the
	// other does not (Config.NoEncrypt differs), so they cannot talk.
	ErrEncryptionMismatch = errors.New("frame encryption mismatch")

	// ErrProtocol means that the peer sent a frame that is valid on its own
	// but not allowed at that point, or a field with an invalid value.
	ErrProtocol = errors.New("protocol violation")
)

// Errors of the frame codec.
var (
	// ErrFrameTooLarge means that a frame's length exceeds the maximum
	// frame size. A reader returns it before allocating the body.
	ErrFrameTooLarge = errors.New("frame too large")

	// ErrMalformedFrame means that a frame body is not a valid encoding of
	// any frame.
	ErrMalformedFrame = errors.New("malformed frame")

	// ErrFrameAuth means that a sealed frame failed to open: its bytes
	// were altered, or it was replayed, reordered, dropped before, or
	// sealed under another key.
	ErrFrameAuth = errors.New("frame authentication failed")

	// ErrKeyLimit means that a connection sealed as much data as one key
	// may seal. The owner dials again to get fresh keys.
	ErrKeyLimit = errors.New("frame key usage limit reached")
)

// Errors of an established connection. One of them, or an I/O error, is
// the reason passed to [Handler.HandleDown].
var (
	// ErrClosed means that the local side closed the connection. Send and
	// Ping on a connection that is down return an error wrapping it.
	ErrClosed = errors.New("connection closed")

	// ErrClosedByPeer means that the peer sent goodbye.
	ErrClosedByPeer = errors.New("connection closed by peer")

	// ErrTickTimeout means that nothing arrived from the peer for
	// [Config.TickTimeout].
	ErrTickTimeout = errors.New("tick timeout")

	// ErrNotStarted means that Send or Ping was called before [Conn.Start].
	ErrNotStarted = errors.New("connection not started")

	// ErrCallUnsupported means that the peer speaks handshake version 2,
	// which has no call frames, so [Conn.Call] cannot reach it.
	ErrCallUnsupported = errors.New("the peer does not support calls")
)

// Reason returns the Erlang-style word for why a connection went down, for
// logs and node-down events: "net_tick_timeout" for [ErrTickTimeout],
// "disconnect" for [ErrClosed] and [ErrClosedByPeer] (a goodbye or a local
// close), and "connection_closed" for any other error, including nil.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrTickTimeout):
		return "net_tick_timeout"
	case errors.Is(err, ErrClosed), errors.Is(err, ErrClosedByPeer):
		return "disconnect"
	default:
		return "connection_closed"
	}
}
