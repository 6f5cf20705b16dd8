package bot

import (
	"slices"
	"testing"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

func TestFilterSubjects(t *testing.T) {
	t.Parallel()
	on := &fd.Bot{Enabled: true}
	tests := []struct {
		name string
		ts   []*fd.Tenant
		want []string
	}{
		{"no tenant: nothing, not everything", nil, []string{noTenant}},
		{"no tenant with a bot", []*fd.Tenant{{Id: "load"}, {Id: "acme"}}, []string{noTenant}},
		{"tenants with a bot, sorted", []*fd.Tenant{{Id: "zeta", Bot: on}, {Id: "load"}, {Id: "acme", Bot: on}},
			[]string{subjects.TenantMessages("acme"), subjects.TenantMessages("zeta")}},
		{"a bot turned off still answers its open conversations", []*fd.Tenant{{Id: "acme", Bot: &fd.Bot{}}},
			[]string{subjects.TenantMessages("acme")}},
		{"an id that is not a token is left out", []*fd.Tenant{{Id: "a.b", Bot: on}, {Id: ">", Bot: on}}, []string{noTenant}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := FilterSubjects(tt.ts); !slices.Equal(got, tt.want) {
				t.Errorf("FilterSubjects = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNoTenantMatchesNoMessages: the placeholder is inside the stream's subjects (JetStream
// accepts it as a filter) and no valid tenant's messages can match it.
func TestNoTenantMatchesNoMessages(t *testing.T) {
	t.Parallel()
	p, err := subjects.Parse(noTenant)
	if err == nil && subjects.ValidToken(p.Tenant) {
		t.Fatalf("%q parses as tenant %q's messages", noTenant, p.Tenant)
	}
}
