package frames

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestFamiliesNestedTextIsSafe: every family's nested messages come out with <, > and &
// escaped, as the core's strings do, and read back as they were written.
func TestFamiliesNestedTextIsSafe(t *testing.T) {
	t.Parallel()
	const text = `<script>alert("&")</script>`
	tests := []struct {
		name string
		json []byte
		read func(map[string]json.RawMessage) (string, error)
	}{
		{"server canned (workspace)", AppendJSON(nil, &fd.ServerFrame{Type: TypeCanned, Canned: []*fd.CannedResponse{{Shortcut: "x", Text: text}}}),
			func(m map[string]json.RawMessage) (string, error) {
				var c []struct{ Text string }
				return firstText(json.Unmarshal(m["canned"], &c), len(c), func() string { return c[0].Text })
			}},
		{"server contact (workspace)", AppendJSON(nil, &fd.ServerFrame{Type: TypeContact, Contact: &fd.Contact{Id: "u1", Notes: text}}),
			func(m map[string]json.RawMessage) (string, error) {
				var c struct{ Notes string }
				return c.Notes, json.Unmarshal(m["contact"], &c)
			}},
		{"server rating (desk)", AppendJSON(nil, &fd.ServerFrame{Type: TypeRated, Rating: &fd.Rating{Score: 1, Comment: text}}),
			func(m map[string]json.RawMessage) (string, error) {
				var r struct{ Comment string }
				return r.Comment, json.Unmarshal(m["rating"], &r)
			}},
		{"client canned_save (workspace)", AppendClientJSON(nil, &fd.ClientFrame{Type: TypeCannedSave, Canned: &fd.CannedResponse{Shortcut: "x", Text: text}}),
			func(m map[string]json.RawMessage) (string, error) {
				var c struct{ Text string }
				return c.Text, json.Unmarshal(m["canned"], &c)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if strings.ContainsAny(string(tt.json), "<>&") {
				t.Fatalf("unescaped <, > or & in %s", tt.json)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(tt.json, &m); err != nil {
				t.Fatalf("not JSON: %v: %s", err, tt.json)
			}
			got, err := tt.read(m)
			if err != nil || got != text {
				t.Fatalf("read back %q (%v) from %s, want %q", got, err, tt.json, text)
			}
		})
	}
}

func firstText(err error, n int, first func() string) (string, error) {
	if err != nil || n == 0 {
		return "", errors.Join(err, errors.New("no item"))
	}
	return first(), nil
}

// TestFamiliesOwnTheirTypes: a type some family owns is checked by it; one no family owns, or
// none at all, is refused with ErrBadFrame.
func TestFamiliesOwnTheirTypes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		frame   *fd.ClientFrame
		wantErr string // "" for a valid frame
	}{
		{"workspace type, valid", &fd.ClientFrame{Type: TypeLabel, Conv: "c", Label: "refund"}, ""},
		{"workspace type, invalid", &fd.ClientFrame{Type: TypeLabel}, "label frame needs"},
		{"desk type, valid", &fd.ClientFrame{Type: TypeRate, Conv: "c", Score: new(int32(3))}, ""},
		{"desk type, invalid", &fd.ClientFrame{Type: TypeRate, Conv: "c"}, "rate frame needs"},
		{"unknown type", &fd.ClientFrame{Type: "teleport"}, `unknown type "teleport"`},
		{"missing type", &fd.ClientFrame{}, "missing type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tt.frame)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (!errors.Is(err, ErrBadFrame) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want ErrBadFrame with %q", err, tt.wantErr)
			}
		})
	}
}
