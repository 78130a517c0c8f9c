package epmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// listenFDEnv names the environment variable through which `epmd -daemon`
// hands its bound socket to the detached server it starts. The value is
// the descriptor number of the socket in that process.
const listenFDEnv = "GONODE_EPMD_LISTEN_FD"

// commandTimeout bounds the -names and -kill requests.
const commandTimeout = 5 * time.Second

// RunCommand runs the `epmd` subcommand with args, the arguments after
// the word "epmd", and returns the exit status. Like Erlang's epmd, it
// takes one dash or two before a flag:
//
//	epmd [-port N]          serve on port N of every interface until SIGINT, SIGTERM or -kill
//	epmd -daemon [-port N]  serve in a detached process and exit 0 at once
//	epmd -names [-port N]   print the names registered with the running epmd
//	epmd -kill [-port N]    stop the running epmd if no node is registered
//
// N defaults to GONODE_EPMD_PORT or 4369. -daemon exits 0 without a
// message when the port is in use, so racing starts are harmless. It
// starts the server as `exe epmd -port N`, where exe is os.Executable(),
// so the program must route its "epmd" subcommand to RunCommand.
func RunCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("epmd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defaultPort, portErr := PortFromEnv()
	port := fs.Int("port", defaultPort, "TCP `port` to serve or to query (default from "+PortEnv+")")
	address := fs.String("address", "", "serve on this `IP` only; empty means every interface, as Erlang's epmd does (registrations are taken from loopback only)")
	names := fs.Bool("names", false, "print the names registered with the running epmd, then exit")
	killFlag := fs.Bool("kill", false, "stop the running epmd if no node is registered, then exit")
	daemon := fs.Bool("daemon", false, "serve in a detached background process; exit 0 at once, also when the port is in use")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "epmd: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	portSet := false
	fs.Visit(func(f *flag.Flag) { portSet = portSet || f.Name == "port" })
	if portErr != nil && !portSet {
		fmt.Fprintf(stderr, "epmd: %v\n", portErr)
		return 2
	}
	if *port < 1 || *port > 65535 {
		fmt.Fprintf(stderr, "epmd: invalid -port %d: want a port from 1 to 65535\n", *port)
		return 2
	}
	if *address != "" && net.ParseIP(*address) == nil {
		fmt.Fprintf(stderr, "epmd: invalid -address %q: want an IP address\n", *address)
		return 2
	}
	// Queries go to loopback; the server listens on every interface, so
	// that nodes on other hosts can look up this host's nodes.
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))
	listenAddr := net.JoinHostPort(*address, strconv.Itoa(*port))

	switch {
	case *names:
		return printNames(addr, *port, stdout, stderr)
	case *killFlag:
		return killRunning(addr, stdout, stderr)
	case *daemon:
		return startDetached(listenAddr, *port, stderr)
	}
	return serveForeground(listenAddr, stderr)
}

// printNames prints the registered names in the format of `epmd -names`.
func printNames(addr string, port int, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	entries, err := Names(ctx, addr)
	if err != nil {
		printQueryError(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "epmd: up and running on port %d with data:\n", port)
	for _, e := range entries {
		fmt.Fprintf(stdout, "name %s at port %d\n", e.Name, e.Port)
	}
	return 0
}

// printQueryError prints a failed query as Erlang's epmd client does when
// no epmd listens, and as the error itself otherwise.
func printQueryError(stderr io.Writer, err error) {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		fmt.Fprintln(stderr, "epmd: Cannot connect to local epmd")
		return
	}
	fmt.Fprintf(stderr, "%v\n", err)
}

// killRunning sends KILL_REQ and prints the outcome as `epmd -kill` does.
func killRunning(addr string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	killed, err := kill(ctx, addr)
	if err != nil {
		printQueryError(stderr, err)
		return 1
	}
	if !killed {
		fmt.Fprintln(stderr, "Killing not allowed - living nodes in database.")
		return 1
	}
	fmt.Fprintln(stdout, "Killed")
	return 0
}

// serveForeground serves until SIGINT, SIGTERM or KILL_REQ, logging to
// stderr. It serves on the socket named by listenFDEnv when that is set.
func serveForeground(addr string, stderr io.Writer) int {
	l, err := inheritedListener()
	if err == nil && l == nil {
		l, err = net.Listen("tcp", addr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "epmd: cannot listen on %s: %v\n", addr, err)
		return 1
	}
	s := &Server{Logger: slog.New(slog.NewTextHandler(stderr, nil))}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	select {
	case <-ctx.Done():
		s.Close()
		<-served
		return 0
	case err := <-served:
		s.Close()
		if errors.Is(err, ErrKilled) {
			return 0
		}
		fmt.Fprintf(stderr, "epmd: serve on %s: %v\n", addr, err)
		return 1
	}
}

// inheritedListener returns the socket that `epmd -daemon` passed down,
// or nil when listenFDEnv is unset.
func inheritedListener() (net.Listener, error) {
	v := os.Getenv(listenFDEnv)
	if v == "" {
		return nil, nil
	}
	os.Unsetenv(listenFDEnv)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("invalid %s %q", listenFDEnv, v)
	}
	f := os.NewFile(uintptr(fd), "epmd listener")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("use inherited socket %d: %w", fd, err)
	}
	return l, nil
}

// startDetached binds addr and hands the socket to a server process in
// its own session, so that the port is taken before this process exits.
// A port already in use means another epmd runs, which is success.
func startDetached(addr string, port int, stderr io.Writer) int {
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "epmd: cannot listen on %s: %v\n", addr, err)
		return 1
	}
	socket, err := l.(*net.TCPListener).File()
	l.Close()
	if err != nil {
		fmt.Fprintf(stderr, "epmd: duplicate socket for %s: %v\n", addr, err)
		return 1
	}
	defer socket.Close()
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "epmd: find own executable: %v\n", err)
		return 1
	}

	cmd := exec.Command(exe, "epmd", "-port", strconv.Itoa(port))
	// ExtraFiles[0] becomes descriptor 3 in the server process.
	cmd.Env = append(os.Environ(), listenFDEnv+"=3")
	cmd.ExtraFiles = []*os.File{socket}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "epmd: start %s epmd -port %d: %v\n", exe, port, err)
		return 1
	}
	// The server outlives this process, which therefore does not wait.
	// NOTE: the server's stdio is /dev/null, so its log is discarded.
	cmd.Process.Release()
	return 0
}
