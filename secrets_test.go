package main

import (
	"strings"
	"testing"
	"time"
)

// TestSecretsNeverInLogs runs nodes at debug level whose cookies or
// gossip secrets differ, so that handshakes fail and heartbeats cannot be
// opened, and checks that no cookie or secret appears in any output.
func TestSecretsNeverInLogs(t *testing.T) {
	const (
		cookieA = "cookie-a-c0ffee-4817"
		cookieB = "cookie-b-c0ffee-9932"
		secretA = "gossip-a-f00d-2291"
		secretB = "gossip-b-f00d-7734"
	)
	l := newLab(t)
	// a and b share the gossip secret but not the cookie, so they meet
	// and fail the handshake. c shares a's cookie but not the secret, so
	// a and c cannot open each other's heartbeats.
	a := l.start("--sname", "a", "--cookie", cookieA, "--gossip-secret", secretA, "--log-level", "debug")
	b := l.start("--sname", "b", "--cookie", cookieB, "--gossip-secret", secretA, "--log-level", "debug")
	c := l.start("--sname", "c", "--cookie", cookieA, "--gossip-secret", secretB, "--log-level", "debug")
	// Whichever of a and b dials logs that the cookies differ, and the
	// other that the peer does not have its cookie.
	for _, p := range []*proc{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for text := p.stderr.String(); !strings.Contains(text, "cookies differ") && !strings.Contains(text, "does not have our cookie"); text = p.stderr.String() {
			if time.Now().After(deadline) {
				t.Fatalf("gonode %s logged no failed handshake within 10s:\n%s", p.name, text)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a.waitStderr("cannot open gossip heartbeat", 10*time.Second)
	c.waitStderr("cannot open gossip heartbeat", 10*time.Second)
	if got := a.eval("Node.list"); got != "[]" {
		t.Errorf("Node.list on a = %s, want []", got)
	}

	for _, p := range []*proc{a, b, c} {
		p.stdin.Close()
		p.waitExit(10 * time.Second)
		text := p.stderr.String()
		for _, secret := range []string{cookieA, cookieB, secretA, secretB} {
			if strings.Contains(text, secret) {
				t.Errorf("gonode %s logged the secret %q:\n%s", p.name, secret, text)
			}
		}
	}
}
