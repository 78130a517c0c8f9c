package discovery

import (
	"testing"

	"github.com/gonode/gonode/node/nodetest"
)

// TestMain runs the tests in a private network namespace, because the
// gossip tests join a multicast group.
func TestMain(m *testing.M) { nodetest.Main(m) }
