package transport

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gonode/gonode/node/nodetest"
)

// TestMain runs the tests in a private network namespace, because they
// listen on loopback, and fails the run if any goroutine outlives them.
func TestMain(m *testing.M) {
	if !nodetest.Inside() {
		nodetest.Main(m)
	}
	goleak.VerifyTestMain(m)
}
