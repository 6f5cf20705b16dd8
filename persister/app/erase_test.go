package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/quota"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// customer writes what the gateway and the dispatcher would for one customer of acme with one
// conversation: an opened event, messages naming a word of their own, a read position, a
// command, the conversation, participation and open keys, and an attachment (its bytes
// counted against the tenant's quota).
func customer(t *testing.T, js jetstream.JetStream, user, conv, word string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	me := &fd.Participant{Id: user, Role: "customer", Name: "Name of " + user}
	pub := func(subject, id string, m proto.Message) {
		if err := publish(ctx, js, subject, id, m); err != nil {
			t.Fatal(err)
		}
	}
	pub(subjects.Events("acme", conv), "e-"+conv, &fd.ConversationEvent{Id: "e-" + conv, Tenant: "acme", Conv: conv,
		Type: "opened", State: "bot", At: timestamppb.Now(), Customer: me})
	for i := range 3 {
		id := fmt.Sprintf("m-%s-%d", conv, i)
		pub(subjects.Messages("acme", conv), id, &fd.Message{Id: id, Tenant: "acme", Conv: conv, From: me, Kind: "text",
			Text: fmt.Sprintf("%s message %d", word, i), CreatedAt: timestamppb.Now()})
	}
	pub(subjects.Reads("acme", conv, user), "r-"+conv, &fd.ReadPosition{Tenant: "acme", Conv: conv, User: me, Seq: 1, At: timestamppb.Now()})
	pub(subjects.ConvCommands("acme", conv), "c-"+conv, &fd.Command{Type: "handoff", Tenant: "acme", Conv: conv, Customer: me})
	for _, kv := range []struct{ bucket, key, val string }{
		{subjects.BucketConversations, subjects.ConversationKey("acme", conv), "state"},
		{subjects.BucketParticipants, subjects.ParticipantKey("acme", user, conv), ""},
		{subjects.BucketOpen, subjects.OpenKey("acme", user), conv},
	} {
		b, err := js.KeyValue(ctx, kv.bucket)
		if err != nil {
			t.Fatal(err)
		}
		val := []byte(kv.val)
		if kv.bucket == subjects.BucketParticipants {
			val, _ = proto.Marshal(me)
		}
		if _, err := b.Put(ctx, kv.key, val); err != nil {
			t.Fatal(err)
		}
	}
	obj, err := js.ObjectStore(ctx, subjects.ObjectAttachments)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obj.Put(ctx, jetstream.ObjectMeta{Name: "att_" + conv, Description: user + "-passport.png",
		Headers: nats.Header{subjects.AttachmentTenant: {"acme"}, subjects.AttachmentConv: {conv}, subjects.AttachmentUploader: {user}}},
		bytes.NewReader(make([]byte, 1000))); err != nil {
		t.Fatal(err)
	}
	q, _ := quota.Open(ctx, js)
	if err := q.Reserve(ctx, "acme", 1000, 1<<20); err != nil {
		t.Fatal(err)
	}
}

// publish stores m on subject with id as its Nats-Msg-Id.
func publish(ctx context.Context, js jetstream.JetStream, subject, id string, m proto.Message) error {
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	_, err = js.Publish(ctx, subject, b, jetstream.WithMsgID(id))
	return err
}

// putConversation sets conv's key as the dispatcher keeps it: state, the customer.
func putConversation(ctx context.Context, js jetstream.JetStream, conv string, customer *fd.Participant, state string) error {
	kv, err := js.KeyValue(ctx, subjects.BucketConversations)
	if err != nil {
		return err
	}
	now := timestamppb.Now()
	b, err := proto.Marshal(&fd.Conversation{Tenant: "acme", Conv: conv, State: state, Customer: customer, OpenedAt: now, QueuedAt: now})
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, subjects.ConversationKey("acme", conv), b)
	return err
}

