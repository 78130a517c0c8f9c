package node_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonode/gonode/node"
)

// writeCookieFile writes secret to the cookie file in home with mode perm
// and returns its path.
func writeCookieFile(t *testing.T, home, secret string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(home, node.CookieFileName)
	if err := os.WriteFile(path, []byte(secret), 0o600); err != nil {
		t.Fatalf("write cookie file: %v", err)
	}
	// Chmod after writing, because the umask applies to WriteFile's mode.
	if err := os.Chmod(path, perm); err != nil {
		t.Fatalf("chmod cookie file: %v", err)
	}
	return path
}

func TestLoadCookieOrder(t *testing.T) {
	home := t.TempDir()
	path := writeCookieFile(t, home, "FROMFILE\n", 0o400)

	tests := []struct {
		name       string
		flag, env  string
		wantSecret string
		wantSource string
	}{
		{"flag over env and file", "fromflag", "fromenv", "fromflag", "--cookie"},
		{"flag over file", "fromflag", "", "fromflag", "--cookie"},
		{"env over file", "", "fromenv", "fromenv", node.CookieEnv},
		{"file last", "", "", "FROMFILE", path},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(node.CookieEnv, tt.env)
			c, source, err := node.LoadCookie(tt.flag, home)
			if err != nil {
				t.Fatalf("LoadCookie(%q, home) failed: %v", tt.flag, err)
			}
			if got := string(c.Bytes()); got != tt.wantSecret {
				t.Errorf("LoadCookie(%q, home) secret = %q, want %q", tt.flag, got, tt.wantSecret)
			}
			if source != tt.wantSource {
				t.Errorf("LoadCookie(%q, home) source = %q, want %q", tt.flag, source, tt.wantSource)
			}
		})
	}
}

func TestLoadCookieCreatesFile(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	home := t.TempDir()
	path := filepath.Join(home, node.CookieFileName)

	c, source, err := node.LoadCookie("", home)
	if err != nil {
		t.Fatalf("LoadCookie with no cookie file failed: %v", err)
	}
	if source != path {
		t.Errorf("source = %q, want %q", source, path)
	}
	secret := string(c.Bytes())
	if len(secret) != 20 {
		t.Errorf("created cookie %q has %d bytes, want 20", secret, len(secret))
	}
	for i, r := range secret {
		if r < 'A' || r > 'Z' {
			t.Errorf("created cookie has %q at position %d, want only A to Z", r, i)
		}
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat created cookie file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o400 {
		t.Errorf("created cookie file mode = %04o, want 0400", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read created cookie file: %v", err)
	}
	if string(data) != secret {
		t.Errorf("cookie file contains %q, want the returned cookie %q", data, secret)
	}
	entries, err := os.ReadDir(home)
	if err != nil {
		t.Fatalf("read home: %v", err)
	}
	if len(entries) != 1 {
		t.Errorf("home contains %d entries after creating the cookie, want 1 (temporary file left behind?)", len(entries))
	}

	again, _, err := node.LoadCookie("", home)
	if err != nil {
		t.Fatalf("second LoadCookie failed: %v", err)
	}
	if got := string(again.Bytes()); got != secret {
		t.Errorf("second LoadCookie = %q, want the created cookie %q", got, secret)
	}
}

func TestLoadCookieCreatesDistinctCookies(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	first, _, err := node.LoadCookie("", t.TempDir())
	if err != nil {
		t.Fatalf("LoadCookie: %v", err)
	}
	second, _, err := node.LoadCookie("", t.TempDir())
	if err != nil {
		t.Fatalf("LoadCookie: %v", err)
	}
	if bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("two created cookies are both %q, want random ones", first.Bytes())
	}
}

func TestLoadCookieRejectsReadableFile(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	for _, perm := range []os.FileMode{0o440, 0o404, 0o444, 0o600 | 0o040, 0o644, 0o410, 0o401} {
		t.Run(fmt.Sprintf("%04o", perm), func(t *testing.T) {
			home := t.TempDir()
			path := writeCookieFile(t, home, "SECRETCOOKIE", perm)
			c, _, err := node.LoadCookie("", home)
			if err == nil {
				t.Fatalf("LoadCookie of a mode %04o file = %q, want an error", perm, c.Bytes())
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file %s", msg, path)
			}
			if !strings.Contains(msg, "chmod 400") {
				t.Errorf("error %q does not say chmod 400", msg)
			}
			if strings.Contains(msg, "SECRETCOOKIE") {
				t.Errorf("error %q shows the cookie", msg)
			}
		})
	}
}

func TestLoadCookieAcceptsOwnerOnlyFile(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	for _, perm := range []os.FileMode{0o400, 0o600} {
		home := t.TempDir()
		writeCookieFile(t, home, "  OWNERONLY \n", perm)
		c, _, err := node.LoadCookie("", home)
		if err != nil {
			t.Errorf("LoadCookie of a mode %04o file failed: %v", perm, err)
			continue
		}
		if got := string(c.Bytes()); got != "OWNERONLY" {
			t.Errorf("LoadCookie of a mode %04o file = %q, want %q with the spaces trimmed", perm, got, "OWNERONLY")
		}
	}
}

func TestLoadCookieRejectsEmptyFile(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	for _, content := range []string{"", "\n", "  \t\n"} {
		home := t.TempDir()
		path := writeCookieFile(t, home, content, 0o400)
		c, _, err := node.LoadCookie("", home)
		if err == nil {
			t.Errorf("LoadCookie of a file containing %q = %q, want an error", content, c.Bytes())
			continue
		}
		if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
			t.Errorf("error %q does not say that %s is empty", err, path)
		}
	}
}

