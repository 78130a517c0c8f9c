package transport

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/gonode/gonode/transport/rawio"
)

// HandshakeVersion is the handshake version this package speaks. Version
// 3 adds FrameCall and FrameCallReply to version 2 and changes nothing
// else, the handshake included.
//
// A server accepts a hello of version MinHandshakeVersion (2) up to
// HandshakeVersion and rejects any other with StatusBadVersion. It keeps
// a connection from a version 2 client like any other: messages, pings,
// ticks and goodbye work, and Conn.Call fails at once with
// ErrCallUnsupported, because a version 2 node skips call frames without
// a reply. A client always sends HandshakeVersion, so a version 2 server
// rejects a version 3 client: in a cluster of both versions, connections
// between the two are the ones that the version 2 node dials. A server
// that accepted a client speaks the client's version, so the client
// records that as the server's version.
//
// NOTE: the proofs do not cover the version, so a man in the middle can
// lower a client's version 3 to 2, which only makes calls to that client
// fail with ErrCallUnsupported.
//
// The handshake runs in four frames:
//
//	client -> server  hello{version, client name, nonceC, flags, creationC}
//	server -> client  status{code, reason, server name, nonceS, flags, creationS}
//	client -> server  reply{HMAC(cookie, "gonode-v2 client" | nonceS | nonceC | binding)}
//	server -> client  ack{HMAC(cookie, "gonode-v2 server" | nonceC | nonceS | binding)}
//
// The labels still contain v2, because version 3 did not change the
// handshake. Each nonce is 32 bytes from crypto/rand, fresh for each connection. The
// HMAC is HMAC-SHA-256 keyed by the cookie, and binding is the client
// name then the server name, each prefixed by its length in one byte,
// then creationC, creationS and the agreed flags, each as 8 bytes big
// endian. Before the status, the server checks that both sides agree on
// FlagEncrypt (else StatusEncryption) and calls its admit function to
// decide on the claimed name and creation. If the code is not StatusOK,
// the server closes the connection after the status. When the reply does
// not verify, the server sends status{StatusBadCookie} in place of the
// ack and closes. The client checks the ack the same way, so each side
// proves the cookie to the other without sending it. A recorded handshake
// cannot be replayed to either side, because each digest covers the other
// side's fresh nonce, and a digest cannot be reflected, because the two
// labels differ. Because the digests cover the flags, a man in the middle
// cannot turn encryption off without failing the proofs.
//
// The whole handshake, dial included, runs under one deadline of
// Config.HandshakeTimeout. Until the ack, frame bodies are limited to 1024
// bytes, so an unauthenticated peer cannot make a node allocate
// Config.MaxFrameSize. After the ack, frames are sealed as described in
// the package documentation, unless both sides turned encryption off.
//
// The flags in the binding are the agreed FlagEncrypt bit. When either
// side sets another bit (FlagHidden), the binding goes on with the
// client's and then the server's whole flags, 8 bytes each, so the proofs
// cover them too. Without such bits the binding is that of version 2
// before FlagHidden.
const HandshakeVersion = 3

// MinHandshakeVersion is the oldest client version that a server accepts.
const MinHandshakeVersion = 2

// callVersion is the first handshake version that has call frames.
const callVersion = 3

const (
	nonceSize             = 32
	handshakeMaxFrameSize = 1024
	clientProofLabel      = "gonode-v2 client"
	serverProofLabel      = "gonode-v2 server"
)

// Status is the code of a status frame. Numbers are append-only.
type Status uint8

// Status codes. A code this package does not know reads as a rejection
// (ErrNotAllowed).
const (
	// StatusOK accepts the client and carries the server's challenge.
	StatusOK Status = 1
	// StatusAlive rejects a client whose node the server is already
	// connected to.
	StatusAlive Status = 2
	// StatusNameInUse rejects a client that claims the server's own name or
	// a name that is taken.
	StatusNameInUse Status = 3
	// StatusNotAllowed rejects a client for any other reason, such as an
	// invalid name.
	StatusNotAllowed Status = 4
	// StatusBadVersion rejects a hello of an unsupported handshake version.
	StatusBadVersion Status = 5
	// StatusBadCookie rejects a reply whose digest does not verify.
	StatusBadCookie Status = 6
	// StatusEncryption rejects a client whose FlagEncrypt differs from the
	// server's.
	StatusEncryption Status = 7
)

