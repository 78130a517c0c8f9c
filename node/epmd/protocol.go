package epmd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Wire format, as in the "Distribution Protocol" chapter of the Erlang/OTP
// erts documentation. Integers are big-endian. Every request is a 2-byte
// length followed by that many bytes of body, and the first body byte is
// the request code. Replies carry no length prefix.
//
//	ALIVE2_REQ       120 PortNo:2 NodeType:1 Protocol:1 HighestVersion:2
//	                     LowestVersion:2 Nlen:2 NodeName:Nlen Elen:2 Extra:Elen
//	ALIVE2_X_RESP    118 Result:1 Creation:4   (node's HighestVersion >= 6)
//	ALIVE2_RESP      121 Result:1 Creation:2   (older nodes)
//	PORT_PLEASE2_REQ 122 NodeName:(Length-1)
//	PORT2_RESP       119 Result:1, then when Result is 0: PortNo:2 NodeType:1
//	                     Protocol:1 HighestVersion:2 LowestVersion:2 Nlen:2
//	                     NodeName:Nlen Elen:2 Extra:Elen
//	NAMES_REQ        110
//	NAMES_RESP       EPMDPortNo:4, then "name NAME at port N\n" per node
//	KILL_REQ         107
//	KILL_RESP        "OK" (this server sends "NO" while nodes are registered)
//
// Result 0 means success and any other value an error. The connection that
// sent ALIVE2_REQ stays open, and closing it unregisters the node. Every
// other request gets one reply, after which epmd closes the connection.
const (
	codeKill        = 107
	codeNames       = 110
	codeAlive2XResp = 118
	codePort2Resp   = 119
	codeAlive2Req   = 120
	codeAlive2Resp  = 121
	codePortPlease2 = 122
)

// Values that gonode registers with, the same as an OTP 25 or later node.
const (
	// NodeTypeNormal is the node type of a visible Erlang node.
	NodeTypeNormal = 77
	// NodeTypeHidden is the node type of a hidden node, such as a C node.
	NodeTypeHidden = 72
	// ProtocolTCPIPv4 is the only transport protocol code Erlang defines.
	ProtocolTCPIPv4 = 0
	// DistributionVersion is the distribution protocol version of OTP 23
	// and later, registered as both the highest and the lowest version.
	DistributionVersion = 6
)

// MaxNameLen is the maximum length in bytes of a node name (the part
// before '@'). Erlang limits node names to 255 characters as well.
const MaxNameLen = 255

// maxNamesReply bounds the NAMES_RESP text a client reads, so a broken
// server cannot make the client buffer without limit. With MaxNameLen
// names, about 3,700 nodes fit.
const maxNamesReply = 1 << 20

// errMalformed marks a request or reply that does not follow the layout
// above. The server closes the connection, and the client returns it.
var errMalformed = errors.New("malformed epmd message")

// nodeInfo holds the fields of ALIVE2_REQ, which PORT2_RESP repeats.
type nodeInfo struct {
	Port           uint16
	NodeType       byte
	Protocol       byte
	HighestVersion uint16
	LowestVersion  uint16
	Name           string
	Extra          []byte
}

// appendFields appends the fields of n in the order ALIVE2_REQ and
// PORT2_RESP share, from PortNo to Extra.
func (n nodeInfo) appendFields(b []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, n.Port)
	b = append(b, n.NodeType, n.Protocol)
	b = binary.BigEndian.AppendUint16(b, n.HighestVersion)
	b = binary.BigEndian.AppendUint16(b, n.LowestVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(n.Name)))
	b = append(b, n.Name...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(n.Extra)))
	return append(b, n.Extra...)
}

