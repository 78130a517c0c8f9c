package node

import (
	"context"
	"errors"

	"github.com/gonode/gonode/discovery"
)

// RunStrategy runs a discovery strategy until the node closes. Peers the
// strategy finds are connected in the background, with back-off.
func (n *Node) RunStrategy(s discovery.Strategy) {
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		err := s.Run(n.ctx, cluster{n})
		if err != nil && !errors.Is(err, context.Canceled) && n.ctx.Err() == nil {
			n.log.With("component", s.Name()).Error("discovery stopped", "err", err)
		}
	}()
}

// cluster is the node as a discovery strategy sees it.
type cluster struct{ n *Node }

func (c cluster) Self() string               { return c.n.name }
func (c cluster) Connected(name string) bool { return c.n.Connected(name) }
func (c cluster) Connect(p discovery.Peer)   { c.n.ConnectLater(p.Name, p.Addr, p.Strategy) }
