package dispatchertest_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestOnlyTestsAndLoadgenImportIt: the stand-in never becomes part of the gateway; outside
// tests only the load generator may use it.
func TestOnlyTestsAndLoadgenImportIt(t *testing.T) {
	t.Parallel()
	const self = "github.com/frontdesk-chat/frontdesk/gateway/internal/dispatchertest"
	root := filepath.Join("..", "..") // the gateway module
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self && filepath.Dir(path) != filepath.Join(root, "cmd", "loadgen") {
				t.Errorf("%s imports the dispatcher's test stand-in", path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
