package discovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Defaults of SWIMConfig. The port is memberlist's default.
const (
	DefaultSWIMPort           = 7946
	DefaultSWIMRejoinInterval = 5 * time.Second
)

// swimKeyLabel is hashed with the gossip secret into the memberlist key,
// so that the key differs from the one that seals multicast heartbeats.
const swimKeyLabel = "gonode swim key v1\x00"

// swimConnectInterval is the time between two passes of a SWIM over the
// live members, to connect the ones that are not connected.
const swimConnectInterval = time.Second

// SWIMConfig configures a SWIM strategy.
type SWIMConfig struct {
	// NodeName is this node's full name, which is also its memberlist
	// name. Empty means the name that Cluster.Self returns when Run
	// starts.
	NodeName string
	// TransportPort is the TCP port of this node's transport listener,
	// carried in memberlist's node metadata. It is required.
	TransportPort int
	// BindAddr is the address memberlist listens on; empty means every
	// interface.
	BindAddr string
	// Port is memberlist's UDP and TCP port; 0 means DefaultSWIMPort.
	Port int
	// Join lists the seeds, host:port, to join at start and again
	// whenever one of them is not a live member. A seed without a port
	// gets DefaultSWIMPort.
	Join []string
	// RejoinInterval is the time between two checks of the seeds; 0 means
	// DefaultSWIMRejoinInterval.
	RejoinInterval time.Duration
	// Secret, when not empty, encrypts memberlist's traffic with AES-256
	// under SHA-256(label || Secret). Only members with the same secret
	// can join.
	Secret []byte
	// MinBackoff and MaxBackoff bound the wait between two attempts to
	// connect to one unconnected member; 0 means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the strategy's logs and memberlist's; nil discards
	// them.
	Logger *slog.Logger
}

// SWIM is the SWIM gossip strategy: it forms a membership with
// github.com/hashicorp/memberlist (its LAN defaults), carrying the node
// name and transport port in each member's metadata, and connects to the
// live members over gonode's own transport. Members that memberlist
// declares dead are no longer connected to, and their connections end by
// the transport's tick timeout.
//
// Unlike a bare memberlist, a SWIM joins its seeds again whenever one of
// them is not a live member, so a node that was cut off finds its way back
// after the network heals. It needs no multicast.
type SWIM struct {
	cfg    SWIMConfig
	logger *slog.Logger
}

// swimMeta is the node metadata that every member carries.
type swimMeta struct {
	Name string `json:"name"`
	Port int    `json:"port"`
}

// NewSWIM checks cfg and returns a SWIM strategy that is not running yet.
func NewSWIM(cfg SWIMConfig) (*SWIM, error) {
	if cfg.TransportPort < 1 || cfg.TransportPort > 65535 {
		return nil, fmt.Errorf("swim: invalid transport port %d", cfg.TransportPort)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultSWIMPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return nil, fmt.Errorf("swim: invalid port %d: want 1 to 65535", cfg.Port)
	}
	if cfg.RejoinInterval < 0 {
		return nil, fmt.Errorf("swim: invalid rejoin interval %s", cfg.RejoinInterval)
	}
	if cfg.RejoinInterval == 0 {
		cfg.RejoinInterval = DefaultSWIMRejoinInterval
	}
	seeds := make([]string, 0, len(cfg.Join))
	for _, seed := range cfg.Join {
		s, err := seedAddr(seed)
		if err != nil {
			return nil, fmt.Errorf("swim: %w", err)
		}
		seeds = append(seeds, s)
	}
	cfg.Join = seeds
	return &SWIM{cfg: cfg, logger: componentLogger(cfg.Logger, "swim")}, nil
}

// seedAddr adds DefaultSWIMPort to a seed without a port.
func seedAddr(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if net.ParseIP(s) != nil || !strings.Contains(s, ":") {
			return net.JoinHostPort(s, strconv.Itoa(DefaultSWIMPort)), nil
		}
		return "", fmt.Errorf("invalid seed %q: want host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
		return "", fmt.Errorf("invalid seed %q: want host:port with a port from 1 to 65535", s)
	}
	return s, nil
}

