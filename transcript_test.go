package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A transcript in testdata/transcripts is a shell session on the built
// binary: lines starting with "iex> " (continued by "...> ") are typed
// into node a's standard input, and the lines up to the next input are
// what the node prints for it, results and errors alike. The header
// comment names the peers to start ("peers: b c" or "peers: none"), and
// $HOST stands for the short host name.
type transcript struct {
	peers  []string
	input  []string
	output []string
}

func readTranscriptFile(t *testing.T, file string, hostName string) transcript {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var tr transcript
	peersSeen := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.ReplaceAll(sc.Text(), "$HOST", hostName)
		switch {
		case strings.HasPrefix(line, "//"):
			if _, list, ok := strings.Cut(line, "peers:"); ok {
				peersSeen = true
				if f := strings.Fields(list); len(f) != 1 || f[0] != "none" {
					tr.peers = f
				}
			}
		case strings.HasPrefix(line, "iex> "):
			tr.input = append(tr.input, strings.TrimPrefix(line, "iex> "))
		case strings.HasPrefix(line, "...> "):
			tr.input = append(tr.input, strings.TrimPrefix(line, "...> "))
		case len(tr.input) == 0:
			t.Fatalf("%s:%d: output %q before the first input", file, n, line)
		default:
			tr.output = append(tr.output, line)
		}
	}
	if !peersSeen {
		t.Fatalf("%s: the header names no peers (want a line with \"peers: b\" or \"peers: none\")", file)
	}
	if len(tr.input) < 5 {
		t.Fatalf("%s: %d inputs, want at least 5", file, len(tr.input))
	}
	return tr
}

// TestShellTranscripts types each transcript into a real node whose peers run
// in the same private namespace, and compares what it prints, line by
// line. Log lines and the start-up banner are left out of the comparison,
// since they carry ports and arrive in no fixed order.
func TestShellTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d transcripts, want at least 4", len(files))
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			t.Parallel()
			l := newLab(t)
			tr := readTranscriptFile(t, file, l.host)
			for _, peer := range tr.peers {
				p := l.start("--sname", peer, "--cookie", "genki", "--discovery", "none", "--no-shell")
				p.waitStderr("listening on", 10*time.Second)
			}
			got := runTranscriptInput(t, l, tr.input)
			if diff := lineDiff(tr.output, got); diff != "" {
				t.Errorf("%s: output differs (- want, + got):\n%s", file, diff)
			}
		})
	}
}

// runTranscriptInput feeds input to a fresh node a through a pipe and
// returns the lines it prints on standard output and standard error,
// which share one pipe so that results and errors keep their order.
func runTranscriptInput(t *testing.T, l *lab, input []string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := l.ns.Command(ctx, gonodeBin, "--sname", "a", "--cookie", "genki", "--discovery", "none", "--log-level", "error")
	cmd.Env = append(os.Environ(), "HOME="+l.home, "NO_COLOR=1")
	cmd.Stdin = strings.NewReader(strings.Join(input, "\n") + "\n")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	// The exit status is 1 when a line fails, which some transcripts
	// want; the output is what the test compares.
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node a did not finish the transcript within 30s; it printed:\n%s", out.String())
	}
	if _, ok := err.(interface{ ExitCode() int }); err != nil && !ok {
		t.Fatalf("run node a: %v", err)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if strings.HasPrefix(line, "gonode: ") || isLogLine(line) {
			continue
		}
		lines = append(lines, line)
	}
	return lines
}

// isLogLine reports whether line is one of the shell's log lines, such
// as "[error] [node] ...".
func isLogLine(line string) bool {
	for _, level := range []string{"[debug] ", "[info] ", "[warning] ", "[error] "} {
		if strings.HasPrefix(line, level) {
			return true
		}
	}
	return false
}

// lineDiff returns the lines of want and got from the first one that
// differs, marked - and +, or "" when they are equal.
func lineDiff(want, got []string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	if i == len(want) && i == len(got) {
		return ""
	}
	var b strings.Builder
	if i > 0 {
		fmt.Fprintf(&b, "  %s\n", want[i-1])
	}
	for _, w := range want[i:min(len(want), i+8)] {
		fmt.Fprintf(&b, "- %s\n", w)
	}
	for _, g := range got[i:min(len(got), i+8)] {
		fmt.Fprintf(&b, "+ %s\n", g)
	}
	return b.String()
}