var statusNames = [...]string{
	StatusOK:         "ok",
	StatusAlive:      "alive",
	StatusNameInUse:  "name_in_use",
	StatusNotAllowed: "not_allowed",
	StatusBadVersion: "bad_version",
	StatusBadCookie:  "bad_cookie",
	StatusEncryption: "encryption_mismatch",
}

func (s Status) String() string {
	if int(s) < len(statusNames) && statusNames[s] != "" {
		return statusNames[s]
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// statusErr returns the sentinel error for a rejection with s.
func statusErr(s Status) error {
	switch s {
	case StatusAlive:
		return ErrAlreadyConnected
	case StatusNameInUse:
		return ErrNameInUse
	case StatusBadVersion:
		return ErrVersion
	case StatusBadCookie:
		return ErrBadCookie
	case StatusEncryption:
		return ErrEncryptionMismatch
	default:
		return ErrNotAllowed
	}
}

// rejection returns the error for a rejection with status s and reason,
// which wraps the status's sentinel. A reason that only repeats the
// sentinel or the status name, as older peers send for bad_cookie, is
// replaced, so that the message states it once.
func rejection(s Status, reason string) error {
	sentinel := statusErr(s)
	plain := strings.ReplaceAll(s.String(), "_", " ")
	if reason == "" || strings.EqualFold(reason, sentinel.Error()) || strings.EqualFold(reason, plain) {
		reason = "rejected by the server with status " + s.String()
	}
	return fmt.Errorf("%w: %s", sentinel, reason)
}

// HandshakeError is the error Dial and Accept return when the handshake
// fails. Err wraps one of the handshake sentinels (ErrBadCookie and so
// on), a context error, or an I/O error.
type HandshakeError struct {
	// Peer is the peer's node name when it is known: the name the client
	// claimed, or the name the server sent or the client dialed.
	Peer string
	// Addr is the peer's network address.
	Addr string
	Err  error
}

func (e *HandshakeError) Error() string {
	if e.Peer == "" {
		return fmt.Sprintf("handshake with %s: %v", e.Addr, e.Err)
	}
	return fmt.Sprintf("handshake with %q at %s: %v", e.Peer, e.Addr, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// handshake is the state one side keeps while it runs the handshake.
type handshake struct {
	cfg    Config
	nc     net.Conn
	fr     *FrameReader
	wbuf   []byte
	parent context.Context // the caller's context
	ctx    context.Context // parent bounded by cfg.HandshakeTimeout
	peer   string

	// peerVersion is the peer's handshake version: the client's from its
	// hello, or the client's own once a server accepted it.
	peerVersion uint64
}

// newHandshake applies the handshake deadline to nc. The returned function
// lifts it and reports whether the context was still live.
func newHandshake(parent context.Context, nc net.Conn, cfg Config, deadline time.Time) (*handshake, func() bool, context.CancelFunc) {
	ctx, cancel := context.WithDeadlineCause(parent, deadline, ErrHandshakeTimeout)
	h := &handshake{
		cfg:    cfg,
		nc:     nc,
		fr:     NewFrameReader(rawio.NewReader(nc, cfg.BusyPoll), handshakeMaxFrameSize),
		parent: parent,
		ctx:    ctx,
	}
	deadline, _ = ctx.Deadline()
	nc.SetDeadline(deadline)
	// A canceled context interrupts a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	lift := func() bool {
		if !stop() {
			return false
		}
		nc.SetDeadline(time.Time{})
		return true
	}
	return h, lift, cancel
}

// fail wraps err, which happened during step, for the caller.
func (h *handshake) fail(step string, err error) error {
	switch {
	case h.parent.Err() != nil:
		err = fmt.Errorf("%s: %w", step, context.Cause(h.parent))
	case h.ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%s: %w after %v (%w)", step, ErrHandshakeTimeout, h.cfg.HandshakeTimeout, context.DeadlineExceeded)
	default:
		err = fmt.Errorf("%s: %w", step, err)
	}
	return &HandshakeError{Peer: h.peer, Addr: h.nc.RemoteAddr().String(), Err: err}
}

func (h *handshake) write(f *Frame) error {
	var err error
	h.wbuf, err = AppendFrame(h.wbuf[:0], f, handshakeMaxFrameSize)
	if err != nil {
		return err
	}
	_, err = h.nc.Write(h.wbuf)
	return err
}

// read reads the next frame and checks that it has one of the given types.
func (h *handshake) read(f *Frame, types ...FrameType) error {
	if err := h.fr.ReadFrame(f); err != nil {
		return err
	}
	for _, t := range types {
		if f.Type == t {
			return nil
		}
	}
	return fmt.Errorf("%w: got %s, want %v", ErrProtocol, f.Type, types)
}

// sendStatus sends a rejection. Its write error is dropped, because the
// connection is closed right after and the rejection is what the caller
// reports.
func (h *handshake) sendStatus(s Status, reason string) {
	h.write(&Frame{Type: FrameStatus, Status: s, Reason: reason})
}

func newNonce() ([]byte, error) {
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("make nonce: %w", err)
	}
	return nonce, nil
}

// transcript is the handshake state that the proofs and the frame keys
// bind.
type transcript struct {
	client, server       string
	nonceC, nonceS       []byte
	creationC, creationS uint64
	flags                Flag // the flags both sides agreed on: FlagEncrypt or 0
	flagsC, flagsS       Flag // each side's own flags
}

// binding encodes the names, creations and flags: each name prefixed by
// its length in one byte, then three 8-byte big-endian numbers.
func (t *transcript) binding() []byte {
	b := make([]byte, 0, 2+len(t.client)+len(t.server)+24)
	b = append(b, byte(len(t.client)))
	b = append(b, t.client...)
	b = append(b, byte(len(t.server)))
	b = append(b, t.server...)
	b = binary.BigEndian.AppendUint64(b, t.creationC)
	b = binary.BigEndian.AppendUint64(b, t.creationS)
	b = binary.BigEndian.AppendUint64(b, uint64(t.flags))
	if (t.flagsC|t.flagsS)&^FlagEncrypt != 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(t.flagsC))
		b = binary.BigEndian.AppendUint64(b, uint64(t.flagsS))
	}
	return b
}

