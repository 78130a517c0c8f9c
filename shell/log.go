package shell

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fatih/color"

	"github.com/gonode/gonode/node/ratelog"
)

// SwitchWriter is an io.Writer whose destination can be changed while
// other goroutines write to it, so that log lines go to standard error
// until the shell's line editor takes over the terminal, and then through
// the editor, which prints them above the prompt.
type SwitchWriter struct {
	mu sync.Mutex
	w  io.Writer // guarded by mu
}

// NewSwitchWriter returns a SwitchWriter that writes to w.
func NewSwitchWriter(w io.Writer) *SwitchWriter { return &SwitchWriter{w: w} }

// Set makes later writes go to w and returns the previous destination.
func (s *SwitchWriter) Set(w io.Writer) io.Writer {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.w
	s.w = w
	return old
}

// Write writes p to the current destination. One call is one line, and
// lines from different goroutines never interleave.
func (s *SwitchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// LogHandler is a slog.Handler that writes records in the manner of
// Elixir's Logger and libcluster: "[info] [gossip] connected to :"b@h"",
// with the record's "component" attribute in the second bracket and the
// other attributes after the message as key=value.
type LogHandler struct {
	out       io.Writer
	level     slog.Leveler
	color     bool
	timestamp bool
	component string
	attrs     string           // preformatted " key=value" pairs
	group     string           // key prefix for later attributes
	repeats   *ratelog.Limiter // shared by the handlers made by WithAttrs and WithGroup
}

// LogOptions set up a LogHandler.
type LogOptions struct {
	Level slog.Leveler // nil means Info
	// Color paints the level as Elixir's Logger does: debug cyan, warning
	// yellow, error red.
	Color bool
	// Timestamp starts each line with the wall-clock time, for logs that
	// outlive a terminal session (--no-shell).
	Timestamp bool
}

// NewLogHandler returns a handler that writes one line a record to out.
// out should be safe for concurrent writes, as SwitchWriter is.
func NewLogHandler(out io.Writer, opts LogOptions) *LogHandler {
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	return &LogHandler{out: out, level: level, color: opts.Color, timestamp: opts.Timestamp, repeats: &ratelog.Limiter{}}
}

// Enabled reports whether records at level are written.
func (h *LogHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// Handle writes r as one line.
func (h *LogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(h.levelTag(r.Level))
	component := h.component
	var attrs strings.Builder
	attrs.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "component" && h.group == "" {
			component = a.Value.String()
			return true
		}
		writeAttr(&attrs, h.group, a)
		return true
	})
	if component != "" {
		b.WriteString(" [")
		b.WriteString(component)
		b.WriteString("]")
	}
	b.WriteString(" ")
	b.WriteString(escapeUnprintable(r.Message))
	b.WriteString(attrs.String())
	if r.Level >= slog.LevelWarn && h.repeats != nil {
		// A warning or error is printed once per ratelog.DefaultWindow,
		// with the count of the repeats held back.
		show, suppressed, since := h.repeats.Allow(b.String())
		if !show {
			return nil
		}
		b.WriteString(ratelog.Suffix(suppressed, since))
	}
	b.WriteString("\n")
	line := b.String()
	if h.timestamp {
		t := r.Time
		if t.IsZero() {
			t = time.Now()
		}
		line = t.Format("15:04:05.000 ") + line
	}
	_, err := io.WriteString(h.out, line)
	return err
}

func (h *LogHandler) levelTag(level slog.Level) string {
	var name string
	var c *color.Color
	switch {
	case level >= slog.LevelError:
		name, c = "error", color.New(color.FgRed)
	case level >= slog.LevelWarn:
		name, c = "warning", color.New(color.FgYellow)
	case level >= slog.LevelInfo:
		name = "info"
	default:
		name, c = "debug", color.New(color.FgCyan)
	}
	tag := "[" + name + "]"
	if h.color && c != nil {
		c.EnableColor()
		return c.Sprint(tag)
	}
	return tag
}

// WithAttrs returns a handler that adds attrs to every record.
func (h *LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h2 := *h
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		if a.Key == "component" && h.group == "" {
			h2.component = a.Value.String()
			continue
		}
		writeAttr(&b, h.group, a)
	}
	h2.attrs = b.String()
	return &h2
}

// WithGroup returns a handler that prefixes later attribute keys with name.
func (h *LogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	h2 := *h
	h2.group = h.group + name + "."
	return &h2
}

func writeAttr(b *strings.Builder, group string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, ga := range a.Value.Group() {
			writeAttr(b, group+a.Key+".", ga)
		}
		return
	}
	b.WriteString(" ")
	b.WriteString(group)
	b.WriteString(a.Key)
	b.WriteString("=")
	b.WriteString(quoteIfNeeded(a.Value.String()))
}

// quoteIfNeeded quotes s as a Go string when it is empty, contains a
// separator, or contains a rune that would not print as itself (controls,
// bidi and other format characters, invalid UTF-8).
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") || !isPrintable(s) {
		return strconv.Quote(s)
	}
	return s
}

// escapeUnprintable escapes, as strconv.Quote does, the runes of s that
// would not print as themselves. A peer's node name in a log message then
// cannot end the line or reverse the text after it.
func escapeUnprintable(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteRune(r)
		default:
			quoted := strconv.QuoteRune(r)
			b.WriteString(quoted[1 : len(quoted)-1])
		}
	}
	return b.String()
}

// isPrintable reports whether every rune of s is valid UTF-8 and prints as
// itself: unicode.IsPrint, or a space.
func isPrintable(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return false
		}
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

var _ slog.Handler = (*LogHandler)(nil)

// ParseLevel parses a log level name as --log-level takes it.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("invalid log level %q: want debug, info, warning or error", s)
}
