// Command harness runs the benchmarks of bench/run: it runs every
// scenario in a private network namespace of its own, on gonode and, when
// installed, on Erlang/OTP, and writes bench/results.json.
//
// bench/run builds it and calls "harness run"; the other subcommands are
// the processes that a scenario starts:
//
//	harness run --bin DIR [--erl-dir DIR] [--quick]   all scenarios
//	harness unit --scenario S --system SYS ...        one measurement
//	harness peer --name N --cookie C COMMAND ...      a gonode load driver
//	harness tcp COMMAND ...                           the plain-TCP limit
//	harness spin                                      keeps a core busy
//	harness table [--markdown] RESULTS.json           prints a results table
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: harness run|unit|peer|tcp|spin|table ...; bench/run is the command to use")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "run":
		os.Exit(runAll(args))
	case "unit":
		os.Exit(runUnit(args))
	case "peer":
		os.Exit(runPeer(args))
	case "tcp":
		os.Exit(runTCP(args))
	case "spin":
		os.Exit(runSpin())
	case "table":
		os.Exit(printTable(args))
	}
	fmt.Fprintf(os.Stderr, "harness: unknown subcommand %q\n", os.Args[1])
	os.Exit(2)
}