// proof computes a handshake digest. The nonce of the side that verifies
// the digest comes first, so a digest is only good for one challenge.
func (t *transcript) proof(cookie []byte, label string) []byte {
	first, second := t.nonceS, t.nonceC
	if label == serverProofLabel {
		first, second = t.nonceC, t.nonceS
	}
	m := hmac.New(sha256.New, cookie)
	m.Write([]byte(label))
	m.Write(first)
	m.Write(second)
	m.Write(t.binding())
	return m.Sum(nil)
}

// ownFlags returns the flags this side sends.
func ownFlags(cfg Config) Flag {
	var f Flag
	if !cfg.NoEncrypt {
		f |= FlagEncrypt
	}
	if cfg.Hidden {
		f |= FlagHidden
	}
	return f
}

// agreedFlags returns the flags that both sides must share.
func agreedFlags(cfg Config) Flag { return ownFlags(cfg) & FlagEncrypt }

// encryptionMismatch describes why flags from the peer do not fit ours.
func encryptionMismatch(cfg Config, peerFlags Flag, peerRole string) error {
	if (peerFlags&FlagEncrypt != 0) == !cfg.NoEncrypt {
		return nil
	}
	if cfg.NoEncrypt {
		return fmt.Errorf("%w: the %s seals frames and this node has encryption off", ErrEncryptionMismatch, peerRole)
	}
	return fmt.Errorf("%w: the %s has encryption off and this node seals frames", ErrEncryptionMismatch, peerRole)
}

// finishConn makes the Conn of a completed handshake, with its frame
// ciphers when the two sides agreed to encrypt.
func finishConn(h *handshake, t *transcript, client bool) (*Conn, error) {
	c := newConn(h.nc, h.fr, h.cfg, h.peer)
	c.peerVersion = h.peerVersion
	if client {
		c.peerCreation, c.peerFlags = t.creationS, t.flagsS
	} else {
		c.peerCreation, c.peerFlags = t.creationC, t.flagsC
	}
	if t.flags&FlagEncrypt == 0 {
		return c, nil
	}
	seal, open, err := frameCiphers(h.cfg.Cookie, t, client)
	if err != nil {
		return nil, err
	}
	c.seal = seal
	h.fr.open = open
	return c, nil
}

