// Package epmd implements the port mapper protocol of Erlang's epmd: a
// Server that maps node names to distribution ports, and a client that
// registers a node (Register), finds another node's port (Lookup) and
// lists the registered nodes (Names).
//
// The wire format is that of the "Distribution Protocol" chapter of the
// Erlang/OTP erts documentation, so a gonode node can use Erlang's epmd
// and an Erlang node can use Server. Node names here are the part before
// '@', because epmd runs on the node's host and stores no host names.
//
// EnsureRunning starts a detached epmd when none replies, and RunCommand
// implements the `epmd` subcommand that it starts.
package epmd
