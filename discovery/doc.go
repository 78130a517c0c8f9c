// Package discovery finds other gonode nodes so that the local node can
// connect to them.
//
// A Strategy runs until its context ends and reports each node it finds to
// a Cluster, which owns the connections. Several strategies may run side
// by side, each logging under its own component name:
//
//   - Gossip, a take on libcluster's Gossip strategy: every node sends a
//     small UDP heartbeat with its name and transport port to a multicast
//     group, and listens on the same group for the heartbeats of others.
//     The heartbeat layout is documented at HeartbeatMagic.
//   - Hosts, a fixed list of node names (libcluster's Epmd strategy).
//   - HostsFile, a file of host names whose port mappers list the nodes
//     (libcluster's ErlangHosts).
//   - DNS, the A, AAAA or SRV records of a name (libcluster's DNSPoll and
//     Kubernetes DNS strategies).
//
// The strategies other than Gossip back off per peer while a peer does not
// connect, and try again at once when a connection breaks.
package discovery
