package shell

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestLogHandlerFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  func(*slog.Logger)
		want string
	}{
		{"component from With", func(l *slog.Logger) {
			l.With("component", "gossip").Info(`connected to :"b@vm"`)
		}, `[info] [gossip] connected to :"b@vm"` + "\n"},
		{"component as attribute", func(l *slog.Logger) {
			l.Warn("lost", "component", "node", "reason", "net_tick_timeout")
		}, "[warning] [node] lost reason=net_tick_timeout\n"},
		{"no component", func(l *slog.Logger) {
			l.Error("failed", "err", "a b")
		}, `[error] failed err="a b"` + "\n"},
		{"group prefix", func(l *slog.Logger) {
			l.WithGroup("peer").Info("up", "name", "b")
		}, "[info] up peer.name=b\n"},
		{"debug hidden", func(l *slog.Logger) {
			l.Debug("noise")
		}, ""},
		{"bidi control in message", func(l *slog.Logger) {
			l.Info("connected to b\u202eoof@vm")
		}, `[info] connected to b\u202eoof@vm` + "\n"},
		{"newline and invalid UTF-8 in message", func(l *slog.Logger) {
			l.Info("bad\n[error] \xff")
		}, `[info] bad\n[error] \xff` + "\n"},
		{"bidi control in attribute", func(l *slog.Logger) {
			l.Info("up", "node", "b\u2066@vm")
		}, `[info] up node="b\u2066@vm"` + "\n"},
		{"replacement character kept", func(l *slog.Logger) {
			l.Info("got \ufffd", "text", "\ufffd")
		}, "[info] got \ufffd text=\ufffd\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tc.log(slog.New(NewLogHandler(&buf, LogOptions{})))
			if got := buf.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLogHandlerColor(t *testing.T) {
	var buf bytes.Buffer
	slog.New(NewLogHandler(&buf, LogOptions{Color: true})).Warn("careful")
	if !strings.Contains(buf.String(), "\x1b[33m[warning]") {
		t.Errorf("warning not yellow: %q", buf.String())
	}
	buf.Reset()
	slog.New(NewLogHandler(&buf, LogOptions{})).Warn("careful")
	if strings.Contains(buf.String(), "\x1b[") {
		t.Errorf("color escapes with Color off: %q", buf.String())
	}
}

func TestSwitchWriterSet(t *testing.T) {
	var first, second bytes.Buffer
	w := NewSwitchWriter(&first)
	w.Write([]byte("one\n"))
	if old := w.Set(&second); old != &first {
		t.Errorf("Set returned %v, want the first writer", old)
	}
	w.Write([]byte("two\n"))
	if first.String() != "one\n" || second.String() != "two\n" {
		t.Errorf("first = %q, second = %q, want one and two", first.String(), second.String())
	}
}

func TestParseLevel(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warning": slog.LevelWarn, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		got, err := ParseLevel(in)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseLevel("loud"); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("ParseLevel(loud) error = %v, want one naming the value", err)
	}
}
