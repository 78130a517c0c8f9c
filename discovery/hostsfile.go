package discovery

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gonode/gonode/node/epmd"
)

// Defaults of HostsFileConfig.
const (
	DefaultHostsFileInterval = 5 * time.Second
	DefaultNamesTimeout      = 2 * time.Second
)

const (
	// maxHostsFileSize bounds the hosts file that ReadHostsFile reads.
	maxHostsFileSize = 1 << 20
	// maxNamesQueries bounds the NAMES requests under way at once.
	maxNamesQueries = 16
	// errorLogEvery is the least time between two log lines about the
	// same failing lookup.
	errorLogEvery = time.Minute
)

// ReadHostsFile reads a list of host names from the file at path. It
// takes the syntax of Erlang's .hosts.erlang, one quoted atom and a dot
// per host ('host1'.). It also takes plain lines with one host name each,
// and a file may mix both. A '%' or '#' starts a comment that runs to the
// end of the line, and blank lines are skipped. An error names the path
// and line.
func ReadHostsFile(path string) ([]string, error) {
	data, err := readLimited(path, maxHostsFileSize)
	if err != nil {
		return nil, fmt.Errorf("read hosts file: %w", err)
	}
	return ParseHosts(path, data)
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return buf.Bytes(), nil
}

// ParseHosts parses the contents of a hosts file (see ReadHostsFile);
// path is used only in errors. It returns each host once, in file order.
func ParseHosts(path string, data []byte) ([]string, error) {
	var hosts []string
	seen := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxHostsFileSize)
	for line := 1; sc.Scan(); line++ {
		found, err := parseHostsLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		for _, h := range found {
			if !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return hosts, nil
}

// parseHostsLine returns the hosts on one line.
func parseHostsLine(line string) ([]string, error) {
	line = strings.TrimSpace(stripComment(line))
	if line == "" {
		return nil, nil
	}
	if !strings.HasPrefix(line, "'") {
		// A plain line: one host name, with an optional final dot as in
		// an unquoted Erlang atom (host1.).
		host := strings.TrimSuffix(line, ".")
		if err := checkHostName(host); err != nil {
			return nil, err
		}
		return []string{host}, nil
	}
	var hosts []string
	rest := line
	for rest != "" {
		if !strings.HasPrefix(rest, "'") {
			return nil, fmt.Errorf("unexpected %q: want a quoted host name such as 'host1'.", rest)
		}
		end := strings.IndexByte(rest[1:], '\'')
		if end < 0 {
			return nil, fmt.Errorf("missing closing quote in %q", rest)
		}
		host := rest[1 : end+1]
		rest = strings.TrimLeft(rest[end+2:], " \t")
		if !strings.HasPrefix(rest, ".") {
			return nil, fmt.Errorf("missing '.' after '%s'", host)
		}
		rest = strings.TrimLeft(rest[1:], " \t")
		if err := checkHostName(host); err != nil {
			return nil, err
		}
		hosts = append(hosts, host)
	}
	return hosts, nil
}

// stripComment cuts line at the first '%' or '#' outside single quotes.
func stripComment(line string) string {
	quoted := false
	for i, r := range line {
		switch {
		case r == '\'':
			quoted = !quoted
		case (r == '%' || r == '#') && !quoted:
			return line[:i]
		}
	}
	return line
}

// checkHostName accepts an IP address or a host name of letters, digits,
// '-' and '.'.
func checkHostName(host string) error {
	if host == "" {
		return errors.New("empty host name")
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if len(host) > 253 {
		return fmt.Errorf("host name %.20q... is longer than 253 bytes", host)
	}
	for _, r := range host {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.'
		if !ok {
			return fmt.Errorf("invalid host name %q: character %q is not allowed", host, r)
		}
	}
	return nil
}

// HostsFileConfig configures a HostsFile strategy.
type HostsFileConfig struct {
	// Path is the hosts file; see ReadHostsFile. It is read again on every
	// poll, so edits take effect without a restart.
	Path string
	// Interval is the time between two polls; 0 means
	// DefaultHostsFileInterval.
	Interval time.Duration
	// EPMDPort is the port mapper port on every host; 0 means the port
	// from GONODE_EPMD_PORT, else 4369.
	EPMDPort int
	// NamesTimeout bounds one NAMES request; 0 means DefaultNamesTimeout.
	NamesTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between two attempts to
	// connect to one unconnected node; 0 means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the strategy's logs; nil discards them.
	Logger *slog.Logger
}

// HostsFile is the hosts-file strategy, a take on libcluster's
// ErlangHosts. On every poll it reads a list of hosts from a file, sends
// an EPMD NAMES request to the port mapper of each host and connects to
// every node name@host that the responses list. A host
// whose port mapper does not answer keeps the names of its last answer.
type HostsFile struct {
	cfg    HostsFileConfig
	logger *slog.Logger
}

// NewHostsFile checks cfg and returns a HostsFile strategy. It reads the
// file once, so that a missing file or a bad line is reported at start.
func NewHostsFile(cfg HostsFileConfig) (*HostsFile, error) {
	if cfg.Path == "" {
		return nil, errors.New("hosts-file: the path is empty")
	}
	if _, err := ReadHostsFile(cfg.Path); err != nil {
		return nil, fmt.Errorf("hosts-file: %w", err)
	}
	var err error
	cfg.Interval, cfg.NamesTimeout, err = pollTimes(cfg.Interval, DefaultHostsFileInterval, cfg.NamesTimeout, DefaultNamesTimeout)
	if err != nil {
		return nil, fmt.Errorf("hosts-file: %w", err)
	}
	if cfg.EPMDPort, err = portMapperPort(cfg.EPMDPort); err != nil {
		return nil, fmt.Errorf("hosts-file: %w", err)
	}
	return &HostsFile{cfg: cfg, logger: componentLogger(cfg.Logger, "hosts-file")}, nil
}

// Name returns "hosts-file".
func (h *HostsFile) Name() string { return "hosts-file" }

// hostsFileState is what one run of HostsFile remembers between polls.
// It is owned by the goroutine of Run.
type hostsFileState struct {
	hosts     []string                    // the last good read of the file
	names     map[string][]epmd.NameEntry // the last good NAMES response, by host
	fileLog   *limitedLog
	namesLogs map[string]*limitedLog // by host
	tries     *attempts
}

// Run polls the hosts file and the hosts' port mappers until ctx is done,
// and returns nil.
func (h *HostsFile) Run(ctx context.Context, c Cluster) error {
	st := &hostsFileState{
		names:     make(map[string][]epmd.NameEntry),
		fileLog:   newLimitedLog(errorLogEvery),
		namesLogs: make(map[string]*limitedLog),
		tries:     newAttempts(h.cfg.MinBackoff, h.cfg.MaxBackoff, h.logger),
	}
	h.logger.Info("hosts-file started", "path", h.cfg.Path, "interval", h.cfg.Interval, "epmd_port", h.cfg.EPMDPort)
	poll(ctx, h.cfg.Interval, func(ctx context.Context) { h.pollOnce(ctx, c, st) })
	h.logger.Info("hosts-file stopped")
	return nil
}

func (h *HostsFile) pollOnce(ctx context.Context, c Cluster, st *hostsFileState) {
	hosts, err := ReadHostsFile(h.cfg.Path)
	if err != nil {
		if ok, suppressed := st.fileLog.fail(time.Now()); ok {
			h.logger.Warn("cannot read the hosts file; keeping its last good contents", repeatsAttrs(suppressed, "err", err, "hosts", len(st.hosts))...)
		}
	} else {
		if st.fileLog.recover() {
			h.logger.Info("hosts file read again", "path", h.cfg.Path, "hosts", len(hosts))
		}
		st.hosts = hosts
	}

	answers := h.queryNames(ctx, st.hosts)
	if ctx.Err() != nil {
		return
	}
	for _, host := range st.hosts {
		log := st.namesLogs[host]
		if log == nil {
			log = newLimitedLog(errorLogEvery)
			st.namesLogs[host] = log
		}
		a := answers[host]
		if a.err != nil {
			if ok, suppressed := log.fail(time.Now()); ok {
				h.logger.Warn("cannot list the nodes on host "+host, repeatsAttrs(suppressed, "err", a.err)...)
			}
			continue
		}
		if log.recover() {
			h.logger.Info("port mapper on host "+host+" responds again", "nodes", len(a.names))
		}
		st.names[host] = a.names
	}
	// Forget hosts that left the file.
	inFile := make(map[string]bool, len(st.hosts))
	for _, host := range st.hosts {
		inFile[host] = true
	}
	for host := range st.names {
		if !inFile[host] {
			delete(st.names, host)
			delete(st.namesLogs, host)
		}
	}

	st.tries.startRound()
	for _, host := range st.hosts {
		for _, e := range st.names[host] {
			st.tries.connect(c, Peer{
				Name:     e.Name + "@" + host,
				Addr:     net.JoinHostPort(host, strconv.Itoa(e.Port)),
				Strategy: h.Name(),
			})
		}
	}
	st.tries.endRound()
}

// pollTimes checks a poll interval and a request timeout, and replaces
// each zero one with its default.
func pollTimes(interval, defaultInterval, timeout, defaultTimeout time.Duration) (time.Duration, time.Duration, error) {
	if interval < 0 {
		return 0, 0, fmt.Errorf("invalid interval %s: want 0 (the default) or more", interval)
	}
	if timeout < 0 {
		return 0, 0, fmt.Errorf("invalid timeout %s: want 0 (the default) or more", timeout)
	}
	if interval == 0 {
		interval = defaultInterval
	}
	if timeout == 0 {
		timeout = defaultTimeout
	}
	return interval, timeout, nil
}

// portMapperPort checks the port mapper port of a strategy. Zero selects
// the port from GONODE_EPMD_PORT, else 4369.
func portMapperPort(port int) (int, error) {
	if port == 0 {
		return epmd.PortFromEnv()
	}
	if port < 1 || port > 65535 {
		return 0, fmt.Errorf("invalid port mapper port %d: want 1 to 65535", port)
	}
	return port, nil
}

type namesAnswer struct {
	names []epmd.NameEntry
	err   error
}

// queryNames sends a NAMES request to the port mapper of each host, a few
// hosts at a time, each request bounded by NamesTimeout.
func (h *HostsFile) queryNames(ctx context.Context, hosts []string) map[string]namesAnswer {
	answers := make(map[string]namesAnswer, len(hosts))
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxNamesQueries)
	for _, host := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			qctx, cancel := context.WithTimeout(ctx, h.cfg.NamesTimeout)
			defer cancel()
			addr := net.JoinHostPort(host, strconv.Itoa(h.cfg.EPMDPort))
			names, err := epmd.Names(qctx, addr) // an error names addr
			mu.Lock()
			answers[host] = namesAnswer{names: names, err: err}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return answers
}
