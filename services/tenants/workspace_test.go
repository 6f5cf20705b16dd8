package tenants_test

import (
	"errors"
	"strings"
	"testing"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// TestValidateWorkspace: labels and the pre-chat form are checked when a tenant is loaded.
func TestValidateWorkspace(t *testing.T) {
	t.Parallel()
	labels := func(ls ...*frontdeskv1.LabelDefinition) *frontdeskv1.Tenant {
		return &frontdeskv1.Tenant{Id: "acme", Labels: ls}
	}
	fields := func(fs ...*frontdeskv1.PrechatField) *frontdeskv1.Tenant {
		return &frontdeskv1.Tenant{Id: "acme", Prechat: &frontdeskv1.PrechatForm{Enabled: true, Fields: fs}}
	}
	many := make([]*frontdeskv1.LabelDefinition, 101)
	for i := range many {
		many[i] = &frontdeskv1.LabelDefinition{Name: "l" + strings.Repeat("x", i%60) + string(rune('a'+i%26)) + string(rune('a'+i/26))}
	}
	tests := []struct {
		name string
		t    *frontdeskv1.Tenant
		want string // "" when valid
	}{
		{"labels", labels(&frontdeskv1.LabelDefinition{Name: "vip", Title: "VIP", Color: "#d97706"}, &frontdeskv1.LabelDefinition{Name: "refund"}), ""},
		{"label not a token", labels(&frontdeskv1.LabelDefinition{Name: "v i p"}), "labels[0].name"},
		{"duplicate label", labels(&frontdeskv1.LabelDefinition{Name: "vip"}, &frontdeskv1.LabelDefinition{Name: "vip"}), "duplicate label"},
		{"bad colour", labels(&frontdeskv1.LabelDefinition{Name: "vip", Color: "red; background: url(x)"}), "labels[0].color"},
		{"too many labels", labels(many...), "101 labels"},
		{"form", fields(&frontdeskv1.PrechatField{Name: "order", Required: true, MaxLen: 20}), ""},
		{"form field named email", fields(&frontdeskv1.PrechatField{Name: "email"}), "prechat.fields[0].name"},
		{"form field too long", fields(&frontdeskv1.PrechatField{Name: "order", MaxLen: 500}), "max_len"},
		{"too many fields", fields(&frontdeskv1.PrechatField{Name: "a"}, &frontdeskv1.PrechatField{Name: "b"}, &frontdeskv1.PrechatField{Name: "c"},
			&frontdeskv1.PrechatField{Name: "d"}, &frontdeskv1.PrechatField{Name: "e"}, &frontdeskv1.PrechatField{Name: "f"}), "6 fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tenants.Validate(tt.t)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tenants.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one about %q", err, tt.want)
			}
		})
	}
}
