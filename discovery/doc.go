// Package discovery finds other gonode nodes so that the local node can
// connect to them.
//
// A Strategy runs until its context ends and reports each node it finds to
// a Cluster, which owns the connections. The one strategy so far is Gossip,
// a take on libcluster's Gossip strategy: every node sends a small UDP
// heartbeat with its name and transport port to a multicast group, and
// listens on the same group for the heartbeats of others. The heartbeat
// layout is documented at HeartbeatMagic.
package discovery
