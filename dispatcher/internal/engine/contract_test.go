package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The transition matrix iterates over allStates and allCommands; these tests tie those lists
// to the contract, so a state or command added there fails the matrix until it has its rows.
// (When proto/ exports the command types as constants, read them from there instead.)

// TestAllStatesAreTheContracts compares allStates with the State constants of proto/frames.
func TestAllStatesAreTheContracts(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "../../../proto/frames/names.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "State") {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, _ := strconv.Unquote(lit.Value)
			states = append(states, s)
		}
		return true
	})
	if len(states) == 0 {
		t.Fatal("no State constants found in proto/frames/names.go")
	}
	want := slices.Sorted(slices.Values(allStates))
	if slices.Sort(states); !slices.Equal(states, want) {
		t.Fatalf("proto/frames states %v, allStates %v", states, want)
	}
}

// TestAllCommandsAreTheContracts compares allCommands with the command types listed in the
// Command message's comment (proto/frontdesk/v1/dispatch.proto).
func TestAllCommandsAreTheContracts(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../../proto/frontdesk/v1/dispatch.proto")
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "//"))
		for _, kind := range []string{"conversation:", "agent:"} {
			if rest, ok := strings.CutPrefix(line, kind); ok {
				for _, typ := range strings.Split(rest, ",") {
					types = append(types, strings.TrimSpace(typ))
				}
			}
		}
	}
	if len(types) == 0 {
		t.Fatal("no command types found in dispatch.proto")
	}
	want := slices.Sorted(slices.Values(allCommands))
	if slices.Sort(types); !slices.Equal(types, want) {
		t.Fatalf("dispatch.proto command types %v, allCommands %v", types, want)
	}
}