// parseNodeFields is the inverse of appendFields. It rejects trailing
// bytes and names that validateName rejects.
func parseNodeFields(b []byte) (nodeInfo, error) {
	var n nodeInfo
	if len(b) < 10 {
		return n, fmt.Errorf("%w: node fields are %d bytes, want at least 10", errMalformed, len(b))
	}
	n.Port = binary.BigEndian.Uint16(b[0:2])
	n.NodeType = b[2]
	n.Protocol = b[3]
	n.HighestVersion = binary.BigEndian.Uint16(b[4:6])
	n.LowestVersion = binary.BigEndian.Uint16(b[6:8])
	nameLen := int(binary.BigEndian.Uint16(b[8:10]))
	rest := b[10:]
	if len(rest) < nameLen+2 {
		return n, fmt.Errorf("%w: name length %d exceeds the %d bytes left", errMalformed, nameLen, len(rest))
	}
	n.Name = string(rest[:nameLen])
	rest = rest[nameLen:]
	extraLen := int(binary.BigEndian.Uint16(rest[0:2]))
	rest = rest[2:]
	if len(rest) != extraLen {
		return n, fmt.Errorf("%w: extra length %d, but %d bytes left", errMalformed, extraLen, len(rest))
	}
	n.Extra = bytes.Clone(rest)
	if err := validateName(n.Name); err != nil {
		return n, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return n, nil
}

// validateName checks a node name: 1 to MaxNameLen bytes of UTF-8 with
// no '@', since epmd stores only the part before the host.
func validateName(name string) error {
	switch {
	case name == "":
		return errors.New("node name is empty")
	case len(name) > MaxNameLen:
		return fmt.Errorf("node name is %d bytes, maximum is %d", len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("node name %q is not valid UTF-8", name)
	case strings.ContainsAny(name, "@\n\x00"):
		return fmt.Errorf("node name %q contains '@', a newline or NUL; pass only the part before '@'", name)
	}
	return nil
}

// appendRequest appends the 2-byte length and then body. The body must be
// at most 65535 bytes, which every request built here is, because names
// are bounded by MaxNameLen and Extra by the caller.
func appendRequest(b, body []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func encodeAlive2Request(n nodeInfo) []byte {
	body := n.appendFields([]byte{codeAlive2Req})
	return appendRequest(nil, body)
}

func encodePortPlease2Request(name string) []byte {
	body := append([]byte{codePortPlease2}, name...)
	return appendRequest(nil, body)
}

func encodeSimpleRequest(code byte) []byte {
	return appendRequest(nil, []byte{code})
}

// encodeAlive2Response builds ALIVE2_X_RESP when extended is true and
// ALIVE2_RESP otherwise. ALIVE2_RESP carries only the low 16 bits of
// creation.
func encodeAlive2Response(extended bool, result byte, creation uint32) []byte {
	if extended {
		return binary.BigEndian.AppendUint32([]byte{codeAlive2XResp, result}, creation)
	}
	return binary.BigEndian.AppendUint16([]byte{codeAlive2Resp, result}, uint16(creation))
}

// alive2Response is a decoded ALIVE2_X_RESP or ALIVE2_RESP.
type alive2Response struct {
	Result   byte
	Creation uint32
}

// alive2CreationSize returns the size in bytes of the creation field that
// follows the result byte in a reply with the given code.
func alive2CreationSize(code byte) (int, error) {
	switch code {
	case codeAlive2XResp:
		return 4, nil
	case codeAlive2Resp:
		return 2, nil
	}
	return 0, fmt.Errorf("%w: reply code %d to ALIVE2_REQ, want %d or %d", errMalformed, code, codeAlive2XResp, codeAlive2Resp)
}

// parseAlive2Response decodes a complete ALIVE2_X_RESP or ALIVE2_RESP.
func parseAlive2Response(b []byte) (alive2Response, error) {
	if len(b) < 2 {
		return alive2Response{}, fmt.Errorf("%w: ALIVE2 reply is %d bytes", errMalformed, len(b))
	}
	size, err := alive2CreationSize(b[0])
	if err != nil {
		return alive2Response{}, err
	}
	if len(b) != 2+size {
		return alive2Response{}, fmt.Errorf("%w: ALIVE2 reply code %d is %d bytes, want %d", errMalformed, b[0], len(b), 2+size)
	}
	r := alive2Response{Result: b[1]}
	if size == 4 {
		r.Creation = binary.BigEndian.Uint32(b[2:])
	} else {
		r.Creation = uint32(binary.BigEndian.Uint16(b[2:]))
	}
	return r, nil
}

// encodePort2Response builds PORT2_RESP: the node's fields when n is not
// nil, else the 2-byte error form with Result 1.
func encodePort2Response(n *nodeInfo) []byte {
	if n == nil {
		return []byte{codePort2Resp, 1}
	}
	return n.appendFields([]byte{codePort2Resp, 0})
}

// parsePort2Response decodes a complete PORT2_RESP. It returns found false
// with a nil error when the result is nonzero.
func parsePort2Response(b []byte) (n nodeInfo, found bool, err error) {
	if len(b) < 2 {
		return n, false, fmt.Errorf("%w: PORT2_RESP is %d bytes", errMalformed, len(b))
	}
	if b[0] != codePort2Resp {
		return n, false, fmt.Errorf("%w: reply code %d to PORT_PLEASE2_REQ, want %d", errMalformed, b[0], codePort2Resp)
	}
	if b[1] != 0 {
		return n, false, nil
	}
	n, err = parseNodeFields(b[2:])
	if err != nil {
		return n, false, err
	}
	return n, true, nil
}

// NameEntry is one node that epmd lists in its NAMES_RESP.
type NameEntry struct {
	Name string
	Port int
}

// encodeNamesResponse builds NAMES_RESP. The line format matches what
// Erlang's epmd writes, so erl's net_adm:names/0 parses it.
func encodeNamesResponse(epmdPort uint32, entries []NameEntry) []byte {
	b := binary.BigEndian.AppendUint32(nil, epmdPort)
	for _, e := range entries {
		b = fmt.Appendf(b, "name %s at port %d\n", e.Name, e.Port)
	}
	return b
}

// parseNamesResponse decodes a complete NAMES_RESP.
func parseNamesResponse(b []byte) (epmdPort uint32, entries []NameEntry, err error) {
	if len(b) < 4 {
		return 0, nil, fmt.Errorf("%w: NAMES_RESP is %d bytes, want at least 4", errMalformed, len(b))
	}
	epmdPort = binary.BigEndian.Uint32(b[:4])
	text := b[4:]
	for len(text) > 0 {
		line, rest, ok := bytes.Cut(text, []byte("\n"))
		if !ok {
			return 0, nil, fmt.Errorf("%w: NAMES_RESP line %q has no newline", errMalformed, line)
		}
		text = rest
		e, err := parseNamesLine(string(line))
		if err != nil {
			return 0, nil, err
		}
		entries = append(entries, e)
	}
	return epmdPort, entries, nil
}

// parseNamesLine parses "name NAME at port N". A name may itself contain
// spaces, so the port is taken from the last " at port " in the line.
func parseNamesLine(line string) (NameEntry, error) {
	const prefix, sep = "name ", " at port "
	if !strings.HasPrefix(line, prefix) {
		return NameEntry{}, fmt.Errorf("%w: NAMES_RESP line %q does not start with %q", errMalformed, line, prefix)
	}
	i := strings.LastIndex(line, sep)
	if i < len(prefix) {
		return NameEntry{}, fmt.Errorf("%w: NAMES_RESP line %q has no %q", errMalformed, line, sep)
	}
	port, err := strconv.ParseUint(line[i+len(sep):], 10, 16)
	if err != nil {
		return NameEntry{}, fmt.Errorf("%w: NAMES_RESP line %q: invalid port: %w", errMalformed, line, err)
	}
	return NameEntry{Name: line[len(prefix):i], Port: int(port)}, nil
}
