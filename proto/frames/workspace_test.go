package frames

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestValidateWorkspace: the workspace's frames need their fields and stay within bounds.
func TestValidateWorkspace(t *testing.T) {
	t.Parallel()
	canned := func(shortcut, text string) *fd.ClientFrame {
		return &fd.ClientFrame{Type: TypeCannedSave, Canned: &fd.CannedResponse{Shortcut: shortcut, Text: text}}
	}
	tests := []struct {
		name string
		f    *fd.ClientFrame
		ok   bool
	}{
		{"label", &fd.ClientFrame{Type: TypeLabel, Conv: "c", Label: "vip"}, true},
		{"label remove", &fd.ClientFrame{Type: TypeLabel, Conv: "c", Label: "vip", Remove: true}, true},
		{"label without conv", &fd.ClientFrame{Type: TypeLabel, Label: "vip"}, false},
		{"label not a token", &fd.ClientFrame{Type: TypeLabel, Conv: "c", Label: "v.i.p"}, false},
		{"canned list", &fd.ClientFrame{Type: TypeCanned}, true},
		{"canned save", canned("refund", "We refund within 5 days."), true},
		{"canned save, shortcut with a slash", canned("/refund", "x"), false},
		{"canned save, long shortcut", canned(strings.Repeat("r", MaxShortcutLength+1), "x"), false},
		{"canned save, blank text", canned("refund", "  "), false},
		{"canned save, long text", canned("refund", strings.Repeat("x", MaxCannedText+1)), false},
		{"canned delete", &fd.ClientFrame{Type: TypeCannedDelete, Canned: &fd.CannedResponse{Id: "cr_1"}}, true},
		{"canned delete without id", &fd.ClientFrame{Type: TypeCannedDelete}, false},
		{"search", &fd.ClientFrame{Type: TypeSearch, Search: &fd.SearchFilter{Query: "退款"}}, true},
		{"search by label only", &fd.ClientFrame{Type: TypeSearch, Search: &fd.SearchFilter{Label: "vip"}}, true},
		{"search nothing", &fd.ClientFrame{Type: TypeSearch, Search: &fd.SearchFilter{Query: " "}}, false},
		{"search too long", &fd.ClientFrame{Type: TypeSearch, Search: &fd.SearchFilter{Query: strings.Repeat("x", MaxSearchQuery+1)}}, false},
		{"contact by conv", &fd.ClientFrame{Type: TypeContact, Conv: "c"}, true},
		{"contact by id", &fd.ClientFrame{Type: TypeContact, Contact: &fd.Contact{Id: "u1"}}, true},
		{"contact neither", &fd.ClientFrame{Type: TypeContact}, false},
		{"contact update", &fd.ClientFrame{Type: TypeContactUpdate, Contact: &fd.Contact{Id: "u1", Notes: "VIP"}}, true},
		{"contact update, long notes", &fd.ClientFrame{Type: TypeContactUpdate, Contact: &fd.Contact{Id: "u1",
			Notes: strings.Repeat("x", MaxContactNotes+1)}}, false},
		{"prechat", &fd.ClientFrame{Type: TypePrechat, Contact: &fd.Contact{Name: "Ann"}}, true},
		{"prechat without answers", &fd.ClientFrame{Type: TypePrechat}, false},
		{"unknown type", &fd.ClientFrame{Type: "labelz"}, false},
		{"no type", &fd.ClientFrame{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := Validate(tt.f); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// TestWorkspaceFramesInJSON: the workspace's server frames read as PROTOCOL.md shows them.
func TestWorkspaceFramesInJSON(t *testing.T) {
	t.Parallel()
	f := &fd.ServerFrame{Type: TypeSearch, Id: "s1", Hits: []*fd.SearchResult{{Conv: "c_1", Seq: 4, Snippet: "我想«退款»",
		Labels: []string{"refund"}}}}
	var got struct {
		Type string `json:"type"`
		Hits []struct {
			Conv    string      `json:"conv"`
			Seq     json.Number `json:"seq"`
			Snippet string      `json:"snippet"`
			Labels  []string    `json:"labels"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(AppendJSON(nil, f), &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != TypeSearch || len(got.Hits) != 1 || got.Hits[0].Snippet != "我想«退款»" || got.Hits[0].Seq.String() != "4" ||
		got.Hits[0].Labels[0] != "refund" {
		t.Fatalf("search frame as JSON: %s", AppendJSON(nil, f))
	}
}

// TestWorkspaceExamplesInProtocol: the examples of PROTOCOL.md's "Agent workspace" section
// stay true: every client frame there decodes and validates, every server frame decodes
// with no field the schema does not have.
func TestWorkspaceExamplesInProtocol(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Agent workspace")
	if !ok {
		t.Fatal("PROTOCOL.md has no Agent workspace section")
	}
	_, block, _ := strings.Cut(section, "```json\n")
	block, _, _ = strings.Cut(block, "```")
	client := map[string]bool{TypeLabel: true, TypeCannedSave: true, TypePrechat: true}
	n := 0
	for _, line := range strings.Split(block, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		n++
		var head struct {
			Type string `json:"type"`
			Hits any    `json:"hits"`
			Past any    `json:"past"`
			Seq  any    `json:"seq"`
		}
		if err := json.Unmarshal([]byte(line), &head); err != nil {
			t.Fatalf("not JSON: %s: %v", line, err)
		}
		// A client's search and contact frames share their type with the answers: the
		// answers are the ones with results or an ack's shape.
		isClient := client[head.Type] || ((head.Type == TypeSearch || head.Type == TypeContact) && head.Hits == nil && head.Past == nil &&
			!strings.Contains(line, `"contact":{"id"`))
		if isClient {
			f := &fd.ClientFrame{}
			if err := protojson.Unmarshal([]byte(line), f); err != nil {
				t.Fatalf("client frame %s: %v", line, err)
			}
			if err := Validate(f); err != nil {
				t.Fatalf("client frame %s: %v", line, err)
			}
			continue
		}
		if err := protojson.Unmarshal([]byte(line), &fd.ServerFrame{}); err != nil {
			t.Fatalf("server frame %s: %v", line, err)
		}
	}
	if n < 10 {
		t.Fatalf("only %d examples read", n)
	}
}

// TestWorkspaceClientJSON: the client encoder (Go clients, tests) writes the workspace's
// fields, and the gateway's decoder reads them back.
func TestWorkspaceClientJSON(t *testing.T) {
	t.Parallel()
	for _, f := range []*fd.ClientFrame{
		{Type: TypeLabel, Id: "l1", Conv: "c1", Label: "vip", Remove: true},
		{Type: TypeCannedSave, Id: "c1", Canned: &fd.CannedResponse{Shortcut: "refund", Text: "退款 {{contact.name}}"}},
		{Type: TypeSearch, Id: "s1", Search: &fd.SearchFilter{Query: "退款", Label: "vip", From: "2026-12-01", Limit: 5}},
		{Type: TypePrechat, Id: "p1", Contact: &fd.Contact{Name: "Ann", Attributes: map[string]string{"order": "A-1"}}},
	} {
		got := &fd.ClientFrame{}
		if err := DecodeJSON(AppendClientJSON(nil, f), got); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, f) {
			t.Fatalf("round trip of %v gave %v", f, got)
		}
	}
}
