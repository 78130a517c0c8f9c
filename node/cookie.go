package node

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// CookieEnv is the environment variable read for the cookie when no
// --cookie flag is given.
const CookieEnv = "GONODE_COOKIE"

// CookieFileName is the file in the home directory that holds the cookie
// when neither the flag nor the environment gives one, as ~/.erlang.cookie
// does for erl.
const CookieFileName = ".gonode.cookie"

// Cookie is the shared secret that nodes prove to each other in the
// handshake. Its String and LogValue methods never show the secret, so a
// cookie passed to a logger or a format verb is redacted.
type Cookie struct {
	secret []byte
}

// NewCookie returns a cookie holding s.
func NewCookie(s string) Cookie { return Cookie{secret: []byte(s)} }

// Bytes returns the secret itself, for the handshake.
func (c Cookie) Bytes() []byte { return c.secret }

// IsZero reports whether the cookie is empty.
func (c Cookie) IsZero() bool { return len(c.secret) == 0 }

// String returns a placeholder, never the secret.
func (c Cookie) String() string { return "[cookie redacted]" }

// Format prints the placeholder for every verb, %#v and %x included.
func (c Cookie) Format(f fmt.State, verb rune) { io.WriteString(f, c.String()) }

// LogValue keeps the secret out of log records.
func (c Cookie) LogValue() slog.Value { return slog.StringValue("[cookie redacted]") }

// LoadCookie finds the cookie in Erlang's order: the flag value when not
// empty, else the GONODE_COOKIE environment variable, else the file
// ~/.gonode.cookie, which is created with 20 random upper-case letters and
// mode 0400 when it does not exist. A cookie file that the group or others
// can read is rejected. The source is returned for the start-up message.
func LoadCookie(flagValue, home string) (c Cookie, source string, err error) {
	if flagValue != "" {
		return NewCookie(flagValue), "--cookie", nil
	}
	if env := os.Getenv(CookieEnv); env != "" {
		return NewCookie(env), CookieEnv, nil
	}
	if home == "" {
		return Cookie{}, "", errors.New("no cookie: give --cookie, set " + CookieEnv + " or set HOME so that ~/" + CookieFileName + " can be used")
	}
	path := filepath.Join(home, CookieFileName)
	c, err = readCookieFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		c, err = createCookieFile(path)
	}
	if err != nil {
		return Cookie{}, "", err
	}
	return c, path, nil
}

func readCookieFile(path string) (Cookie, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Cookie{}, err
	}
	if !info.Mode().IsRegular() {
		return Cookie{}, fmt.Errorf("cookie file %s is not a regular file", path)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return Cookie{}, fmt.Errorf("cookie file %s has mode %04o, so others can read it: run chmod 400 %s", path, info.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Cookie{}, fmt.Errorf("read cookie file: %w", err)
	}
	secret := strings.TrimSpace(string(data))
	if secret == "" {
		return Cookie{}, fmt.Errorf("cookie file %s is empty: write a cookie into it or remove it to have one made", path)
	}
	return NewCookie(secret), nil
}

func createCookieFile(path string) (Cookie, error) {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	buf := make([]byte, 20)
	if _, err := rand.Read(buf); err != nil {
		return Cookie{}, fmt.Errorf("make cookie: %w", err)
	}
	for i, b := range buf {
		// 256 is not a multiple of 26, so letters early in the alphabet
		// are very slightly more likely; at 20 letters the secret still
		// has about 93 bits.
		buf[i] = letters[int(b)%len(letters)]
	}
	// The cookie is written to a temporary file and linked into place, so
	// a node starting at the same moment never reads a half-written file.
	tmp, err := os.CreateTemp(filepath.Dir(path), CookieFileName+".tmp*")
	if err != nil {
		return Cookie{}, fmt.Errorf("create cookie file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(buf)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		return Cookie{}, fmt.Errorf("write cookie file %s: %v", tmp.Name(), errors.Join(werr, cerr))
	}
	if err := os.Chmod(tmp.Name(), 0o400); err != nil {
		return Cookie{}, fmt.Errorf("create cookie file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Another node made it first: use theirs.
			return readCookieFile(path)
		}
		return Cookie{}, fmt.Errorf("create cookie file: %w", err)
	}
	return NewCookie(string(buf)), nil
}
