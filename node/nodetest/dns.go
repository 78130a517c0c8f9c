package nodetest

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSMode chooses how a DNSServer answers.
type DNSMode int

const (
	// DNSAnswerAll answers with every record of the name.
	DNSAnswerAll DNSMode = iota
	// DNSAnswerPartial leaves one record out of each answer that has two
	// or more, a different one each time, as a DNS service does while
	// some of its endpoints are not ready.
	DNSAnswerPartial
	// DNSFail answers every query with SERVFAIL.
	DNSFail
)

// maxDNSMessage bounds a query that a DNSServer reads.
const maxDNSMessage = 1232

// DNSServer is a small authoritative DNS server over UDP for tests. It
// serves A, AAAA and SRV records that the test sets, answers NXDOMAIN for
// names it has no record of, and can leave records out or fail on purpose
// (see DNSMode). Its methods are safe for concurrent use.
type DNSServer struct {
	pc net.PacketConn
	wg sync.WaitGroup

	mu      sync.Mutex
	hosts   map[string][]netip.Addr // guarded by mu; by lower-case name with a final dot
	srvs    map[string][]srvRecord  // guarded by mu; as hosts
	mode    DNSMode                 // guarded by mu
	turn    int                     // guarded by mu; picks the record that DNSAnswerPartial leaves out
	queries int                     // guarded by mu
}

type srvRecord struct {
	target string
	port   uint16
}

// ServeDNS serves DNS queries on pc until t ends, then closes pc. Use
// Netns.ListenUDP to serve inside a lab host.
func ServeDNS(t testing.TB, pc net.PacketConn) *DNSServer {
	s := &DNSServer{pc: pc, hosts: make(map[string][]netip.Addr), srvs: make(map[string][]srvRecord)}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		pc.Close()
		s.wg.Wait()
	})
	return s
}

// Addr returns the address the server listens on.
func (s *DNSServer) Addr() string { return s.pc.LocalAddr().String() }

// SetHost replaces the A and AAAA records of name with addrs. No addrs
// removes the name.
func (s *DNSServer) SetHost(name string, addrs ...netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(addrs) == 0 {
		delete(s.hosts, canonicalName(name))
		return
	}
	s.hosts[canonicalName(name)] = append([]netip.Addr(nil), addrs...)
}

// SetSRV replaces the SRV records of name with one record per target, each
// with priority 0, weight 10 and the given port.
func (s *DNSServer) SetSRV(name string, port uint16, targets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(targets) == 0 {
		delete(s.srvs, canonicalName(name))
		return
	}
	records := make([]srvRecord, len(targets))
	for i, target := range targets {
		records[i] = srvRecord{target: canonicalName(target), port: port}
	}
	s.srvs[canonicalName(name)] = records
}

// SetMode changes how the server responds, from the next query on.
func (s *DNSServer) SetMode(m DNSMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// Queries returns the number of queries the server has read.
func (s *DNSServer) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

func canonicalName(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func (s *DNSServer) serve() {
	defer s.wg.Done()
	buf := make([]byte, maxDNSMessage)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		reply, ok := s.answer(buf[:n])
		if ok {
			s.pc.WriteTo(reply, from)
		}
	}
}

// answer builds the reply to one query; ok is false for a query that
// cannot be parsed, which gets no reply.
func (s *DNSServer) answer(query []byte) (reply []byte, ok bool) {
	var p dnsmessage.Parser
	header, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return nil, false
	}

	s.mu.Lock()
	s.queries++
	mode := s.mode
	name := strings.ToLower(question.Name.String())
	addrs, hostKnown := s.hosts[name]
	srvs, srvKnown := s.srvs[name]
	s.turn++
	turn := s.turn
	s.mu.Unlock()

	rcode := dnsmessage.RCodeSuccess
	switch {
	case mode == DNSFail:
		rcode = dnsmessage.RCodeServerFailure
	case !hostKnown && !srvKnown:
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: header.ID, Response: true, Authoritative: true,
		RecursionDesired: header.RecursionDesired, RecursionAvailable: true, RCode: rcode,
	})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, false
	}
	if err := b.Question(question); err != nil {
		return nil, false
	}
	if err := b.StartAnswers(); err != nil {
		return nil, false
	}
	if rcode == dnsmessage.RCodeSuccess {
		head := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: 1}
		switch question.Type {
		case dnsmessage.TypeA, dnsmessage.TypeAAAA:
			var typed []netip.Addr
			for _, addr := range addrs {
				if addr.Is4() == (question.Type == dnsmessage.TypeA) {
					typed = append(typed, addr)
				}
			}
			for _, addr := range leaveOneOut(typed, mode, turn) {
				if addr.Is4() {
					err = b.AResource(head, dnsmessage.AResource{A: addr.As4()})
				} else {
					err = b.AAAAResource(head, dnsmessage.AAAAResource{AAAA: addr.As16()})
				}
				if err != nil {
					return nil, false
				}
			}
		case dnsmessage.TypeSRV:
			for _, r := range leaveOneOut(srvs, mode, turn) {
				target, err := dnsmessage.NewName(r.target)
				if err != nil {
					return nil, false
				}
				srv := dnsmessage.SRVResource{Priority: 0, Weight: 10, Port: r.port, Target: target}
				if err := b.SRVResource(head, srv); err != nil {
					return nil, false
				}
			}
		}
	}
	reply, err = b.Finish()
	return reply, err == nil
}

// leaveOneOut returns records, without the one that turn picks when mode
// is DNSAnswerPartial and there are two or more.
func leaveOneOut[T any](records []T, mode DNSMode, turn int) []T {
	if mode != DNSAnswerPartial || len(records) < 2 {
		return records
	}
	skip := turn % len(records)
	out := make([]T, 0, len(records)-1)
	for i, r := range records {
		if i != skip {
			out = append(out, r)
		}
	}
	return out
}