func TestLoadCookieRejectsDirectory(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	home := t.TempDir()
	path := filepath.Join(home, node.CookieFileName)
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := node.LoadCookie("", home); err == nil {
		t.Errorf("LoadCookie with a directory at %s succeeded, want an error", path)
	} else if !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("error = %q, want it to say the cookie file is not a regular file", err)
	}
}

func TestLoadCookieNoHome(t *testing.T) {
	t.Setenv(node.CookieEnv, "")
	_, _, err := node.LoadCookie("", "")
	if err == nil {
		t.Fatal("LoadCookie with no flag, no env and no home succeeded, want an error")
	}
	for _, want := range []string{"--cookie", node.CookieEnv, node.CookieFileName} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

const secretForRedaction = "TOPSECRETCOOKIE"

func TestCookieFormatRedacted(t *testing.T) {
	c := node.NewCookie(secretForRedaction)
	cfg := node.Config{Name: "a@vm", Cookie: c}
	for _, tt := range []struct {
		format string
		arg    any
	}{
		{"%v", c},
		{"%s", c},
		{"%+v", c},
		{"%q", c},
		{"%x", c},
		{"%v", &c},
		{"%v", cfg},
		{"%+v", cfg},
		{"%v", []node.Cookie{c}},
	} {
		got := fmt.Sprintf(tt.format, tt.arg)
		if strings.Contains(got, secretForRedaction) || strings.Contains(got, fmt.Sprintf("%x", secretForRedaction)) {
			t.Errorf("Sprintf(%q, %T) = %q shows the secret", tt.format, tt.arg, got)
		}
	}
	if got, want := c.String(), "[cookie redacted]"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// TestCookieGoSyntaxRedacted checks the verbs that skip String: %#v uses
// GoString and %d prints the fields.
func TestCookieGoSyntaxRedacted(t *testing.T) {
	c := node.NewCookie(secretForRedaction)
	prefix := []byte(secretForRedaction)[:4]
	// The first bytes of the secret as %d and %#v print a byte slice.
	decimal := strings.Trim(fmt.Sprintf("%d", prefix), "[]")
	goSyntax := strings.Trim(fmt.Sprintf("%#v", prefix), "[]byte{}")
	for _, format := range []string{"%#v", "%d"} {
		got := fmt.Sprintf(format, c)
		if strings.Contains(got, secretForRedaction) || strings.Contains(got, decimal) || strings.Contains(got, goSyntax) {
			t.Errorf("Sprintf(%q, cookie) = %q shows the secret's bytes", format, got)
		}
	}
}

func TestCookieLogRedacted(t *testing.T) {
	c := node.NewCookie(secretForRedaction)
	var buf bytes.Buffer
	for _, h := range []slog.Handler{
		slog.NewTextHandler(&buf, nil),
		slog.NewJSONHandler(&buf, nil),
	} {
		logger := slog.New(h)
		logger.Info("loaded", "cookie", c)
		logger.Info("loaded", slog.Any("cookie", &c))
		logger.Info("config", "config", node.Config{Name: "a@vm", Cookie: c})
		logger.With("cookie", c).Info("with")
		logger.Info("group", slog.Group("g", "cookie", c))
	}
	out := buf.String()
	if strings.Contains(out, secretForRedaction) {
		t.Errorf("log output shows the secret:\n%s", out)
	}
	if got := strings.Count(out, "[cookie redacted]"); got < 8 {
		t.Errorf("log output has %d redaction placeholders, want at least 8:\n%s", got, out)
	}
}

func TestCookieIsZero(t *testing.T) {
	if !(node.Cookie{}).IsZero() {
		t.Error("Cookie{}.IsZero() = false, want true")
	}
	if !node.NewCookie("").IsZero() {
		t.Error(`NewCookie("").IsZero() = false, want true`)
	}
	if node.NewCookie("x").IsZero() {
		t.Error(`NewCookie("x").IsZero() = true, want false`)
	}
}