// Dial connects to addr over TCP and runs the client side of the
// handshake. When expectPeer is not empty, the server must present that
// node name, or Dial fails with ErrPeerMismatch. Handshake failures are
// returned as a *HandshakeError. The returned Conn is not started.
func Dial(ctx context.Context, addr string, cfg Config, expectPeer string) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(cfg.HandshakeTimeout)
	dialCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		// err, a *net.OpError, names addr.
		if ctx.Err() == nil && dialCtx.Err() != nil {
			return nil, fmt.Errorf("%w after %v: %w", ErrHandshakeTimeout, cfg.HandshakeTimeout, err)
		}
		return nil, err
	}
	c, err := clientHandshake(ctx, nc, cfg, expectPeer, deadline)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func clientHandshake(ctx context.Context, nc net.Conn, cfg Config, expectPeer string, deadline time.Time) (*Conn, error) {
	h, lift, cancel := newHandshake(ctx, nc, cfg, deadline)
	defer cancel()
	h.peer = expectPeer

	nonceC, err := newNonce()
	if err != nil {
		return nil, h.fail("send hello", err)
	}
	version := uint64(HandshakeVersion)
	if cfg.version != 0 {
		version = cfg.version
	}
	hello := Frame{Type: FrameHello, Version: version, Name: cfg.Name, Nonce: nonceC, Flags: ownFlags(cfg), Creation: cfg.Creation}
	if err := h.write(&hello); err != nil {
		return nil, h.fail("send hello", err)
	}

	var f Frame
	if err := h.read(&f, FrameStatus); err != nil {
		return nil, h.fail("read status", err)
	}
	if f.Status != StatusOK {
		return nil, h.fail("read status", rejection(f.Status, f.Reason))
	}
	server := f.Name
	if err := validateName(server); err != nil {
		return nil, h.fail("read status", fmt.Errorf("%w: %w", ErrProtocol, err))
	}
	if expectPeer != "" && server != expectPeer {
		return nil, h.fail("read status", fmt.Errorf("%w: the server is %q", ErrPeerMismatch, server))
	}
	h.peer = server
	h.peerVersion = version
	if len(f.Nonce) != nonceSize {
		return nil, h.fail("read status", fmt.Errorf("%w: nonce of %d bytes, want %d", ErrProtocol, len(f.Nonce), nonceSize))
	}
	if err := encryptionMismatch(cfg, f.Flags, "server"); err != nil {
		return nil, h.fail("read status", err)
	}
	t := &transcript{
		client: cfg.Name, server: server,
		// The frame's bytes alias the reader's buffer, which the next
		// read reuses.
		nonceC: nonceC, nonceS: bytes.Clone(f.Nonce),
		creationC: cfg.Creation, creationS: f.Creation,
		flags:  agreedFlags(cfg),
		flagsC: ownFlags(cfg), flagsS: f.Flags,
	}

	if err := h.write(&Frame{Type: FrameReply, Digest: t.proof(cfg.Cookie, clientProofLabel)}); err != nil {
		return nil, h.fail("send reply", err)
	}

	if err := h.read(&f, FrameAck, FrameStatus); err != nil {
		return nil, h.fail("read ack", err)
	}
	if f.Type == FrameStatus {
		return nil, h.fail("read ack", rejection(f.Status, f.Reason))
	}
	if !hmac.Equal(f.Digest, t.proof(cfg.Cookie, serverProofLabel)) {
		return nil, h.fail("read ack", fmt.Errorf("%w: the server's proof does not match our cookie", ErrBadCookie))
	}
	if !lift() {
		return nil, h.fail("finish", h.ctx.Err())
	}
	c, err := finishConn(h, t, true)
	if err != nil {
		return nil, h.fail("finish", err)
	}
	cfg.Logger.Debug("handshake completed", "peer", server, "addr", nc.RemoteAddr().String(), "side", "client", "encrypted", c.seal != nil)
	return c, nil
}

