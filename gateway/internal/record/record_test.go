package record_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/record"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// open returns a record over a fresh provisioned server, its connection, and a function that
// stores a message of tenant acme.
func open(t *testing.T, requestTimeout time.Duration) (*record.Record, *nats.Conn, func(conv string) int64) {
	t.Helper()
	n := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	r, err := record.Open(t.Context(), nc, requestTimeout)
	if err != nil {
		t.Fatal(err)
	}
	store := func(conv string) int64 {
		b, _ := proto.Marshal(&fd.Message{Id: "m", Conv: conv, Text: "hi"})
		ack, err := js.Publish(t.Context(), subjects.Messages("acme", conv), b)
		if err != nil {
			t.Fatal(err)
		}
		return int64(ack.Sequence)
	}
	return r, nc, store
}

// TestOpenConversation: the open-conversation key is claimed once, read back with its
// revision, and released only at that revision.
func TestOpenConversation(t *testing.T) {
	t.Parallel()
	r, _, _ := open(t, 2*time.Second)
	ctx := t.Context()
	if _, _, found, err := r.OpenConversation(ctx, "acme", "u1"); err != nil || found {
		t.Fatalf("before any claim: found %v, err %v", found, err)
	}
	for i, want := range []bool{true, false} {
		taken, err := r.ClaimOpen(ctx, "acme", "u1", "c_"+string(rune('a'+i)))
		if err != nil || taken != want {
			t.Fatalf("claim %d: taken %v, err %v; want %v", i, taken, err, want)
		}
	}
	conv, rev, found, err := r.OpenConversation(ctx, "acme", "u1")
	if err != nil || !found || conv != "c_a" {
		t.Fatalf("open = %q %v %v", conv, found, err)
	}
	r.ReleaseOpen(ctx, "acme", "u1", rev+1) // a stale revision: kept
	if _, _, found, _ := r.OpenConversation(ctx, "acme", "u1"); !found {
		t.Fatal("released at a revision the key does not have")
	}
	r.ReleaseOpen(ctx, "acme", "u1", rev)
	if _, _, found, _ := r.OpenConversation(ctx, "acme", "u1"); found {
		t.Fatal("not released")
	}
}

