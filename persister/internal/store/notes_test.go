package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func noteRow(tenant, conv string, seq int64, text string) NoteRow {
	return NoteRow{Seq: seq, Msg: &fd.Message{Id: "n" + tenant + conv + string(rune('a'+seq)), Tenant: tenant, Conv: conv,
		From: &fd.Participant{Id: "a1", Role: frames.RoleAgent, Name: "Ann"}, Kind: frames.KindText, Text: text,
		CreatedAt: timestamppb.New(time.Now())}}
}

// Notes are stored once however often they are delivered, found by staff's search in English
// and Chinese, per tenant and per conversation, and never in a conversation's history.
func TestNotesStoredSearchedAndKeptOutOfHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := New(MigratedPool(t))
	notes := []NoteRow{
		noteRow("acme", "c1", 1, "Customer is a VIP, refund approved by finance"),
		noteRow("acme", "c1", 2, "客户要求退款，已经批准"),
		noteRow("acme", "c2", 3, "refund pending"),
		noteRow("other", "c1", 4, "refund in the other tenant"),
	}
	res, err := st.WriteNotes(ctx, notes)
	if err != nil || res.Inserted != 4 {
		t.Fatalf("write: %+v %v", res, err)
	}
	if res, err := st.WriteNotes(ctx, notes[:2]); err != nil || res.Inserted != 0 || res.Duplicates != 2 {
		t.Fatalf("redelivery: %+v %v", res, err)
	}
	if _, err := st.WriteMessages(ctx, []MessageRow{{Seq: 1, Msg: &fd.Message{Id: "m1", Tenant: "acme", Conv: "c1",
		From: &fd.Participant{Id: "v1", Role: frames.RoleCustomer}, Kind: frames.KindText, Text: "I want a refund",
		CreatedAt: timestamppb.Now()}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tenant, query, conv string
		want                      int
		snippet                   string
	}{
		{"english", "acme", "refund", "", 2, "«refund»"},
		{"chinese", "acme", "退款", "", 1, "«退款»"},
		{"one conversation", "acme", "refund", "c2", 1, "«refund» pending"},
		{"other tenant", "other", "refund", "", 1, "other tenant"},
		{"nothing", "acme", "shipping", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := st.SearchNotes(ctx, tt.tenant, &fd.NotesSearchRequest{Query: tt.query, Conv: tt.conv})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.GetHits()) != tt.want {
				t.Fatalf("%d hits, want %d: %v", len(r.GetHits()), tt.want, r.GetHits())
			}
			if tt.want > 0 && (!strings.Contains(r.GetHits()[0].GetSnippet(), tt.snippet) || r.GetHits()[0].GetAuthor().GetName() != "Ann") {
				t.Fatalf("hit %v", r.GetHits()[0])
			}
		})
	}
	h, err := st.History(ctx, "acme", &fd.HistoryRequest{Conv: "c1", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.GetMessages()) != 1 || h.GetMessages()[0].GetMessage().GetText() != "I want a refund" {
		t.Fatalf("history holds %v", h.GetMessages())
	}
	s, err := st.Search(ctx, "acme", &fd.SearchRequest{Query: "approved"})
	if err != nil || len(s.GetHits()) != 0 {
		t.Fatalf("the messages search finds a note: %v %v", s.GetHits(), err)
	}
}

// The first rating stored for a conversation is its rating: a redelivered or a second rated
// event changes nothing.
func TestRatingColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	st := New(pool)
	at := time.Now().Truncate(time.Millisecond)
	ev := func(id string, seq int64, typ string, r *fd.Rating) EventRow {
		return EventRow{Seq: seq, Event: &fd.ConversationEvent{Id: id, Tenant: "acme", Conv: "c1", Type: typ,
			State: frames.StateClosed, Customer: &fd.Participant{Id: "v1", Role: frames.RoleCustomer}, Rating: r,
			At: timestamppb.New(at)}}
	}
	first := &fd.Rating{Score: 4, Scale: frames.ScaleFive, Comment: "快而友好", At: timestamppb.New(at)}
	if _, err := st.WriteEvents(ctx, []EventRow{ev("e1", 1, frames.EventClosed, nil), ev("e2", 2, frames.EventRated, first)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteEvents(ctx, []EventRow{ev("e3", 3, frames.EventRated, &fd.Rating{Score: 1, Scale: frames.ScaleFive, At: timestamppb.Now()})}); err != nil {
		t.Fatal(err)
	}
	var score int
	var scale, comment string
	var ratedAt time.Time
	if err := pool.QueryRow(ctx, `SELECT rating_score, rating_scale, rating_comment, rated_at FROM conversations
		WHERE tenant = 'acme' AND id = 'c1'`).Scan(&score, &scale, &comment, &ratedAt); err != nil {
		t.Fatal(err)
	}
	if score != 4 || scale != frames.ScaleFive || comment != "快而友好" || !ratedAt.Equal(at) {
		t.Fatalf("rating %d %q %q %v", score, scale, comment, ratedAt)
	}
}

// Staff's note search reads the tenant's notes through an index (the words' GIN index, or the
// tenant's range of notes_created when the planner finds the words common), never a scan of
// every tenant's notes.
func TestSearchNotesUsesIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	for _, q := range []string{
		`INSERT INTO notes (tenant, conv, seq, id, text, created_at, search)
			SELECT t, 'c' || (i % 500), i, t || i, 'note ' || i, now(), to_tsvector('simple', 'note ' || i || CASE WHEN i % 1000 = 0 THEN ' refund' ELSE '' END)
			FROM generate_series(1, 20000) i, unnest(ARRAY['acme', 'other']) t`,
		`ANALYZE notes`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	text := explain(ctx, t, pool, searchNotesSQL, "acme", TSQuery([]string{"refund"}), 20, "")
	if !(strings.Contains(text, "notes_search") || strings.Contains(text, "notes_created")) || strings.Contains(text, "Seq Scan") {
		t.Fatalf("plan scans notes:\n%s", text)
	}
}
