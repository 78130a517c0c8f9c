package transport

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Frame encryption.
//
// When both sides run with encryption on (Config.NoEncrypt false, the
// default), every frame after the handshake is sealed with AES-256-GCM,
// ticks and goodbyes included. The 4-byte length header stays in clear
// and counts the sealed body: the ciphertext of the plain body followed by
// the 16-byte GCM tag. A tick, whose plain body is empty, is 16 bytes.
//
// Keys. Each direction has its own 32-byte key:
//
//	key = HKDF-SHA-256(secret = cookie, salt = nonceC | nonceS, info = label | transcript)
//
// where label is "gonode-v2 client to server" or "gonode-v2 server to
// client" and transcript is the same binding of names, creations and
// flags that the handshake proofs cover. Both nonces are fresh for each
// connection, so each connection gets new keys, and the two directions
// never share a key.
//
// Nonces. The GCM nonce of a frame is 4 zero bytes followed by the 64-bit
// big-endian count of frames sealed before it under the same key, starting
// at 0. The count is never sent: the receiver keeps its own. A frame that
// is altered, cut, dropped, repeated or moved therefore fails to open, and
// the length header is the additional data, so it cannot change either.
// The first frame that fails to open takes the connection down with
// ErrFrameAuth.
//
// NOTE: the keys come from the cookie alone, so there is no forward
// secrecy: an attacker who learns the cookie later can decrypt a recorded
// connection, and a weak cookie can be guessed offline from a recorded
// handshake. An ephemeral key exchange (crypto/ecdh) in the handshake
// would remove the first weakness but not the second.

const (
	// sealOverhead is the GCM tag that sealing adds to each body.
	sealOverhead = 16

	// maxSealedBytes is the plain body bytes one key may seal. The TLS 1.3
	// specification allows 2^24.5 records of 16 KiB, about 2^38.5 bytes,
	// under one AES-GCM key. This package stops at 2^38 bytes (256 GiB) in
	// each direction. A sender that reaches it fails with ErrKeyLimit, so
	// the node dials again and the new connection has fresh keys.
	maxSealedBytes = 1 << 38

	clientKeyLabel = "gonode-v2 client to server"
	serverKeyLabel = "gonode-v2 server to client"
)

// frameCipher seals or opens the frames of one direction of a connection.
// It is owned by one goroutine at a time: the writer for sealing, the
// reader for opening.
type frameCipher struct {
	aead  cipher.AEAD
	count uint64 // frames sealed or opened so far
	bytes uint64 // plain body bytes sealed or opened so far
	nonce [12]byte
}

// newFrameCipher derives the key of one direction from the cookie, the
// salt (both nonces) and the label and transcript, and returns a cipher
// whose count starts at 0.
func newFrameCipher(cookie, salt []byte, label string, transcript []byte) (*frameCipher, error) {
	info := append([]byte(label), transcript...)
	key, err := hkdf.Key(sha256.New, cookie, salt, string(info), 32)
	if err != nil {
		return nil, fmt.Errorf("derive frame key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("make frame cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("make frame cipher: %w", err)
	}
	return &frameCipher{aead: aead}, nil
}

// next advances the count for a body of size plain bytes and returns the
// nonce for it.
func (fc *frameCipher) next(size int) ([]byte, error) {
	if fc.bytes+uint64(size) > maxSealedBytes {
		return nil, fmt.Errorf("%w after %d frames", ErrKeyLimit, fc.count)
	}
	binary.BigEndian.PutUint64(fc.nonce[4:], fc.count)
	fc.count++
	fc.bytes += uint64(size)
	return fc.nonce[:], nil
}

// seal appends the sealed form of the plain frame body, with its new
// length header, to dst.
func (fc *frameCipher) seal(dst, body []byte) ([]byte, error) {
	nonce, err := fc.next(len(body))
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)+sealOverhead))
	header := dst[start:]
	return fc.aead.Seal(dst, nonce, body, header), nil
}

// sealFrames appends the sealed form of every frame in plain, which holds
// whole frames as Send queues them (length header, then body), to dst.
func (fc *frameCipher) sealFrames(dst, plain []byte) ([]byte, error) {
	for len(plain) > 0 {
		if len(plain) < frameHeaderSize {
			return dst, fmt.Errorf("seal frames: %d bytes left, less than a header", len(plain))
		}
		size := int(binary.BigEndian.Uint32(plain))
		if len(plain) < frameHeaderSize+size {
			return dst, fmt.Errorf("seal frames: body of %d bytes, %d left", size, len(plain)-frameHeaderSize)
		}
		var err error
		if dst, err = fc.seal(dst, plain[frameHeaderSize:frameHeaderSize+size]); err != nil {
			return dst, err
		}
		plain = plain[frameHeaderSize+size:]
	}
	return dst, nil
}

// open opens a sealed body in place and returns the plain body. header is
// the frame's length header as read.
func (fc *frameCipher) open(header, sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: sealed frame of %d bytes is shorter than its tag", ErrFrameAuth, len(sealed))
	}
	nonce, err := fc.next(len(sealed) - sealOverhead)
	if err != nil {
		return nil, err
	}
	plain, err := fc.aead.Open(sealed[:0], nonce, sealed, header)
	if err != nil {
		return nil, fmt.Errorf("%w: frame %d does not open (altered, replayed, reordered or sealed under another key)", ErrFrameAuth, fc.count-1)
	}
	return plain, nil
}

// frameCiphers derives the two ciphers of a connection. The client seals
// with the client-to-server key and opens with the other, and the server
// does the reverse.
func frameCiphers(cookie []byte, t *transcript, client bool) (seal, open *frameCipher, err error) {
	salt := append(append([]byte(nil), t.nonceC...), t.nonceS...)
	binding := t.binding()
	c2s, err := newFrameCipher(cookie, salt, clientKeyLabel, binding)
	if err != nil {
		return nil, nil, err
	}
	s2c, err := newFrameCipher(cookie, salt, serverKeyLabel, binding)
	if err != nil {
		return nil, nil, err
	}
	if client {
		return c2s, s2c, nil
	}
	return s2c, c2s, nil
}