// TestConversationsAndParticipants: conversations are created once, participants listed.
func TestConversationsAndParticipants(t *testing.T) {
	t.Parallel()
	r, _, _ := open(t, 2*time.Second)
	ctx := t.Context()
	if c, err := r.Conversation(ctx, "acme", "c1"); err != nil || c != nil {
		t.Fatalf("absent conversation = %v, %v", c, err)
	}
	c := &fd.Conversation{Tenant: "acme", Conv: "c1", State: frames.StateQueued}
	if err := r.CreateConversation(ctx, c); err != nil {
		t.Fatal(err)
	}
	// A second creation (a retried open) keeps the first.
	if err := r.CreateConversation(ctx, &fd.Conversation{Tenant: "acme", Conv: "c1", State: frames.StateBot}); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Conversation(ctx, "acme", "c1"); err != nil || !proto.Equal(got, c) {
		t.Fatalf("conversation = %v, %v", got, err)
	}
	me := &fd.Participant{Id: "a1", Role: frames.RoleAgent}
	for _, conv := range []string{"c1", "c2"} {
		if err := r.PutParticipant(ctx, "acme", conv, me); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := r.Participant(ctx, "acme", "a1", "c2"); err != nil || !ok {
		t.Fatalf("participant = %v, %v", ok, err)
	}
	if ok, err := r.Participant(ctx, "acme", "a2", "c2"); err != nil || ok {
		t.Fatalf("other user participant = %v, %v", ok, err)
	}
	convs, err := r.Participations(ctx, "acme", "a1")
	if err != nil || strings.Join(convs, ",") != "c1,c2" {
		t.Fatalf("participations = %v, %v", convs, err)
	}
}

// TestSequences: LastSeq is a conversation's last stored message, FirstSeq the stream's first.
func TestSequences(t *testing.T) {
	t.Parallel()
	r, _, store := open(t, 2*time.Second)
	ctx := t.Context()
	if last, err := r.LastSeq(ctx, "acme", "c1"); err != nil || last != 0 {
		t.Fatalf("empty: last %d, %v", last, err)
	}
	first := store("c1")
	want := store("c1")
	store("c2")
	if last, err := r.LastSeq(ctx, "acme", "c1"); err != nil || last != want {
		t.Fatalf("last = %d, %v; want %d", last, err, want)
	}
	if got, err := r.FirstSeq(ctx); err != nil || got != first {
		t.Fatalf("first = %d, %v; want %d", got, err, first)
	}
}

// TestAttachments: an attachment is found only in its tenant, with its conversation.
func TestAttachments(t *testing.T) {
	t.Parallel()
	r, _, _ := open(t, 2*time.Second)
	ctx := t.Context()
	att, err := r.PutAttachment(ctx, "acme", "c1", "u1", "att_1", "a.txt", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if att.GetUrl() != record.AttachmentURL("att_1") || att.GetSize() != 5 {
		t.Fatalf("put = %v", att)
	}
	got, conv, err := r.Attachment(ctx, "acme", "att_1")
	if err != nil || conv != "c1" || !proto.Equal(got, att) {
		t.Fatalf("attachment = %v %q %v", got, conv, err)
	}
	for _, tc := range []struct{ tenant, id string }{{"other", "att_1"}, {"acme", "att_2"}, {"acme", "a.b"}} {
		if _, _, err := r.Attachment(ctx, tc.tenant, tc.id); !errors.Is(err, record.ErrNoAttachment) {
			t.Fatalf("%s/%s: err = %v", tc.tenant, tc.id, err)
		}
	}
	rc, err := r.OpenAttachment(ctx, "att_1")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "hello" {
		t.Fatalf("content = %q", b)
	}
}

// TestPersisterQueries: history, unread and report requests reach the persister's subjects and
// its errors come back as errors; with no persister, a request fails within its timeout.
func TestPersisterQueries(t *testing.T) {
	t.Parallel()
	r, nc, _ := open(t, 500*time.Millisecond)
	ctx := t.Context()
	if _, err := r.History(ctx, &fd.HistoryRequest{Tenant: "acme", Conv: "c1"}); err == nil {
		t.Fatal("history without a persister succeeded")
	}
	answer := func(subject string, reply func(data []byte) proto.Message) {
		sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
			b, _ := proto.Marshal(reply(m.Data))
			_ = m.Respond(b)
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	answer(subjects.HistoryQuery("acme"), func(data []byte) proto.Message {
		req := &fd.HistoryRequest{}
		_ = proto.Unmarshal(data, req)
		if req.GetConv() == "bad" {
			return &fd.HistoryReply{Error: "no such conversation"}
		}
		return &fd.HistoryReply{More: true, Messages: []*fd.StoredMessage{{Seq: 3}}}
	})
	answer(subjects.UnreadQuery("acme"), func(data []byte) proto.Message {
		req := &fd.UnreadRequest{}
		_ = proto.Unmarshal(data, req)
		out := map[string]int64{}
		for i, c := range req.GetConvs() {
			out[c] = int64(i + 1)
		}
		return &fd.UnreadReply{Unread: out}
	})
	answer(subjects.ReportQuery("acme"), func([]byte) proto.Message { return &fd.ReportReply{Error: "too wide"} })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	h, err := r.History(ctx, &fd.HistoryRequest{Tenant: "acme", Conv: "c1"})
	if err != nil || !h.GetMore() || len(h.GetMessages()) != 1 {
		t.Fatalf("history = %v, %v", h, err)
	}
	if _, err := r.History(ctx, &fd.HistoryRequest{Tenant: "acme", Conv: "bad"}); err == nil || !strings.Contains(err.Error(), "no such conversation") {
		t.Fatalf("history error = %v", err)
	}
	u, err := r.Unread(ctx, "acme", "u1", []string{"c1", "c2"}, time.Second)
	if err != nil || u["c1"] != 1 || u["c2"] != 2 {
		t.Fatalf("unread = %v, %v", u, err)
	}
	rep, err := r.Report(ctx, &fd.ReportRequest{Tenant: "acme"})
	if err != nil || rep.GetError() != "too wide" {
		t.Fatalf("report = %v, %v", rep, err)
	}
}
