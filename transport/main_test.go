package transport

import (
	"testing"

	"github.com/gonode/gonode/node/nodetest"
)

// TestMain runs the tests in a private network namespace, because they
// listen on loopback.
func TestMain(m *testing.M) { nodetest.Main(m) }
