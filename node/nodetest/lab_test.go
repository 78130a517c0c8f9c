package nodetest

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dialFrom dials address over network from inside ns.
func dialFrom(ns *Netns, network, address string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := ns.Do(func() error {
		var err error
		c, err = net.DialTimeout(network, address, timeout)
		return err
	})
	return c, err
}

func TestLabHostsReachEachOther(t *testing.T) {
	lab := NewLab(t, 3)
	if got, want := lab.Host(3).Addr, netip.MustParseAddr("10.99.0.3"); got != want {
		t.Errorf("host 3 address = %s, want %s", got, want)
	}
	l, err := lab.Host(1).ListenTCP(lab.Host(1).Addr.String() + ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := l.Addr().String()
	l6, err := lab.Host(1).ListenTCP("[" + lab.Host(1).Addr6.String() + "]:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l6.Close()
	c6, err := dialFrom(lab.Host(2).Netns, "tcp", l6.Addr().String(), 5*time.Second)
	if err != nil {
		t.Errorf("dial %s from host 2: %v", l6.Addr(), err)
	} else {
		c6.Close()
	}
	for _, i := range []int{2, 3} {
		c, err := dialFrom(lab.Host(i).Netns, "tcp", addr, 5*time.Second)
		if err != nil {
			t.Errorf("dial %s from host %d: %v", addr, i, err)
			continue
		}
		c.Close()
	}

	lab.Host(2).Cut(t)
	if c, err := dialFrom(lab.Host(2).Netns, "tcp", addr, 300*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("dial %s from host 2 after its cut succeeded", addr)
	}
	if c, err := dialFrom(lab.Host(3).Netns, "tcp", addr, 5*time.Second); err != nil {
		t.Errorf("dial %s from host 3 while host 2 is cut: %v", addr, err)
	} else {
		c.Close()
	}

	lab.Host(2).Heal(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := dialFrom(lab.Host(2).Netns, "tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s from host 2 after heal: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLabHostHasNoOtherRoute(t *testing.T) {
	lab := NewLab(t, 1)
	// 192.0.2.1 (TEST-NET-1) is outside the lab: no route leads there.
	if c, err := dialFrom(lab.Host(1).Netns, "tcp", "192.0.2.1:9", 300*time.Millisecond); err == nil {
		c.Close()
		t.Error("dial outside the lab succeeded")
	}
}

// queryDNS sends one query for name and type over c and returns the
// answer's code and records.
func queryDNS(t *testing.T, c net.Conn, name string, typ dnsmessage.Type) (dnsmessage.RCode, []dnsmessage.Resource) {
	t.Helper()
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 7, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if m.ID != 7 {
		t.Errorf("answer ID = %d, want 7", m.ID)
	}
	return m.RCode, m.Answers
}

func answerAddrs(records []dnsmessage.Resource) []string {
	var out []string
	for _, r := range records {
		switch body := r.Body.(type) {
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(body.A).String())
		case *dnsmessage.AAAAResource:
			out = append(out, netip.AddrFrom16(body.AAAA).String())
		case *dnsmessage.SRVResource:
			out = append(out, body.Target.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestDNSServerInLab(t *testing.T) {
	lab := NewLab(t, 2)
	pc, err := lab.Host(1).ListenUDP(lab.Host(1).Addr.String() + ":53")
	if err != nil {
		t.Fatal(err)
	}
	srv := ServeDNS(t, pc)
	srv.SetHost("nodes.test", netip.MustParseAddr("10.99.0.1"), netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("fd99::1"))
	srv.SetSRV("app.nodes.test", 4369, "h1.nodes.test", "h2.nodes.test")

	c, err := dialFrom(lab.Host(2).Netns, "udp", srv.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	rcode, answers := queryDNS(t, c, "nodes.test.", dnsmessage.TypeA)
	if got, want := answerAddrs(answers), []string{"10.99.0.1", "10.99.0.2"}; rcode != dnsmessage.RCodeSuccess || !slices.Equal(got, want) {
		t.Errorf("A nodes.test = %v %v, want success %v", rcode, got, want)
	}
	rcode, answers = queryDNS(t, c, "nodes.test.", dnsmessage.TypeAAAA)
	if got, want := answerAddrs(answers), []string{"fd99::1"}; rcode != dnsmessage.RCodeSuccess || !slices.Equal(got, want) {
		t.Errorf("AAAA nodes.test = %v %v, want success %v", rcode, got, want)
	}
	rcode, answers = queryDNS(t, c, "app.nodes.test.", dnsmessage.TypeSRV)
	if got, want := answerAddrs(answers), []string{"h1.nodes.test.", "h2.nodes.test."}; rcode != dnsmessage.RCodeSuccess || !slices.Equal(got, want) {
		t.Errorf("SRV app.nodes.test = %v %v, want success %v", rcode, got, want)
	}
	if rcode, _ := queryDNS(t, c, "other.test.", dnsmessage.TypeA); rcode != dnsmessage.RCodeNameError {
		t.Errorf("A other.test = %v, want NXDOMAIN", rcode)
	}

	srv.SetMode(DNSAnswerPartial)
	rcode, answers = queryDNS(t, c, "nodes.test.", dnsmessage.TypeA)
	if rcode != dnsmessage.RCodeSuccess || len(answers) != 1 {
		t.Errorf("partial A nodes.test = %v with %d records, want success with 1", rcode, len(answers))
	}
	srv.SetMode(DNSFail)
	if rcode, _ := queryDNS(t, c, "nodes.test.", dnsmessage.TypeA); rcode != dnsmessage.RCodeServerFailure {
		t.Errorf("failing A nodes.test = %v, want SERVFAIL", rcode)
	}
	if srv.Queries() != 6 {
		t.Errorf("Queries() = %d, want 6", srv.Queries())
	}
}
