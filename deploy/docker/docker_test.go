// Package docker_test checks the service image recipe and the binaries it ships: the
// Dockerfile parses and passes BuildKit's checks (this machine has no Docker engine, so the
// recipe is verified statically), and every service builds as a static binary that answers
// --version with the stamped version and commit.
package docker_test

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// services are the images built from the Dockerfile (make images, the chart).
var services = []string{"gateway", "dispatcher", "persister", "aibridge"}

const buildinfo = "github.com/frontdesk-chat/frontdesk/services/buildinfo"

func TestDockerfile(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ast, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var warnings []string
	lint := linter.New(&linter.Config{Warn: func(rule, desc, _, msg string, loc []parser.Range) {
		warnings = append(warnings, fmt.Sprintf("%s: %s (line %v)", rule, msg, loc))
	}})
	stages, metaArgs, err := instructions.Parse(ast.AST, lint)
	if err != nil {
		t.Fatalf("instructions: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("BuildKit checks: %q", warnings)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a builder and a runtime", len(stages))
	}
	if !slices.ContainsFunc(metaArgs, func(a instructions.ArgCommand) bool { return a.Args[0].Key == "GO_VERSION" }) {
		t.Error("no GO_VERSION argument")
	}
	build, runtime := stages[0], stages[1]
	if !strings.HasPrefix(build.BaseName, "golang:") {
		t.Errorf("builder %q", build.BaseName)
	}
	var buildRun string
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok && strings.Contains(strings.Join(r.CmdLine, " "), "go build") {
			buildRun = strings.Join(r.CmdLine, " ")
		}
	}
	for _, want := range []string{
		"CGO_ENABLED=0", "-trimpath", "-X " + buildinfo + ".Version=${VERSION}",
		"-X " + buildinfo + ".Commit=${COMMIT}", "./${SERVICE}/cmd/${SERVICE}",
	} {
		if !strings.Contains(buildRun, want) {
			t.Errorf("go build step lacks %q: %s", want, buildRun)
		}
	}

	if runtime.BaseName != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime image %q, want distroless static nonroot", runtime.BaseName)
	}
	labels := map[string]string{}
	var user string
	var entrypoint *instructions.EntrypointCommand
	for _, c := range runtime.Commands {
		switch c := c.(type) {
		case *instructions.LabelCommand:
			for _, kv := range c.Labels {
				labels[kv.Key] = strings.Trim(kv.Value, `"`)
			}
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entrypoint = c
		case *instructions.RunCommand:
			t.Errorf("runtime stage runs %q: it has no shell", c.CmdLine)
		}
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.version":  "${VERSION}",
		"org.opencontainers.image.revision": "${COMMIT}",
		"org.opencontainers.image.source":   "https://github.com/frontdesk-chat/frontdesk",
	} {
		if labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, labels[k], v)
		}
	}
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("USER %q: must be non-root", user)
	}
	if entrypoint == nil || entrypoint.PrependShell || !slices.Equal(entrypoint.CmdLine, []string{"/frontdesk"}) {
		t.Errorf("ENTRYPOINT must be exec form /frontdesk (no shell): %+v", entrypoint)
	}
	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil || !strings.Contains(string(ignore), "**/*_test.go") {
		t.Errorf("Dockerfile.dockerignore: %v", err)
	}
}

// Stamped into the test binaries.
const testVersion, testCommit = "v9.8.7-test", "c0ffee1"

var built struct {
	once    sync.Once
	dir     string
	missing []string
	err     error
}

// buildServices builds every service whose cmd directory exists, the way `make build` and the
// image do (CGO_ENABLED=0, -trimpath, version and commit linked in), once per test binary.
// It returns the directory of the binaries and the services not there yet.
func buildServices(t *testing.T) (string, []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the service binaries; skipped with -short")
	}
	built.once.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			built.err = err
			return
		}
		if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
			built.err = fmt.Errorf("repository root not found at %s: %w", root, err)
			return
		}
		// A fixed directory, overwritten by every run: testkit.Main exits without running
		// cleanups of a per-run directory.
		dir := filepath.Join(os.TempDir(), "frontdesk-deploy-test-bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			built.err = err
			return
		}
		built.dir = dir
		ldflags := fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s", buildinfo, testVersion, buildinfo, testCommit)
		var pkgs []string
		for _, svc := range services {
			if _, err := os.Stat(filepath.Join(root, svc, "cmd", svc, "main.go")); errors.Is(err, fs.ErrNotExist) {
				built.missing = append(built.missing, svc)
				continue
			}
			pkgs = append(pkgs, "./"+svc+"/cmd/"+svc)
		}
		if len(pkgs) == 0 {
			return
		}
		// One invocation builds the services concurrently; the shared build cache makes
		// later runs quick.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-trimpath", "-ldflags", ldflags, "-o", dir + "/"}, pkgs...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
		if b, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build %s: %w\n%s", pkgs, err, b)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir, built.missing
}

// TestMain stops the throwaway Postgres testkit.Database may start.
func TestMain(m *testing.M) { testkit.Main(m) }

// TestStaticBinaries checks every service binary is static and answers --version. A service
// whose cmd directory is not there yet is skipped, saying so.
func TestStaticBinaries(t *testing.T) {
	dir, missing := buildServices(t)
	for _, svc := range services {
		t.Run(svc, func(t *testing.T) {
			if slices.Contains(missing, svc) {
				t.Skipf("%s/cmd/%s does not exist yet: nothing to build", svc, svc)
			}
			bin := filepath.Join(dir, svc)
			checkStatic(t, bin)

			vctx, vcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer vcancel()
			v := exec.CommandContext(vctx, bin, "--version")
			v.Env = []string{} // --version needs no configuration
			b, err := v.CombinedOutput()
			if err != nil {
				t.Fatalf("%s --version: %v\n%s", svc, err, b)
			}
			for _, want := range []string{svc, testVersion, testCommit} {
				if !strings.Contains(string(b), want) {
					t.Errorf("%s --version = %q, want it to contain %q", svc, b, want)
				}
			}
		})
	}
}

// checkStatic fails unless bin is an ELF executable with no program interpreter and no
// shared-library dependencies, so it runs on distroless static or scratch.
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("%s: not ELF: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter (dynamically linked)", bin)
		}
		if p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a dynamic section", bin)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	if len(libs) > 0 {
		t.Errorf("%s needs shared libraries %q", bin, libs)
	}
}
