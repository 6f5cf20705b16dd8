package tenants_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// FuzzUnmarshal decodes arbitrary bucket values the way every service's tenant watch does: a
// value written by an operator's tool may be anything, and must give an error or a tenant
// that survives Marshal/Unmarshal unchanged (what Seed compares to avoid new revisions).
func FuzzUnmarshal(f *testing.F) {
	for _, seed := range []string{
		`{"id":"demo","name":"Demo","bot":{}}`,
		`{"id":"demo","bot":{"enabled":false},"queues":[{"name":"billing","skill":"billing"}]}`,
		`{"id":"acme","hours":{"timezone":"Europe/Paris","weekly":[{"day":1,"open":"09:00","close":"17:00"}]}}`,
		`{"id":"x","limits":{"max_frame_bytes":65536,"messages_per_second":5}}`,
		`{"bot":null}`,
		`not json`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tn, err := tenants.Unmarshal(data)
		if err != nil {
			return
		}
		_ = tenants.Validate(tn)
		_ = tenants.Defaults(proto.Clone(tn).(*frontdeskv1.Tenant))
		out, err := tenants.Marshal(tn)
		if err != nil {
			t.Fatalf("marshal a decoded tenant: %v", err)
		}
		back, err := tenants.Unmarshal(out)
		if err != nil {
			t.Fatalf("decode what Marshal wrote: %v\n%s", err, out)
		}
		if !proto.Equal(tn, back) {
			t.Fatalf("round trip changed the tenant:\n%v\n%v", tn, back)
		}
	})
}
