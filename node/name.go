package node

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// A node name is "name@host", as in Erlang. A short name (--sname) has a
// host without dots; a long name (--name) has a fully qualified host name
// or an IP address.

// ErrInvalidName is the error wrapped by every name that ParseName rejects.
var ErrInvalidName = errors.New("invalid node name")

// ParseName checks a full node name "name@host" and returns it unchanged.
// The name part is one or more ASCII letters, digits, '_' and '-'; the host
// part is a host name or an IP address.
func ParseName(full string) (string, error) {
	local, host, ok := strings.Cut(full, "@")
	if !ok {
		return "", fmt.Errorf("%w %q: want name@host", ErrInvalidName, full)
	}
	if err := checkLocal(local); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, full, err)
	}
	if err := checkHost(host); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, full, err)
	}
	return full, nil
}

// ShortName returns the full name for --sname local: "local@host", where
// host is this machine's host name up to its first dot. A local that
// already has "@host" is checked and kept, as erl does.
func ShortName(local string) (string, error) {
	if strings.Contains(local, "@") {
		full, err := ParseName(local)
		if err != nil {
			return "", err
		}
		if _, host, _ := strings.Cut(full, "@"); strings.Contains(host, ".") {
			return "", fmt.Errorf("%w %q: a short name's host has no dots; use --name for a long name", ErrInvalidName, local)
		}
		return full, nil
	}
	if err := checkLocal(local); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, local, err)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("short name %q: read host name: %w", local, err)
	}
	host, _, _ = strings.Cut(host, ".")
	return ParseName(local + "@" + host)
}

// LongName returns the full name for --name. A name with no host part
// gets this machine's host name; unlike erl, which then needs a fully
// qualified host name, gonode takes the host name as it is.
func LongName(name string) (string, error) {
	if strings.Contains(name, "@") {
		return ParseName(name)
	}
	if err := checkLocal(name); err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidName, name, err)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("long name %q: read host name: %w", name, err)
	}
	return ParseName(name + "@" + host)
}

// SplitName returns the two parts of a full node name.
func SplitName(full string) (local, host string) {
	local, host, _ = strings.Cut(full, "@")
	return local, host
}

func checkLocal(local string) error {
	if local == "" {
		return errors.New("the part before @ is empty")
	}
	if len(local) > 255 {
		return errors.New("the part before @ is longer than 255 bytes")
	}
	for i, r := range local {
		if !isNameRune(r) {
			return fmt.Errorf("character %q at position %d is not allowed: use letters, digits, _ and -", r, i+1)
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

func checkHost(host string) error {
	if host == "" {
		return errors.New("the host after @ is empty")
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 {
		return errors.New("the host is longer than 253 bytes")
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" {
			return fmt.Errorf("host %q has an empty label", host)
		}
		for i, r := range label {
			ok := isNameRune(r) && r != '_'
			if !ok || (r == '-' && (i == 0 || i == len(label)-1)) {
				return fmt.Errorf("host %q: character %q is not allowed in a host name", host, r)
			}
		}
	}
	return nil
}

// ErrNameKind is the error wrapped when a node with a short name and one
// with a long name would connect: as in Erlang, short names connect only
// to short names and long names only to long names.
var ErrNameKind = errors.New("short and long node names do not mix")

// ErrHostNotFound is the error wrapped when the host of a node name does
// not resolve to an address.
var ErrHostNotFound = errors.New("host not found")

// IsLongName reports whether the host of a full node name is a long one:
// it has a dot or is an IP address. Every other host is short, as those
// of --sname are. gonode decides by the name, so --name with a host
// without dots makes a node that counts as short.
func IsLongName(full string) bool {
	_, host := SplitName(full)
	return strings.Contains(host, ".") || net.ParseIP(host) != nil
}

// checkNameKind returns an error wrapping ErrNameKind when peer's name is
// not of the same kind as this node's.
func (n *Node) checkNameKind(peer string) error {
	self, other := IsLongName(n.name), IsLongName(peer)
	if self == other {
		return nil
	}
	kind := func(long bool) string {
		if long {
			return "a long name (--name)"
		}
		return "a short name (--sname)"
	}
	return fmt.Errorf("%w: this node %s has %s and %s has %s; start both with --sname, or both with --name and a host with dots or an IP address",
		ErrNameKind, n.name, kind(self), peer, kind(other))
}
