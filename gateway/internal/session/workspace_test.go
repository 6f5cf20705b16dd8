package session

import (
	"errors"
	"maps"
	"strings"
	"testing"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestPrechatAnswers: a visitor's answers are checked against the tenant's form, and only
// what the form asks is kept.
func TestPrechatAnswers(t *testing.T) {
	t.Parallel()
	form := &fd.PrechatForm{Enabled: true, AskName: true, AskEmail: true, Fields: []*fd.PrechatField{
		{Name: "order", Label: "Order", Required: true, MaxLen: 10}, {Name: "topic", Label: "Topic"}}}
	tests := []struct {
		name  string
		form  *fd.PrechatForm
		in    *fd.Contact
		want  *fd.Contact
		fails string
	}{
		{"complete", form, &fd.Contact{Name: " Ann ", Email: "ann@example.com", Attributes: map[string]string{"order": "A-1", "topic": "返品"}},
			&fd.Contact{Name: "Ann", Email: "ann@example.com", Attributes: map[string]string{"order": "A-1", "topic": "返品"}}, ""},
		{"optional field left out", form, &fd.Contact{Name: "Ann", Email: "ann@example.com", Attributes: map[string]string{"order": "A-1"}},
			&fd.Contact{Name: "Ann", Email: "ann@example.com", Attributes: map[string]string{"order": "A-1"}}, ""},
		{"what the form does not ask is dropped", &fd.PrechatForm{Enabled: true, AskName: true},
			&fd.Contact{Name: "Ann", Email: "ann@example.com", Phone: "123", Attributes: map[string]string{"plan": "gold"}},
			&fd.Contact{Name: "Ann", Attributes: map[string]string{}}, ""},
		{"name missing", form, &fd.Contact{Email: "ann@example.com", Attributes: map[string]string{"order": "A-1"}}, nil, "name is required"},
		{"email malformed", form, &fd.Contact{Name: "Ann", Email: "ann@", Attributes: map[string]string{"order": "A-1"}}, nil, "email"},
		{"email with a display name", form, &fd.Contact{Name: "Ann", Email: "Ann <ann@example.com>", Attributes: map[string]string{"order": "A-1"}}, nil, "email"},
		{"required field missing", form, &fd.Contact{Name: "Ann", Email: "ann@example.com"}, nil, "order is required"},
		{"field too long", form, &fd.Contact{Name: "Ann", Email: "ann@example.com", Attributes: map[string]string{"order": strings.Repeat("x", 11)}},
			nil, "longer than 10"},
		{"name too long", form, &fd.Contact{Name: strings.Repeat("名", 201), Email: "ann@example.com", Attributes: map[string]string{"order": "A"}},
			nil, "name is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := PrechatAnswers(tt.form, tt.in)
			if tt.fails != "" {
				if err == nil || !errors.Is(err, errBadFrame) || !strings.Contains(err.Error(), tt.fails) {
					t.Fatalf("err %v, want bad_frame with %q", err, tt.fails)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.GetName() != tt.want.GetName() || got.GetEmail() != tt.want.GetEmail() || got.GetPhone() != "" ||
				!maps.Equal(got.GetAttributes(), tt.want.GetAttributes()) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