// Name returns "swim".
func (s *SWIM) Name() string { return "swim" }

// Run joins the membership, connects to its members until ctx is done,
// then leaves it and returns nil. It returns an error when memberlist
// cannot start, for example when its port is in use.
func (s *SWIM) Run(ctx context.Context, c Cluster) error {
	name := s.cfg.NodeName
	if name == "" {
		name = c.Self()
	}
	meta, err := json.Marshal(swimMeta{Name: name, Port: s.cfg.TransportPort})
	if err != nil {
		return fmt.Errorf("swim: encode metadata: %w", err)
	}

	conf := memberlist.DefaultLANConfig()
	conf.Name = name
	conf.BindPort = s.cfg.Port
	conf.AdvertisePort = s.cfg.Port
	if s.cfg.BindAddr != "" {
		conf.BindAddr = s.cfg.BindAddr
	}
	conf.Delegate = metaDelegate(meta)
	conf.Events = eventLog{s.logger}
	conf.Logger = log.New(newMemberlistLog(s.logger), "", 0)
	if len(s.cfg.Secret) > 0 {
		key := sha256.Sum256(append([]byte(swimKeyLabel), s.cfg.Secret...))
		conf.SecretKey = key[:]
	}
	ml, err := memberlist.Create(conf)
	if err != nil {
		return fmt.Errorf("swim: start memberlist on port %d: %w", s.cfg.Port, err)
	}
	local := ml.LocalNode()
	s.logger.Info("swim started", "addr", net.JoinHostPort(local.Addr.String(), strconv.Itoa(int(local.Port))),
		"seeds", strings.Join(s.cfg.Join, ","), "encrypted", len(s.cfg.Secret) > 0)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.rejoin(ctx, ml)
	}()

	tries := newAttempts(s.cfg.MinBackoff, s.cfg.MaxBackoff, s.logger)
	poll(ctx, swimConnectInterval, func(context.Context) { s.connectMembers(c, ml, tries) })

	if err := ml.Leave(time.Second); err != nil {
		s.logger.Debug("leaving the membership failed", "err", err)
	}
	ml.Shutdown()
	wg.Wait() // rejoin ends with ctx
	s.logger.Info("swim stopped")
	return nil
}

// connectMembers connects to each live member that is not connected.
func (s *SWIM) connectMembers(c Cluster, ml *memberlist.Memberlist, tries *attempts) {
	tries.startRound()
	for _, m := range ml.Members() {
		var meta swimMeta
		if err := json.Unmarshal(m.Meta, &meta); err != nil || meta.Name == "" || meta.Port < 1 || meta.Port > 65535 {
			s.logger.Debug("member without gonode metadata ignored", "member", m.Name)
			continue
		}
		addr := net.JoinHostPort(m.Addr.String(), strconv.Itoa(meta.Port))
		tries.connect(c, Peer{Name: meta.Name, Addr: addr, Strategy: s.Name()})
	}
	tries.endRound()
}

// rejoin joins the seeds again whenever one of them is not a live member,
// until ctx is done.
func (s *SWIM) rejoin(ctx context.Context, ml *memberlist.Memberlist) {
	if len(s.cfg.Join) == 0 {
		return
	}
	failures := newLimitedLog(errorLogEvery)
	poll(ctx, s.cfg.RejoinInterval, func(ctx context.Context) {
		missing := s.missingSeeds(ml)
		if len(missing) == 0 {
			return
		}
		// Join blocks for up to memberlist's TCPTimeout per seed.
		n, err := ml.Join(missing)
		if ctx.Err() != nil {
			return
		}
		if err != nil && n == 0 {
			if ok, suppressed := failures.fail(time.Now()); ok {
				s.logger.Warn("cannot join any seed; retrying",
					repeatsAttrs(suppressed, "seeds", strings.Join(missing, ","), "every", s.cfg.RejoinInterval, "err", memberlistError(err.Error()))...)
			}
			return
		}
		if failures.recover() {
			s.logger.Info("joined the membership again", "seeds", n)
		}
	})
}

