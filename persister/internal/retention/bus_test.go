package retention_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/persister/internal/bus"
	"github.com/frontdesk-chat/frontdesk/persister/internal/retention"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/quota"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// Retention reaches past Postgres: a tenant's stream messages older than retention.days are
// purged (newer ones and other tenants' kept), the bucket keys of its conversations closed
// before the cutoff go (open ones stay), its attachments stored before the cutoff are deleted
// and their bytes given back, and its old quota day counts are dropped.
func TestRetentionReachesStreamsBucketsAndAttachments(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	testkit.Provision(t, js)
	pool, st := migratedStore(ctx, t)
	q, err := quota.Open(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := js.ObjectStore(ctx, subjects.ObjectAttachments)
	if err != nil {
		t.Fatal(err)
	}
	kvConv, _ := js.KeyValue(ctx, subjects.BucketConversations)
	kvPart, _ := js.KeyValue(ctx, subjects.BucketParticipants)

	publish := func(tenant, conv, tag string) {
		for i := range 3 {
			if _, err := js.Publish(ctx, subjects.Messages(tenant, conv), []byte(tag), jetstream.WithMsgID(fmt.Sprint(tenant, conv, tag, i))); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: "att_" + tenant + tag,
			Headers: nats.Header{subjects.AttachmentTenant: {tenant}, subjects.AttachmentConv: {conv}}}, bytes.NewReader(make([]byte, 100))); err != nil {
			t.Fatal(err)
		}
		if err := q.Reserve(ctx, tenant, 100, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	for _, tenant := range []string{"short", "long"} {
		publish(tenant, "c1", "old")
		for _, conv := range []string{"closed", "open"} {
			if _, err := kvConv.Put(ctx, subjects.ConversationKey(tenant, conv), []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := kvPart.Put(ctx, subjects.ParticipantKey(tenant, "u", conv), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, `INSERT INTO conversations (tenant, id, state, closed_at) VALUES
			($1, 'closed', 'closed', now() - interval '1 hour'), ($1, 'open', 'assigned', NULL)`, tenant); err != nil {
			t.Fatal(err)
		}
		// The record knows the tenant (retention goes through the tenants it holds).
		if _, err := st.WriteMessages(ctx, []store.MessageRow{{Seq: 1000 + int64(len(tenant)), Msg: &fd.Message{Id: "m" + tenant,
			Tenant: tenant, Conv: "c1", Text: "x", From: &fd.Participant{Id: "u"}, CreatedAt: timestamppb.Now()}}}); err != nil {
			t.Fatal(err)
		}
	}
	// The cutoff falls between the "old" and the "new" writes: the stream's timestamps are
	// the server's, so real time has to pass between them.
	mid := time.Now()
	time.Sleep(50 * time.Millisecond)
	for _, tenant := range []string{"short", "long"} {
		publish(tenant, "c1", "new")
	}

	r := retention.New(st, settings{
		"short": {Id: "short", Retention: &fd.Retention{Days: 7}},
		"long":  {Id: "long"},
	}, retention.Options{BatchSize: 10, MaxBatches: 2, Bus: bus.New(js, q), JS: js}, nil, testkit.Logger(t))
	now := mid.Add(7 * 24 * time.Hour)
	retention.SetNow(r, func() time.Time { return now })
	kvQuota, _ := js.KeyValue(ctx, subjects.BucketQuotas)
	for _, d := range []time.Duration{0, -24 * time.Hour, -72 * time.Hour} {
		if _, err := kvQuota.Put(ctx, subjects.QuotaMessagesKey("short", quota.Day(now.Add(d))), []byte("5")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	msgs, _ := js.Stream(ctx, subjects.StreamMessages)
	for _, tt := range []struct {
		tenant string
		want   uint64
	}{{"short", 3}, {"long", 6}} {
		info, err := msgs.Info(ctx, jetstream.WithSubjectFilter(subjects.TenantMessages(tt.tenant)))
		if err != nil {
			t.Fatal(err)
		}
		if got := info.State.Subjects[subjects.Messages(tt.tenant, "c1")]; got != tt.want {
			t.Errorf("%s: %d messages left in the stream, want %d", tt.tenant, got, tt.want)
		}
	}
	keys := []struct {
		kv     jetstream.KeyValue
		key    string
		wantIn bool
	}{
		{kvConv, subjects.ConversationKey("short", "closed"), false},
		{kvPart, subjects.ParticipantKey("short", "u", "closed"), false},
		{kvConv, subjects.ConversationKey("short", "open"), true},
		{kvConv, subjects.ConversationKey("long", "closed"), true},
		{kvPart, subjects.ParticipantKey("long", "u", "closed"), true},
		{kvQuota, subjects.QuotaMessagesKey("short", quota.Day(now)), true},
		{kvQuota, subjects.QuotaMessagesKey("short", quota.Day(now.Add(-24*time.Hour))), true},
		{kvQuota, subjects.QuotaMessagesKey("short", quota.Day(now.Add(-72*time.Hour))), false},
	}
	for _, k := range keys {
		_, err := k.kv.History(ctx, k.key)
		if in := !errors.Is(err, jetstream.ErrKeyNotFound); in != k.wantIn {
			t.Errorf("key %s present %v (%v), want %v", k.key, in, err, k.wantIn)
		}
	}
	for _, a := range []struct {
		name   string
		wantIn bool
	}{{"att_shortold", false}, {"att_shortnew", true}, {"att_longold", true}} {
		_, err := obj.GetInfo(ctx, a.name, jetstream.GetObjectInfoShowDeleted())
		if in := !errors.Is(err, jetstream.ErrObjectNotFound); in != a.wantIn {
			t.Errorf("attachment %s present %v (%v), want %v", a.name, in, err, a.wantIn)
		}
	}
	if used, _ := q.Used(ctx, subjects.QuotaAttachmentsKey("short")); used != 100 {
		t.Errorf("short's attachment quota %d, want 100 (the old attachment's bytes given back)", used)
	}
	// A second run finds nothing more to do.
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kvConv.Get(ctx, subjects.ConversationKey("short", "open")); err != nil {
		t.Errorf("open conversation's key: %v", err)
	}
}
