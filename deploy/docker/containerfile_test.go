package docker_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// TestContainerfile checks the recipe `make images` builds with buildah (deploy/images) against
// the Dockerfile's runtime stage: scratch (nothing pulled, so the build works offline), no RUN
// (no shell, and no emulation needed for the other platform), the same user, entrypoint and OCI
// labels, the binary chosen by the target platform.
func TestContainerfile(t *testing.T) {
	t.Parallel()
	parse := func(path string) *instructions.Stage {
		t.Helper()
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ast, err := parser.Parse(bytes.NewReader(src))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var warnings []string
		lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, _ []parser.Range) {
			warnings = append(warnings, rule+": "+msg)
		}})
		stages, _, err := instructions.Parse(ast.AST, lint)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(warnings) > 0 {
			t.Errorf("%s: BuildKit checks: %q", path, warnings)
		}
		return &stages[len(stages)-1]
	}
	scratch, docker := parse("../images/Containerfile"), parse("Dockerfile")
	if scratch.BaseName != "scratch" {
		t.Errorf("Containerfile is based on %q, want scratch (nothing to pull)", scratch.BaseName)
	}
	type summary struct {
		user       string
		entrypoint []string
		labels     map[string]string
		copies     []string
	}
	sum := func(s *instructions.Stage) summary {
		out := summary{labels: map[string]string{}}
		for _, c := range s.Commands {
			switch c := c.(type) {
			case *instructions.UserCommand:
				out.user = c.User
			case *instructions.EntrypointCommand:
				out.entrypoint = c.CmdLine
			case *instructions.LabelCommand:
				for _, kv := range c.Labels {
					out.labels[kv.Key] = strings.Trim(kv.Value, `"`)
				}
			case *instructions.CopyCommand:
				out.copies = append(out.copies, strings.Join(c.SourcePaths, " ")+" -> "+c.DestPath)
			case *instructions.RunCommand:
				t.Errorf("Containerfile runs %q: scratch has no shell", c.CmdLine)
			}
		}
		return out
	}
	a, b := sum(scratch), sum(docker)
	if a.user != b.user || a.user != "65532:65532" {
		t.Errorf("user %q, Dockerfile %q", a.user, b.user)
	}
	if !slices.Equal(a.entrypoint, b.entrypoint) {
		t.Errorf("entrypoint %q, Dockerfile %q", a.entrypoint, b.entrypoint)
	}
	for k, v := range b.labels {
		if a.labels[k] != v {
			t.Errorf("label %s = %q, Dockerfile %q", k, a.labels[k], v)
		}
	}
	if !slices.Contains(a.copies, "${TARGETOS}_${TARGETARCH}/${SERVICE} -> /frontdesk") || !slices.Contains(a.copies, "rootfs/ -> /") {
		t.Errorf("copies %q: want the platform's binary as /frontdesk and the shared root filesystem", a.copies)
	}
}
