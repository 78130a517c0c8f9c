// Package transport carries messages between two gonode nodes over TCP.
//
// A connection starts with a challenge/response handshake in which both
// sides prove that they know the shared cookie without sending it (see
// [Dial], [Accept] and [HandshakeVersion]). After the handshake the owner
// decides whether to keep the connection and calls [Conn.Start], which runs
// one reader and one writer goroutine. Messages are opaque byte payloads
// addressed by a registered name; the transport does not look inside them.
//
// Every frame on the wire is a 4-byte big-endian length followed by that
// many bytes of body. A body of length zero is a tick. Any other body is a
// msgpack array whose first element is the [FrameType]. The layout of each
// frame type is documented at its constant.
//
// After the handshake, every frame is sealed with AES-256-GCM. Each
// direction has its own key, derived with HKDF-SHA-256 from the cookie and
// both handshake nonces, and the GCM nonce counts the frames. So a frame
// cannot be read, altered, replayed, dropped or reordered.
// [Config.NoEncrypt] turns this off, and both sides must agree. seal.go
// documents the construction in full.
//
// Liveness follows Erlang's net_kernel ticks: a side that has sent nothing
// for [Config.TickInterval] sends a tick, and a side that has received
// nothing for [Config.TickTimeout] considers the peer down.
package transport