// Accept runs the server side of the handshake on nc, which the caller
// has accepted from a listener. admit, if not nil, is called with the
// client's claimed name and creation after the hello and before the
// challenge. Neither is proven yet at that point, so admit may only
// reject, never act on them. It returns the status to send, and anything
// but StatusOK rejects the client.
// A client that claims the server's own name is rejected with
// StatusNameInUse before admit is called. On failure Accept closes nc and
// returns a *HandshakeError. The returned Conn is not started.
func Accept(ctx context.Context, nc net.Conn, cfg Config, admit func(peer string, creation uint64) Status) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		nc.Close()
		return nil, err
	}
	c, err := serverHandshake(ctx, nc, cfg, admit, time.Now().Add(cfg.HandshakeTimeout))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func serverHandshake(ctx context.Context, nc net.Conn, cfg Config, admit func(string, uint64) Status, deadline time.Time) (*Conn, error) {
	h, lift, cancel := newHandshake(ctx, nc, cfg, deadline)
	defer cancel()

	var f Frame
	if err := h.read(&f, FrameHello); err != nil {
		return nil, h.fail("read hello", err)
	}
	client := f.Name
	if err := validateName(client); err != nil {
		h.sendStatus(StatusNotAllowed, err.Error())
		return nil, h.fail("read hello", fmt.Errorf("%w: %w", ErrNotAllowed, err))
	}
	h.peer = client
	h.peerVersion = f.Version
	if f.Version < MinHandshakeVersion || f.Version > HandshakeVersion {
		reason := fmt.Sprintf("the client speaks version %d and the server %d to %d", f.Version, MinHandshakeVersion, HandshakeVersion)
		h.sendStatus(StatusBadVersion, reason)
		return nil, h.fail("read hello", fmt.Errorf("%w: %s", ErrVersion, reason))
	}
	if len(f.Nonce) != nonceSize {
		h.sendStatus(StatusNotAllowed, "invalid nonce")
		return nil, h.fail("read hello", fmt.Errorf("%w: nonce of %d bytes, want %d", ErrProtocol, len(f.Nonce), nonceSize))
	}
	if err := encryptionMismatch(cfg, f.Flags, "client"); err != nil {
		reason := "the server seals frames and the client has encryption off"
		if cfg.NoEncrypt {
			reason = "the server has encryption off and the client seals frames"
		}
		h.sendStatus(StatusEncryption, reason)
		return nil, h.fail("read hello", err)
	}
	t := &transcript{
		client: client, server: cfg.Name,
		nonceC:    bytes.Clone(f.Nonce),
		creationC: f.Creation, creationS: cfg.Creation,
		flags:  agreedFlags(cfg),
		flagsC: f.Flags, flagsS: ownFlags(cfg),
	}

	if st, reason := admitStatus(cfg.Name, client, f.Creation, admit); st != StatusOK {
		h.sendStatus(st, reason)
		return nil, h.fail("admit", rejection(st, reason))
	}

	nonceS, err := newNonce()
	if err != nil {
		return nil, h.fail("send status", err)
	}
	t.nonceS = nonceS
	status := Frame{Type: FrameStatus, Status: StatusOK, Name: cfg.Name, Nonce: nonceS, Flags: ownFlags(cfg), Creation: cfg.Creation}
	if err := h.write(&status); err != nil {
		return nil, h.fail("send status", err)
	}

	if err := h.read(&f, FrameReply); err != nil {
		return nil, h.fail("read reply", err)
	}
	if !hmac.Equal(f.Digest, t.proof(cfg.Cookie, clientProofLabel)) {
		h.sendStatus(StatusBadCookie, "the server could not verify the client's proof of the cookie")
		return nil, h.fail("read reply", fmt.Errorf("%w: the client's proof does not match our cookie", ErrBadCookie))
	}

	if err := h.write(&Frame{Type: FrameAck, Digest: t.proof(cfg.Cookie, serverProofLabel)}); err != nil {
		return nil, h.fail("send ack", err)
	}
	if !lift() {
		return nil, h.fail("finish", h.ctx.Err())
	}
	c, err := finishConn(h, t, false)
	if err != nil {
		return nil, h.fail("finish", err)
	}
	cfg.Logger.Debug("handshake completed", "peer", client, "addr", nc.RemoteAddr().String(), "side", "server", "encrypted", c.seal != nil)
	return c, nil
}

// admitStatus decides whether the server accepts client, and returns the
// status with a reason for the client.
func admitStatus(self, client string, creation uint64, admit func(string, uint64) Status) (Status, string) {
	if client == self {
		return StatusNameInUse, fmt.Sprintf("%q is the server's own name", client)
	}
	if admit == nil {
		return StatusOK, ""
	}
	st := admit(client, creation)
	switch st {
	case StatusOK:
		return st, ""
	case StatusAlive:
		return st, fmt.Sprintf("the server has a connection to %q", client)
	case StatusNameInUse:
		return st, fmt.Sprintf("another connection holds %q", client)
	case StatusBadVersion, StatusBadCookie, StatusEncryption:
		return st, "rejected by the server"
	default:
		return StatusNotAllowed, fmt.Sprintf("the server's policy rejects %q", client)
	}
}
