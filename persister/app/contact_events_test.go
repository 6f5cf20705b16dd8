package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestContactLabelsAreEvents: staff's label changes on a contact reach the events stream as
// contact_labeled events, one per change: a retried request, or one that changes nothing,
// adds none; a change committed by a persister that died before publishing is published by
// the retry; the persister's own events consumer passes them by (no row, no dead letter).
func TestContactLabelsAreEvents(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, nc, js := natsEnv(t)
	start(t, testConfig(natsURL, dbURL))
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	kim := &fd.Participant{Id: "a_kim", Role: frames.RoleAgent, Name: "Kim"}
	label := func(l string, remove bool) *fd.ContactReply {
		t.Helper()
		return request(t, nc, subjects.ContactQuery("acme"), &fd.ContactRequest{Tenant: "acme", Op: frames.ContactLabel,
			Contact: &fd.Contact{Id: "v_ann"}, Label: l, Remove: remove, Actor: kim}, &fd.ContactReply{})
	}
	type want struct {
		rev    uint64
		label  string
		reason string
		labels []string
	}
	steps := []struct {
		name  string
		do    func() *fd.ContactReply
		own   []string
		total []want // every event of the contact in the stream after the step
	}{
		{"add vip", func() *fd.ContactReply { return label("vip", false) }, []string{"vip"},
			[]want{{1, "vip", frames.ReasonLabelAdded, []string{"vip"}}}},
		{"the same request retried", func() *fd.ContactReply { return label("vip", false) }, []string{"vip"},
			[]want{{1, "vip", frames.ReasonLabelAdded, []string{"vip"}}}},
		{"add churn", func() *fd.ContactReply { return label("churn", false) }, []string{"churn", "vip"},
			[]want{{1, "vip", frames.ReasonLabelAdded, []string{"vip"}}, {2, "churn", frames.ReasonLabelAdded, []string{"churn", "vip"}}}},
		{"remove vip, committed by a persister that died before publishing", func() *fd.ContactReply {
			if _, err := store.New(pool).LabelContact(ctx, "acme", "v_ann", "vip", true, frames.MaxContactLabels, kim, time.Now()); err != nil {
				t.Fatal(err)
			}
			return nil
		}, []string{"churn"},
			[]want{{1, "vip", frames.ReasonLabelAdded, []string{"vip"}}, {2, "churn", frames.ReasonLabelAdded, []string{"churn", "vip"}}}},
		{"the console retries the removal", func() *fd.ContactReply { return label("vip", true) }, []string{"churn"},
			[]want{{1, "vip", frames.ReasonLabelAdded, []string{"vip"}}, {2, "churn", frames.ReasonLabelAdded, []string{"churn", "vip"}},
				{3, "vip", frames.ReasonLabelRemoved, []string{"churn"}}}},
		{"and once more", func() *fd.ContactReply { return label("vip", true) }, []string{"churn"},
			[]want{{1, "vip", frames.ReasonLabelAdded, []string{"vip"}}, {2, "churn", frames.ReasonLabelAdded, []string{"churn", "vip"}},
				{3, "vip", frames.ReasonLabelRemoved, []string{"churn"}}}},
	}
	for _, s := range steps {
		rep := s.do()
		if rep != nil && (rep.GetError() != "" || !slices.Equal(rep.GetContact().GetOwnLabels(), s.own)) {
			t.Fatalf("%s: reply %v", s.name, rep)
		}
		got := contactEvents(t, js, "acme", "v_ann")
		if len(got) != len(s.total) {
			t.Fatalf("%s: %d events, want %d: %v", s.name, len(got), len(s.total), got)
		}
		for i, w := range s.total {
			ev := got[i]
			if ev.GetId() != subjects.ContactEventID("acme", "v_ann", int64(w.rev), frames.EventContactLabeled) ||
				ev.GetType() != frames.EventContactLabeled || ev.GetRevision() != w.rev || ev.GetLabel() != w.label ||
				ev.GetReason() != w.reason || !slices.Equal(ev.GetLabels(), w.labels) || ev.GetConv() != "" ||
				ev.GetCustomer().GetId() != "v_ann" || ev.GetActor().GetId() != "a_kim" || ev.GetAt() == nil {
				t.Fatalf("%s: event %d is %v, want %+v", s.name, i, ev, w)
			}
		}
	}

	// The persister's events consumer reads them (they are under AllEvents) and stores nothing.
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		return consumerDrained(ctx, js, subjects.StreamEvents, app.DurableEvents)
	})
	var rows int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE tenant = 'acme'`).Scan(&rows); err != nil || rows != 0 {
		t.Fatalf("%d event rows (%v)", rows, err)
	}
	dl, err := js.Stream(ctx, subjects.StreamDeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := dl.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("dead letters: %+v (%v)", info.State, err)
	}

	// Erasing the customer purges their contact's events with the rest; another contact's stay.
	other := request(t, nc, subjects.ContactQuery("acme"), &fd.ContactRequest{Tenant: "acme", Op: frames.ContactLabel,
		Contact: &fd.Contact{Id: "v_bob"}, Label: "vip", Actor: kim}, &fd.ContactReply{})
	if other.GetError() != "" {
		t.Fatalf("label another contact: %v", other)
	}
	if rep := erase(t, nc, &fd.EraseRequest{Tenant: "acme", User: "v_ann", RequestedBy: "sup-1"}); rep.GetError() != "" {
		t.Fatalf("erase: %v", rep)
	}
	if got := contactEvents(t, js, "acme", "v_ann"); len(got) != 0 {
		t.Fatalf("the erased customer's contact events stay: %v", got)
	}
	if got := contactEvents(t, js, "acme", "v_bob"); len(got) != 1 {
		t.Fatalf("another contact's events: %v", got)
	}
}

// contactEvents reads every event of a contact stored in FD_EVENTS, in order.
func contactEvents(t *testing.T, js jetstream.JetStream, tenant, contact string) []*fd.ConversationEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, subjects.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subjects.ContactEvents(tenant, contact)))
	if err != nil {
		t.Fatal(err)
	}
	n := info.State.Subjects[subjects.ContactEvents(tenant, contact)]
	if n == 0 {
		return nil
	}
	c, err := js.OrderedConsumer(ctx, subjects.StreamEvents, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.ContactEvents(tenant, contact)}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*fd.ConversationEvent
	for range n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ev := &fd.ConversationEvent{}
		if err := proto.Unmarshal(m.Data(), ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}
