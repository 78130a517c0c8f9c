package node_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gonode/gonode/node"
	"github.com/gonode/gonode/node/term"
)

// Example starts two nodes in one process without a port mapper, connects
// them by address and sends a term from one to a mailbox on the other.
// TestMain runs it in a private network namespace.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	start := func(name string) *node.Node {
		n, err := node.Start(ctx, node.Config{
			Name:       name,
			Cookie:     node.NewCookie("genki"),
			ListenAddr: "127.0.0.1:0",
			NoEPMD:     true,
		})
		if err != nil {
			panic(err)
		}
		return n
	}
	a := start("a@localhost")
	defer a.Close()
	b := start("b@localhost")
	defer b.Close()

	inbox := b.Register("inbox")
	if err := a.ConnectAddr(ctx, b.Name(), b.Addr().String(), "example"); err != nil {
		panic(err)
	}
	msg := term.Tuple{term.Atom("hi"), "from a", term.List{int64(1), 2.5}}
	if err := a.Send(ctx, "inbox", b.Name(), msg); err != nil {
		panic(err)
	}
	got, err := inbox.Receive(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(term.Inspect(got))
	fmt.Println(a.List(), b.List())
	// Output:
	// {:hi, "from a", [1, 2.5]}
	// [b@localhost] [a@localhost]
}
