package testkit

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Main runs the tests of a binary, stops the throwaway Postgres cluster if Database started
// one, and then fails the binary if any goroutine outlived the tests (goleak): every goroutine
// has an owner that stops and waits for it. Call it from TestMain:
// func TestMain(m *testing.M) { testkit.Main(m) }. opts are for goroutines a third-party
// library starts and offers no way to stop (goleak.IgnoreTopFunction, with a comment why).
func Main(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	shared.mu.Lock()
	c := shared.cluster
	shared.cluster = nil
	shared.mu.Unlock()
	if c != nil {
		if err := c.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testkit: stop throwaway postgres: %v\n", err)
		}
	}
	if code == 0 {
		// goleak alone retries for about half a second; on a busy machine a server the last
		// test stopped may take longer to unwind, so give owners a few seconds.
		err := goleak.Find(opts...)
		for deadline := time.Now().Add(5 * time.Second); err != nil && time.Now().Before(deadline); {
			err = goleak.Find(opts...)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "testkit: goroutines outlived the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
