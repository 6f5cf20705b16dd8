package abuse_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

// seedCapped adds tenant "capped": roomy rate limits, a daily quota of messages and a quota
// of attachment bytes.
func seedCapped(e *apptest.Env, messages, attachmentBytes int64) {
	e.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), apptest.Wait)
	defer cancel()
	kv, err := e.JS.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		e.T.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, []*fd.Tenant{{Id: "capped", Name: "Capped",
		Limits: &fd.Limits{MessagesPerSecond: 1000, Burst: 1000, UserMessagesPerSecond: 1000},
		Quotas: &fd.Quotas{MessagesPerDay: messages, AttachmentBytes: attachmentBytes}}}); err != nil {
		e.T.Fatal(err)
	}
}

// Two gateway replicas share one tenant's quotas: together they store no more messages a day
// and no more attachment bytes than the quotas, the refusals carry quota_exceeded (507 for an
// upload), and another tenant is not affected.
func TestQuotasHoldAcrossReplicas(t *testing.T) {
	e := apptest.NewEnv(t)
	seedCapped(e, 6, 3000)
	g1, g2 := e.Gateway(), e.Gateway()
	a, _ := g1.Dial(t, apptest.Token(t, "capped", "cust-a", "customer"))
	b, _ := g2.Dial(t, apptest.Token(t, "capped", "cust-b", "customer"))

	a.Send(apptest.Text("a0", "", "hello"))
	conv := a.Await(frames.TypeAck, apptest.HasID("a0")).GetConv()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2000)...)
	if code, out := g1.Upload(t, apptest.Token(t, "capped", "cust-a", "customer"), conv, "cat.png", png); code != http.StatusOK {
		t.Fatalf("first upload: %d %v", code, out)
	}
	// The bytes counted on g1 are seen by g2: the second upload would pass 3000 bytes.
	if code, _ := g2.Upload(t, apptest.Token(t, "capped", "cust-a", "customer"), conv, "cat.png", png); code != http.StatusInsufficientStorage {
		t.Fatalf("upload past the quota on the other replica: %d, want 507", code)
	}

	acked, refused := 1, 0
	for i := range 5 {
		for _, c := range []*apptest.Client{a, b} {
			id := fmt.Sprintf("m%d-%p", i, c)
			c.Send(apptest.Text(id, "", "hi"))
			f := c.Next()
			for f.GetId() != id || (f.GetType() != frames.TypeAck && f.GetType() != frames.TypeError) {
				f = c.Next()
			}
			switch {
			case f.GetType() == frames.TypeAck:
				acked++
			case f.GetCode() == frames.CodeQuotaExceeded:
				refused++
			default:
				t.Fatalf("send %s: %v", id, f)
			}
		}
	}
	// Block(6) is one message: the replicas' count is exact.
	if acked != 6 || refused != 5 {
		t.Errorf("%d sends acked and %d refused quota_exceeded, want 6 and 5", acked, refused)
	}
	other, _ := g2.Dial(t, apptest.Token(t, "roomy", "cust-c", "customer"))
	other.Send(apptest.Text("c0", "", "hello"))
	other.Await(frames.TypeAck, apptest.HasID("c0"))
}