// traces lists what any read path still finds of a customer: the record's history,
// conversations and search (the gateway's history, past conversations and search), the
// streams (sync and gap fills), the buckets, the attachment (its URL) and Postgres rows.
func traces(t *testing.T, nc *nats.Conn, js jetstream.JetStream, pool *pgxpool.Pool, user, conv, word string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []string
	if h := request(t, nc, subjects.HistoryQuery("acme"), &fd.HistoryRequest{Tenant: "acme", Conv: conv, Limit: 50}, &fd.HistoryReply{}); len(h.Messages) > 0 {
		out = append(out, fmt.Sprintf("history: %d messages", len(h.Messages)))
	}
	if c := request(t, nc, subjects.ConversationsQuery("acme"), &fd.ConversationsRequest{User: user}, &fd.ConversationsReply{}); len(c.Conversations) > 0 {
		out = append(out, fmt.Sprintf("conversations: %d", len(c.Conversations)))
	}
	if s := request(t, nc, subjects.SearchQuery("acme"), &fd.SearchRequest{Query: word}, &fd.SearchReply{}); len(s.Hits) > 0 {
		out = append(out, fmt.Sprintf("search: %d hits", len(s.Hits)))
	}
	for _, s := range []struct{ stream, filter string }{
		{subjects.StreamMessages, subjects.Messages("acme", conv)},
		{subjects.StreamEvents, subjects.Events("acme", conv)},
		{subjects.StreamReads, subjects.ConvReads("acme", conv)},
		{subjects.StreamCommands, subjects.ConvCommands("acme", conv)},
	} {
		st, err := js.Stream(ctx, s.stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.filter))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.State.Subjects) > 0 {
			out = append(out, fmt.Sprintf("stream %s: %v", s.stream, info.State.Subjects))
		}
	}
	for _, kv := range []struct{ bucket, key string }{
		{subjects.BucketConversations, subjects.ConversationKey("acme", conv)},
		{subjects.BucketParticipants, subjects.ParticipantKey("acme", user, conv)},
		{subjects.BucketOpen, subjects.OpenKey("acme", user)},
	} {
		b, _ := js.KeyValue(ctx, kv.bucket)
		// History too: a deleted key's older revisions would still be readable.
		if h, err := b.History(ctx, kv.key); !errors.Is(err, jetstream.ErrKeyNotFound) {
			out = append(out, fmt.Sprintf("kv %s %s: %d revisions (%v)", kv.bucket, kv.key, len(h), err))
		}
	}
	obj, _ := js.ObjectStore(ctx, subjects.ObjectAttachments)
	if _, err := obj.GetBytes(ctx, "att_"+conv); !errors.Is(err, jetstream.ErrObjectNotFound) {
		out = append(out, fmt.Sprintf("attachment readable (%v)", err))
	}
	if _, err := obj.GetInfo(ctx, "att_"+conv, jetstream.GetObjectInfoShowDeleted()); !errors.Is(err, jetstream.ErrObjectNotFound) {
		out = append(out, fmt.Sprintf("attachment description left (%v)", err))
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages WHERE tenant = 'acme' AND conv = $2)
		+ (SELECT count(*) FROM events WHERE tenant = 'acme' AND conv = $2)
		+ (SELECT count(*) FROM conversations WHERE tenant = 'acme' AND id = $2)
		+ (SELECT count(*) FROM read_positions WHERE tenant = 'acme' AND user_id = $1)
		+ (SELECT count(*) FROM users WHERE tenant = 'acme' AND id = $1)
		+ (SELECT count(*) FROM contacts WHERE tenant = 'acme' AND id = $1)
		+ (SELECT count(*) FROM notes WHERE tenant = 'acme' AND conv = $2)`, user, conv).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows > 0 {
		out = append(out, fmt.Sprintf("postgres: %d rows", rows))
	}
	return out
}

// erase asks for an erase with the gateway's patience (an erase takes a while on a loaded
// machine: four stream purges per conversation, bucket purges, a listing of the store).
func erase(t *testing.T, nc *nats.Conn, req *fd.EraseRequest) *fd.EraseReply {
	t.Helper()
	return testkit.Request(t, nc, subjects.Erase("acme"), req, &fd.EraseReply{}, 2*time.Minute)
}

// After an erase nothing of the customer is readable by any path, another customer of the
// same tenant keeps everything, the erase is audited, a second erase is a no-op, and an erase
// left unfinished (a persister stopped mid-way) is finished by the next retention run.
func TestEraseCustomerEverywhere(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, nc, js := natsEnv(t)
	cfg := testConfig(natsURL, dbURL)
	cfg.Persister.RetentionInterval = 300 * time.Millisecond
	start(t, cfg)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	customer(t, js, "ann", "c-ann", "annword")
	customer(t, js, "bob", "c-bob", "bobword")
	customer(t, js, "cid", "c-cid", "cidword")
	for _, c := range []struct{ user, conv, word string }{{"ann", "c-ann", "annword"}, {"bob", "c-bob", "bobword"}, {"cid", "c-cid", "cidword"}} {
		testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
			if got := traces(t, nc, js, pool, c.user, c.conv, c.word); len(got) < 13 {
				return fmt.Errorf("%s not fully recorded yet: %v", c.user, got)
			}
			return nil
		})
	}

	// The workspace's tables hold the customers' data too: a contact each, a staff note each.
	for i, c := range []struct{ user, conv string }{{"ann", "c-ann"}, {"bob", "c-bob"}} {
		if _, err := pool.Exec(ctx, `INSERT INTO contacts (tenant, id, name, email) VALUES ('acme', $1, $1, $1 || '@example.com')`, c.user); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO notes (tenant, conv, seq, id, author_id, text, created_at)
			VALUES ('acme', $1, $2, $3, 'agent-1', 'about ' || $4, now())`, c.conv, i+1, fmt.Sprint("note-", c.user), c.user); err != nil {
			t.Fatal(err)
		}
	}

	rep := erase(t, nc, &fd.EraseRequest{Tenant: "acme", User: "ann", RequestedBy: "sup-1"})
	if rep.Error != "" || rep.Id == "" {
		t.Fatalf("erase: %v", rep)
	}
	for _, k := range []string{"postgres.messages", "postgres.contacts", "postgres.notes", "stream.FD_MESSAGES", "kv.fd_conversations", "kv.fd_open", "objects"} {
		if rep.Counts[k] == 0 {
			t.Errorf("erase counts %v: nothing for %s", rep.Counts, k)
		}
	}
	if got := traces(t, nc, js, pool, "ann", "c-ann", "annword"); len(got) > 0 {
		t.Errorf("ann still readable after the erase: %v", got)
	}
	if got := traces(t, nc, js, pool, "bob", "c-bob", "bobword"); len(got) != 13 {
		t.Errorf("bob touched by ann's erase: %d traces left, want 13: %v", len(got), got)
	}
	q, _ := quota.Open(ctx, js)
	if used, _ := q.Used(ctx, subjects.QuotaAttachmentsKey("acme")); used != 2000 {
		t.Errorf("attachment quota %d, want 2000 (ann's 1000 given back)", used)
	}

	again := erase(t, nc, &fd.EraseRequest{Tenant: "acme", User: "ann", RequestedBy: "sup-2"})
	var removed int64
	for _, n := range again.Counts {
		removed += n
	}
	if again.Error != "" || removed != 0 || again.Id == rep.Id {
		t.Errorf("second erase: %v, want a new audit row removing nothing", again)
	}
	var audited int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM erasures WHERE tenant = 'acme' AND user_id = 'ann'
		AND finished_at IS NOT NULL AND requested_by IN ('sup-1', 'sup-2')`).Scan(&audited); err != nil || audited != 2 {
		t.Errorf("audit rows %d (%v), want 2", audited, err)
	}
	bad := erase(t, nc, &fd.EraseRequest{Tenant: "other", User: "bob", RequestedBy: "x"})
	if bad.Error == "" {
		t.Error("an erase naming another tenant than its subject was accepted")
	}

	// An erase that started and never finished, as a persister killed mid-way leaves it.
	if _, err := pool.Exec(ctx, `INSERT INTO erasures (id, tenant, user_id, requested_by, attempts) VALUES ('er_crashed', 'acme', 'cid', 'sup-1', 1)`); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 2*time.Minute, 100*time.Millisecond, func() error {
		var done bool
		if err := pool.QueryRow(ctx, `SELECT finished_at IS NOT NULL FROM erasures WHERE id = 'er_crashed'`).Scan(&done); err != nil || !done {
			return fmt.Errorf("unfinished erase not resumed yet (%v)", err)
		}
		return nil
	})
	if got := traces(t, nc, js, pool, "cid", "c-cid", "cidword"); len(got) > 0 {
		t.Errorf("cid still readable after the resumed erase: %v", got)
	}
	if got := traces(t, nc, js, pool, "bob", "c-bob", "bobword"); len(got) != 13 {
		t.Errorf("bob touched: %v", got)
	}
}
