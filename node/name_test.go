package node_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gonode/gonode/node"
)

func TestParseNameValid(t *testing.T) {
	for _, name := range []string{
		"a@vm",
		"hoge@vm",
		"Hoge_2-x@vm",
		"a@host.example.com",
		"a@my-host",
		"a@127.0.0.1",
		"a@::1",
		"a@x1.y-2.z",
		strings.Repeat("n", 255) + "@vm",
		"a@" + strings.Repeat("h", 63) + "." + strings.Repeat("h", 63) + "." + strings.Repeat("h", 63) + "." + strings.Repeat("h", 61),
	} {
		got, err := node.ParseName(name)
		if err != nil {
			t.Errorf("ParseName(%q) failed: %v", name, err)
			continue
		}
		if got != name {
			t.Errorf("ParseName(%q) = %q, want it unchanged", name, got)
		}
	}
}

func TestParseNameInvalid(t *testing.T) {
	tests := []struct {
		name string
		rule string // a part of the error message that names the broken rule
	}{
		{"", "want name@host"},
		{"hoge", "want name@host"},
		{"@vm", "the part before @ is empty"},
		{strings.Repeat("n", 256) + "@vm", "longer than 255 bytes"},
		{"ho ge@vm", `character ' ' at position 3 is not allowed`},
		{"ho.ge@vm", `character '.' at position 3 is not allowed`},
		{"hö@vm", `character 'ö' at position 2 is not allowed`},
		{"a@", "the host after @ is empty"},
		{"a@" + strings.Repeat("h", 254), "longer than 253 bytes"},
		{"a@host..com", "empty label"},
		{"a@.host", "empty label"},
		{"a@host.", "empty label"},
		{"a@my_host", `character '_' is not allowed in a host name`},
		{"a@-host", `character '-' is not allowed in a host name`},
		{"a@host-", `character '-' is not allowed in a host name`},
		{"a@b@c", `character '@' is not allowed in a host name`},
		{"a@ho st", `character ' ' is not allowed in a host name`},
	}
	for _, tt := range tests {
		got, err := node.ParseName(tt.name)
		if err == nil {
			t.Errorf("ParseName(%q) = %q, want an error about %q", tt.name, got, tt.rule)
			continue
		}
		if !errors.Is(err, node.ErrInvalidName) {
			t.Errorf("ParseName(%q) error %v does not wrap ErrInvalidName", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("ParseName(%q) error = %q, want it to contain %q", tt.name, err, tt.rule)
		}
		if !strings.Contains(err.Error(), tt.name) {
			t.Errorf("ParseName(%q) error = %q, want it to name the input", tt.name, err)
		}
	}
}

// hostNames returns this machine's host name and its short form, up to the
// first dot.
func hostNames(t *testing.T) (full, short string) {
	t.Helper()
	full, err := os.Hostname()
	if err != nil {
		t.Fatalf("os.Hostname: %v", err)
	}
	short, _, _ = strings.Cut(full, ".")
	return full, short
}

func TestShortName(t *testing.T) {
	_, short := hostNames(t)
	tests := []struct {
		in   string
		want string
	}{
		{"hoge", "hoge@" + short},
		{"a_1-b", "a_1-b@" + short},
		{"hoge@vm", "hoge@vm"},
		{"hoge@other-host", "hoge@other-host"},
	}
	for _, tt := range tests {
		got, err := node.ShortName(tt.in)
		if err != nil {
			t.Errorf("ShortName(%q) failed: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ShortName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestShortNameInvalid(t *testing.T) {
	tests := []struct {
		in   string
		rule string
	}{
		{"", "the part before @ is empty"},
		{"ho ge", `character ' ' at position 3 is not allowed`},
		{"hoge@vm.example.com", "a short name's host has no dots; use --name"},
		{"hoge@", "the host after @ is empty"},
		{"@vm", "the part before @ is empty"},
	}
	for _, tt := range tests {
		got, err := node.ShortName(tt.in)
		if err == nil {
			t.Errorf("ShortName(%q) = %q, want an error about %q", tt.in, got, tt.rule)
			continue
		}
		if !errors.Is(err, node.ErrInvalidName) {
			t.Errorf("ShortName(%q) error %v does not wrap ErrInvalidName", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("ShortName(%q) error = %q, want it to contain %q", tt.in, err, tt.rule)
		}
	}
}

func TestLongName(t *testing.T) {
	full, _ := hostNames(t)
	tests := []struct {
		in   string
		want string
	}{
		{"hoge", "hoge@" + full},
		{"hoge@host.example.com", "hoge@host.example.com"},
		{"hoge@10.0.0.7", "hoge@10.0.0.7"},
		{"hoge@vm", "hoge@vm"},
	}
	for _, tt := range tests {
		got, err := node.LongName(tt.in)
		if err != nil {
			t.Errorf("LongName(%q) failed: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("LongName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestLongNameInvalid(t *testing.T) {
	tests := []struct {
		in   string
		rule string
	}{
		{"", "the part before @ is empty"},
		{"ho/ge", `character '/' at position 3 is not allowed`},
		{"hoge@host..com", "empty label"},
		{"hoge@", "the host after @ is empty"},
	}
	for _, tt := range tests {
		got, err := node.LongName(tt.in)
		if err == nil {
			t.Errorf("LongName(%q) = %q, want an error about %q", tt.in, got, tt.rule)
			continue
		}
		if !errors.Is(err, node.ErrInvalidName) {
			t.Errorf("LongName(%q) error %v does not wrap ErrInvalidName", tt.in, err)
		}
		if !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("LongName(%q) error = %q, want it to contain %q", tt.in, err, tt.rule)
		}
	}
}

func TestSplitName(t *testing.T) {
	tests := []struct {
		in          string
		local, host string
	}{
		{"hoge@vm", "hoge", "vm"},
		{"a@host.example.com", "a", "host.example.com"},
		{"nohost", "nohost", ""},
	}
	for _, tt := range tests {
		local, host := node.SplitName(tt.in)
		if local != tt.local || host != tt.host {
			t.Errorf("SplitName(%q) = %q, %q, want %q, %q", tt.in, local, host, tt.local, tt.host)
		}
	}
}