// missingSeeds returns the seeds that are not the address of a live
// member. A seed whose host does not resolve counts as missing.
func (s *SWIM) missingSeeds(ml *memberlist.Memberlist) []string {
	live := make(map[string]bool)
	for _, m := range ml.Members() {
		live[net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port)))] = true
	}
	self := ml.LocalNode()
	var missing []string
	for _, seed := range s.cfg.Join {
		addr, err := net.ResolveTCPAddr("tcp", seed)
		if err == nil && live[addr.String()] {
			continue
		}
		if err == nil && addr.IP.Equal(self.Addr) && addr.Port == int(self.Port) {
			continue
		}
		missing = append(missing, seed)
	}
	return missing
}

// eventLog is a memberlist.EventDelegate that logs membership changes.
// Memberlist calls it synchronously, so it must not block.
type eventLog struct{ logger *slog.Logger }

func (e eventLog) NotifyJoin(n *memberlist.Node) {
	e.logger.Info("member joined: "+n.Name, "addr", n.Address())
}

func (e eventLog) NotifyLeave(n *memberlist.Node) {
	e.logger.Info("member left or failed: "+n.Name, "addr", n.Address())
}

func (e eventLog) NotifyUpdate(*memberlist.Node) {}

// metaDelegate is a memberlist.Delegate that only carries node metadata.
type metaDelegate []byte

func (d metaDelegate) NodeMeta(limit int) []byte {
	if len(d) > limit {
		return nil
	}
	return d
}
func (metaDelegate) NotifyMsg([]byte)                           {}
func (metaDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (metaDelegate) LocalState(join bool) []byte                { return nil }
func (metaDelegate) MergeRemoteState(buf []byte, join bool)     {}

// memberlistLog turns memberlist's log lines ("[WARN] memberlist: ...")
// into records of logger. Its debug and info lines become debug records.
// Warnings and errors become at most one warning record a minute, with
// the count of the lines in between, which go to debug. The limit is
// there because memberlist logs a line for every failed probe during a
// network cut.
type memberlistLog struct {
	logger *slog.Logger

	mu      sync.Mutex
	limiter *limitedLog // guarded by mu
}

func newMemberlistLog(logger *slog.Logger) *memberlistLog {
	return &memberlistLog{logger: logger, limiter: newLimitedLog(errorLogEvery)}
}

func (l *memberlistLog) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		l.logLine(string(line))
	}
	return len(p), nil
}

func (l *memberlistLog) logLine(line string) {
	level, msg := "", line
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			level, msg = line[1:end], strings.TrimSpace(line[end+1:])
		}
	}
	msg = strings.TrimPrefix(msg, "memberlist: ")
	if level != "WARN" && level != "ERR" {
		l.logger.Debug("memberlist: " + msg)
		return
	}
	l.mu.Lock()
	ok, suppressed := l.limiter.fail(time.Now())
	l.mu.Unlock()
	if !ok {
		l.logger.Debug("memberlist: " + msg)
		return
	}
	l.logger.Warn("memberlist: "+memberlistError(msg), repeatsAttrs(suppressed)...)
}

// errorCount matches the header line of a go-multierror text, such as
// "1 error occurred:".
var errorCount = regexp.MustCompile(`^\d+ errors? occurred:$`)

// joinFailure matches memberlist's "failed to join ADDR: " before a
// cause.
var joinFailure = regexp.MustCompile(`^failed to join (\S+): `)

// memberlistError returns memberlist's error text on one line. Join
// returns a go-multierror, whose text is a header line and one "* cause"
// line per seed. The causes are joined with "; ", and "failed to join
// ADDR: " is cut from a cause that names ADDR again, as a dial error does.
// A decryption failure is reported as differing gossip secrets.
func memberlistError(text string) string {
	var causes []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "* ")
		if line == "" || errorCount.MatchString(line) {
			continue
		}
		if m := joinFailure.FindStringSubmatch(line); m != nil && strings.Contains(line[len(m[0]):], m[1]) {
			line = line[len(m[0]):]
		}
		causes = append(causes, line)
	}
	flat := strings.Join(causes, "; ")
	if strings.Contains(flat, "no installed keys could decrypt the message") {
		return "the gossip secrets differ (set the same --gossip-secret on every node): " + flat
	}
	return flat
}
