package shell

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// blockingCloser is a Close that never returns, as the line editor's does
// while its reading goroutine waits for a key.
type blockingCloser struct{ release chan struct{} }

func (c blockingCloser) Close() error {
	<-c.release
	return nil
}

func TestCloseEditorGivesUp(t *testing.T) {
	c := blockingCloser{release: make(chan struct{})}
	defer close(c.release)
	done := make(chan bool, 1)
	go func() { done <- closeEditor(c, 50*time.Millisecond) }()
	select {
	case ok := <-done:
		if ok {
			t.Error("closeEditor reported a blocked Close as returned")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("closeEditor did not return 5s after its 50ms timeout")
	}
}

func TestCloseEditorReturns(t *testing.T) {
	if !closeEditor(io.NopCloser(nil), 5*time.Second) {
		t.Error("closeEditor reported a Close that returned as blocked")
	}
}

func TestDropNUL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"abc", "abc"},
		{"\x00", ""},
		{"\x00\x00ab\x00c\x00", "abc"},
		{"", ""},
	} {
		// OneByteReader makes some reads return only a NUL.
		got, err := io.ReadAll(dropNUL{iotest.OneByteReader(strings.NewReader(tc.in))})
		if err != nil {
			t.Errorf("read %q: %v", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("read %q = %q, want %q", tc.in, got, tc.want)
		}
	}
}
