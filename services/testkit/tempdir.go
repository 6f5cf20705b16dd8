package testkit

import (
	"os"
	"testing"
)

// ReachableTempDir returns a new temporary directory that other users may pass through,
// removed when the test ends. A Postgres cluster made by a test running as root runs as an
// unprivileged user, who cannot reach into t.TempDir() (private to root).
func ReachableTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fd-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
