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

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// The transition matrix iterates over allStates and allCommands; these tests tie those lists
// to the contract, so a state or command added there fails the matrix until it has its rows.

// constants returns the values of the string constants of a proto/frames file whose names start
// with prefix.
func constants(t *testing.T, file, prefix string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../../proto/frames/"+file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != len(vs.Values) {
			return true
		}
		for i, name := range vs.Names {
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING && strings.HasPrefix(name.Name, prefix) {
				s, _ := strconv.Unquote(lit.Value)
				out = append(out, s)
			}
		}
		return true
	})
	if len(out) == 0 {
		t.Fatalf("no %s constants found in proto/frames/%s", prefix, file)
	}
	return out
}

// TestAllStatesAreTheContracts compares allStates with the State constants of proto/frames.
func TestAllStatesAreTheContracts(t *testing.T) {
	t.Parallel()
	states := constants(t, "names.go", "State")
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
	want := slices.Sorted(slices.Values(slices.Concat(allCommands, stateless)))
	if slices.Sort(types); !slices.Equal(types, want) {
		t.Fatalf("dispatch.proto command types %v, allCommands %v", types, want)
	}
	// The constants services use are the schema's list.
	if consts := slices.Sorted(slices.Values(constants(t, "bus.go", "Command"))); !slices.Equal(consts, want) {
		t.Fatalf("proto/frames Command constants %v, allCommands %v", consts, want)
	}
	if !slices.Contains(allCommands, frames.CommandLeaveMessage) {
		t.Fatal("allCommands lacks leave_message")
	}
}
