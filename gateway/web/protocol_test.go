package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// jsGroups are the exported objects of protocol.js: each mirrors the constants of
// proto/frames/names.go with that prefix (TypeSend -> Type.Send).
var jsGroups = []string{"Subprotocol", "Type", "Kind", "Role", "State", "Status", "Code", "Close", "Action", "Partials", "Scale", "SLA"}

// TestProtocolMirrorsFrames: protocol.js has every name of proto/frames/names.go, with the same
// value, and nothing else: a frame type added to the contract shows up for the pages.
func TestProtocolMirrorsFrames(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "../../proto/frames/names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok {
				continue
			}
			for _, g := range jsGroups {
				if key, ok := strings.CutPrefix(name.Name, g); ok && key != "" {
					v := lit.Value
					if lit.Kind == token.STRING {
						v, _ = strconv.Unquote(v)
					}
					want[g+"."+key] = v
					break
				}
			}
		}
		return true
	})
	js, err := os.ReadFile("static/js/core/protocol.js")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	group := ""
	for _, line := range strings.Split(string(js), "\n") {
		if m := regexp.MustCompile(`^export const (\w+) = Object\.freeze\(\{`).FindStringSubmatch(line); m != nil {
			group = m[1]
			continue
		}
		if m := regexp.MustCompile(`^\s+(\w+): '?([^',]*)'?,$`).FindStringSubmatch(line); m != nil && group != "" {
			got[group+"."+m[1]] = m[2]
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("protocol.js %s = %q, proto/frames says %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("protocol.js has %s, which proto/frames does not define", k)
		}
	}
	if len(want) < 50 {
		t.Fatalf("only %d names read from proto/frames/names.go", len(want))
	}
}

// TestPagesUseProtocolNames: the page scripts compare frame types, kinds, roles and states
// through protocol.js, never as string literals.
func TestPagesUseProtocolNames(t *testing.T) {
	t.Parallel()
	frameTypes := `send|sync|history|typing|read|handoff|transfer|close|ping|assist|accept|decline|leave_message|to_bot|` +
		`welcome|ack|message|queued|assigned|state|synced|presence|pong|error|suggestion|notice|offer|` +
		`note|notes|rate|rated|board|roster`
	literal := regexp.MustCompile(`(?:\bcase |\btype(?: [!=]==|:) )'(` + frameTypes + `)'` +
		`|\bkind(?: [!=]==|:) '(text|image|audio|file|transcript)'` +
		`|\brole(?: [!=]==|:) '(customer|agent|supervisor|bot|system)'` +
		`|\bstate(?: [!=]==|:) '(bot|queued|assigned|closed)'`)
	err := filepath.WalkDir("static/js", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") || strings.HasSuffix(p, "protocol.js") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := literal.FindString(line); m != "" {
				t.Errorf("%s:%d: %s (use protocol.js)", p, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
