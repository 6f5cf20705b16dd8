package docker_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestBuildContextIsSufficient replays the Dockerfile's build stage without Docker: it copies
// the git-tracked files of exactly the directories the build stage COPYs into an empty
// directory, creates the same workspace and builds every service there. A service that
// starts importing a module the image does not copy fails here, not in CI's image build.
func TestBuildContextIsSufficient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the services from a copy of the build context; skipped with -short")
	}
	_, missing := buildServices(t) // warms the build cache; same skip rules
	if len(missing) > 0 {
		t.Skipf("services not there yet: %v", missing)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	src, err := os.ReadFile("Dockerfile")
	must(t, err)
	ast, err := parser.Parse(bytes.NewReader(src))
	must(t, err)
	stages, _, err := instructions.Parse(ast.AST, nil)
	must(t, err)
	var dirs, workspace []string
	for _, c := range stages[0].Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			for _, s := range c.SourcePaths {
				if d := strings.TrimSuffix(s, "/"); !strings.Contains(d, "/") && !strings.HasPrefix(d, "go.work") && !slices.Contains(dirs, d) {
					dirs = append(dirs, d)
				}
			}
		case *instructions.RunCommand:
			line := strings.Join(c.CmdLine, " ")
			if _, rest, ok := strings.Cut(line, "go work init "); ok {
				rest, _, _ = strings.Cut(rest, "&&")
				workspace = strings.Fields(rest)
			}
		}
	}
	if len(dirs) == 0 || len(workspace) == 0 {
		t.Fatalf("build stage copies %v, workspace %v", dirs, workspace)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	must(t, err)
	ls := exec.Command("git", append([]string{"ls-files", "-z", "--"}, dirs...)...)
	ls.Dir = root
	out, err := ls.Output()
	must(t, err)
	tmp := t.TempDir()
	for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if f == "" || strings.HasSuffix(f, "_test.go") {
			continue // the .dockerignore drops tests
		}
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue // tracked but deleted in the working tree
		}
		must(t, os.MkdirAll(filepath.Join(tmp, filepath.Dir(f)), 0o755))
		must(t, os.WriteFile(filepath.Join(tmp, f), b, 0o644))
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.work.sum")); err == nil {
		must(t, os.WriteFile(filepath.Join(tmp, "go.work.sum"), b, 0o644))
	}
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GOWORK=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s in the build context: %v\n%s", strings.Join(args, " "), err, b)
		}
	}
	run(append([]string{"work", "init"}, workspace...)...)
	pkgs := []string{"build", "-trimpath", "-o", t.TempDir() + "/"}
	for _, svc := range services {
		pkgs = append(pkgs, "./"+svc+"/cmd/"+svc)
	}
	run(pkgs...)
}
