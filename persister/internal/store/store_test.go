package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func newStore(t testing.TB) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	pool := store.MigratedPool(t)
	return store.New(pool), pool
}

func msg(tenant, conv string, seq int64, from, text string, at time.Time) store.MessageRow {
	return store.MessageRow{Seq: seq, Msg: &fd.Message{
		Id: fmt.Sprintf("m_%s_%d", conv, seq), Tenant: tenant, Conv: conv,
		From: &fd.Participant{Id: from, Role: "customer", Name: "Name " + from},
		Kind: "text", Text: text, CreatedAt: timestamppb.New(at),
	}}
}

func TestWriteMessagesIdempotent(t *testing.T) {
	t.Parallel()
	st, pool := newStore(t)
	ctx := context.Background()
	now := time.Now()
	batch := []store.MessageRow{
		msg("acme", "c1", 1, "u1", "hello", now),
		msg("acme", "c1", 2, "u1", "again", now),
		msg("acme", "c2", 3, "u2", "other", now),
	}
	res, err := st.WriteMessages(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 3 || res.Duplicates != 0 {
		t.Fatalf("first write: %+v", res)
	}
	// The same batch again (redelivery), plus the first message republished under a new
	// stream sequence (same message id), plus one new message.
	republished := msg("acme", "c1", 10, "u1", "hello", now)
	republished.Msg.Id = batch[0].Msg.Id
	again := append(slices.Clone(batch), republished, msg("acme", "c1", 11, "u1", "new", now))
	res, err = st.WriteMessages(ctx, again)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 1 || res.Duplicates != 4 {
		t.Fatalf("second write: %+v, want 1 inserted, 4 duplicates", res)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("rows = %d, want 4", n)
	}
	var name string
	if err := pool.QueryRow(ctx, "SELECT name FROM users WHERE tenant = 'acme' AND id = 'u2'").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "Name u2" {
		t.Fatalf("sender name = %q", name)
	}
}

func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	var rows []store.MessageRow
	for seq := int64(1); seq <= 120; seq++ {
		rows = append(rows, msg("acme", "c1", seq, "u1", fmt.Sprint("text ", seq), time.Now()))
		rows = append(rows, msg("acme", "other", 1000+seq, "u1", "noise", time.Now()))
	}
	if _, err := st.WriteMessages(ctx, rows); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		req         *fd.HistoryRequest
		first, last int64
		count       int
		more        bool
	}{
		{"newest page", &fd.HistoryRequest{Conv: "c1", Limit: 50}, 71, 120, 50, true},
		{"older page", &fd.HistoryRequest{Conv: "c1", Before: 71, Limit: 50}, 21, 70, 50, true},
		{"oldest page", &fd.HistoryRequest{Conv: "c1", Before: 21, Limit: 50}, 1, 20, 20, false},
		{"after (sync)", &fd.HistoryRequest{Conv: "c1", After: 100, Limit: 10}, 101, 110, 10, true},
		{"after to the end", &fd.HistoryRequest{Conv: "c1", After: 110, Limit: 10}, 111, 120, 10, false},
		{"default limit", &fd.HistoryRequest{Conv: "c1"}, 71, 120, store.DefaultHistoryLimit, true},
		{"capped limit", &fd.HistoryRequest{Conv: "c1", Limit: 100000}, 1, 120, 120, false},
		{"unknown conversation", &fd.HistoryRequest{Conv: "nope"}, 0, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := st.History(ctx, "acme", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if len(reply.Messages) != tt.count || reply.More != tt.more {
				t.Fatalf("got %d messages, more=%v; want %d, more=%v", len(reply.Messages), reply.More, tt.count, tt.more)
			}
			if tt.count == 0 {
				return
			}
			if f, l := reply.Messages[0].Seq, reply.Messages[len(reply.Messages)-1].Seq; f != tt.first || l != tt.last {
				t.Fatalf("seq %d..%d, want %d..%d", f, l, tt.first, tt.last)
			}
			for i, m := range reply.Messages {
				if i > 0 && m.Seq != reply.Messages[i-1].Seq+1 {
					t.Fatalf("not oldest first / contiguous at %d", i)
				}
				if m.Message.Text != fmt.Sprint("text ", m.Seq) || m.Message.Conv != "c1" || m.StoredAt == nil {
					t.Fatalf("bad message %v", m)
				}
			}
		})
	}
	// Another tenant sees nothing of acme's.
	reply, err := st.History(ctx, "other-tenant", &fd.HistoryRequest{Conv: "c1"})
	if err != nil || len(reply.Messages) != 0 {
		t.Fatalf("cross-tenant history: %v %v", reply, err)
	}
}

func event(id, conv string, typ, state string, customer, agent string, at time.Time) *fd.ConversationEvent {
	ev := &fd.ConversationEvent{Id: id, Tenant: "acme", Conv: conv, Type: typ, State: state, At: timestamppb.New(at)}
	if customer != "" {
		ev.Customer = &fd.Participant{Id: customer, Role: "customer", Name: "C " + customer}
	}
	if agent != "" {
		ev.Agent = &fd.Participant{Id: agent, Role: "agent", Name: "A " + agent}
	}
	return ev
}

func TestEventsAndUnread(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	evs := []store.EventRow{
		{Seq: 1, Event: event("e1", "c1", "opened", "bot", "cust", "", t0)},
		{Seq: 2, Event: event("e2", "c1", "queued", "queued", "cust", "", t0.Add(time.Minute))},
		{Seq: 3, Event: event("e3", "c1", "assigned", "assigned", "cust", "agent1", t0.Add(2*time.Minute))},
		{Seq: 4, Event: event("e4", "c2", "opened", "bot", "cust", "", t0.Add(3*time.Minute))},
		{Seq: 5, Event: event("e5", "c0", "opened", "bot", "cust", "", t0.Add(-time.Minute))},
		{Seq: 6, Event: event("e6", "c0", "closed", "closed", "cust", "", t0.Add(-30*time.Second))},
	}
	// Written in two batches, the later one first (another replica was faster), then the
	// whole lot again (redelivery): the result must be the same.
	for _, b := range [][]store.EventRow{evs[3:], evs[:3], evs} {
		if _, err := st.WriteEvents(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// An event older than what the record holds must not move state back.
	if _, err := st.WriteEvents(ctx, []store.EventRow{{Seq: 2, Event: evs[1].Event}}); err != nil {
		t.Fatal(err)
	}

	convs, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "cust"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range convs.Conversations {
		got = append(got, c.Conv+":"+c.State+":"+c.GetAgent().GetId())
	}
	if want := []string{"c2:bot:", "c1:assigned:agent1", "c0:closed:"}; !slices.Equal(got, want) {
		t.Fatalf("conversations = %v, want %v", got, want)
	}
	if c1 := convs.Conversations[1]; !c1.OpenedAt.AsTime().Equal(t0) || c1.ClosedAt != nil || c1.Customer.GetName() != "C cust" {
		t.Fatalf("c1 record = %v", c1)
	}
	page, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "cust", Limit: 1, Before: convs.Conversations[0].OpenedAt})
	if err != nil || len(page.Conversations) != 1 || page.Conversations[0].Conv != "c1" {
		t.Fatalf("second page = %v, %v", page, err)
	}
	agentConvs, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "agent1"})
	if err != nil || len(agentConvs.Conversations) != 1 {
		t.Fatalf("agent conversations = %v, %v", agentConvs, err)
	}

	// Messages: c1 has 5 (2 from the customer, 3 from the agent), c2 has 2 from the customer.
	now := time.Now()
	var rows []store.MessageRow
	for i, from := range []string{"cust", "agent1", "cust", "agent1", "agent1"} {
		rows = append(rows, msg("acme", "c1", int64(10+i), from, "x", now))
	}
	rows = append(rows, msg("acme", "c2", 20, "cust", "x", now), msg("acme", "c2", 21, "cust", "x", now))
	if _, err := st.WriteMessages(ctx, rows); err != nil {
		t.Fatal(err)
	}
	// The customer read c1 up to seq 11; a stale position (10) arriving later changes nothing.
	reads := []store.ReadRow{
		{Tenant: "acme", Conv: "c1", User: "cust", Seq: 11, At: now},
		{Tenant: "acme", Conv: "c1", User: "agent1", Seq: 12, At: now},
	}
	if _, err := st.WriteReads(ctx, reads); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteReads(ctx, []store.ReadRow{{Tenant: "acme", Conv: "c1", User: "cust", Seq: 10}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  *fd.UnreadRequest
		want map[string]int64
	}{
		// c1 after 11: 12 (cust), 13, 14 (agent) -> 2; c2: only own messages -> 0; c0 closed.
		{"customer, all", &fd.UnreadRequest{User: "cust"}, map[string]int64{"c1": 2, "c2": 0}},
		// agent read up to 12: 13, 14 are their own -> 0.
		{"agent, all", &fd.UnreadRequest{User: "agent1"}, map[string]int64{"c1": 0}},
		{"someone else, listed", &fd.UnreadRequest{User: "sup", Convs: []string{"c1", "c2"}}, map[string]int64{"c1": 5, "c2": 2}},
		{"listed closed conversation", &fd.UnreadRequest{User: "cust", Convs: []string{"c0"}}, map[string]int64{"c0": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, err := st.Unread(ctx, "acme", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(reply.Unread) != fmt.Sprint(tt.want) {
				t.Fatalf("unread = %v, want %v", reply.Unread, tt.want)
			}
		})
	}
	conv1, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "agent1"})
	if err != nil || conv1.Conversations[0].MessageCount != 5 || conv1.Conversations[0].LastSeq != 14 {
		t.Fatalf("counts = %v, %v", conv1, err)
	}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	now := time.Now()
	rows := []store.MessageRow{
		msg("acme", "c1", 1, "u1", "I want a refund for my order", now),
		msg("acme", "c1", 2, "u1", "Refunds take 5 days", now),
		msg("acme", "c2", 3, "u2", "我想退款，订单号是 12345", now),
		msg("acme", "c3", 4, "u3", "退货需要多久？", now),
		msg("other", "c9", 5, "u9", "refund refund refund", now),
	}
	if _, err := st.WriteMessages(ctx, rows); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  []int64 // seqs, any order
	}{
		{"refund", []int64{1, 2}},
		{"REFUND order", []int64{1}},
		{"退款", []int64{3}},
		{"退", []int64{3, 4}},
		{"订单号", []int64{3}},
		{"退款 12345", []int64{3}},
		{"nothing-here", nil},
		{"", nil},
		{"'; DROP TABLE messages; --", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			reply, err := st.Search(ctx, "acme", &fd.SearchRequest{Query: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, h := range reply.Hits {
				got = append(got, h.Seq)
				if h.Snippet == "" || h.Rank <= 0 {
					t.Fatalf("hit %v lacks snippet or rank", h)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("hits %v, want %v (%v)", got, tt.want, reply.Hits)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mode string
	}{
		{"delete", store.RetentionDelete},
		{"anonymize", store.RetentionAnonymize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, pool := newStore(t)
			ctx := context.Background()
			old := time.Now().Add(-40 * 24 * time.Hour)
			var rows []store.MessageRow
			for i := range int64(25) {
				rows = append(rows, msg("acme", "c1", i+1, "u1", "secret old text", old.Add(time.Duration(i)*time.Second)))
			}
			rows = append(rows, msg("acme", "c1", 100, "u1", "recent text", time.Now()))
			rows = append(rows, msg("beta", "c2", 101, "u1", "other tenant old text", old))
			if _, err := st.WriteMessages(ctx, rows); err != nil {
				t.Fatal(err)
			}
			cutoff := time.Now().Add(-30 * 24 * time.Hour)
			var total int64
			for {
				n, err := st.ExpireMessages(ctx, "acme", cutoff, tt.mode, 10)
				if err != nil {
					t.Fatal(err)
				}
				if n > 10 {
					t.Fatalf("batch of %d exceeds the bound", n)
				}
				total += n
				if n < 10 {
					break
				}
			}
			if total != 25 {
				t.Fatalf("expired %d, want 25", total)
			}
			if n, _ := st.ExpireMessages(ctx, "acme", cutoff, tt.mode, 10); n != 0 {
				t.Fatalf("second run changed %d rows", n)
			}
			var kept, secret, other int
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE tenant = 'acme'").Scan(&kept)
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE text LIKE 'secret%' OR (tenant = 'acme' AND search @@ to_tsquery('simple', 'secret'))").Scan(&secret)
			_ = pool.QueryRow(ctx, "SELECT count(*) FROM messages WHERE tenant = 'beta'").Scan(&other)
			wantKept := 1
			if tt.mode == store.RetentionAnonymize {
				wantKept = 26
			}
			if kept != wantKept || secret != 0 || other != 1 {
				t.Fatalf("kept %d (want %d), secret left %d, other tenant %d", kept, wantKept, secret, other)
			}
		})
	}
}

// Events applied in any order (replicas and workers commit batches concurrently) give the
// state of the newest event and the agent of the newest event that named one.
func TestEventsAnyOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Truncate(time.Millisecond)
	evs := []store.EventRow{
		{Seq: 10, Event: event("a", "c5", "assigned", "assigned", "cust", "agentA", t0)},
		{Seq: 12, Event: event("b", "c5", "transferred", "assigned", "cust", "agentB", t0.Add(time.Second))},
		{Seq: 14, Event: event("c", "c5", "closed", "closed", "cust", "", t0.Add(2*time.Second))},
	}
	orders := map[string][]int{"in order": {0, 1, 2}, "reversed": {2, 1, 0}, "middle last": {0, 2, 1}, "newest first": {2, 0, 1}}
	for name, order := range orders {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st, _ := newStore(t)
			ctx := context.Background()
			for _, i := range order {
				if _, err := st.WriteEvents(ctx, []store.EventRow{evs[i]}); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "cust"})
			if err != nil || len(rep.Conversations) != 1 {
				t.Fatalf("conversations = %v, %v", rep, err)
			}
			c := rep.Conversations[0]
			if c.State != "closed" || c.GetAgent().GetId() != "agentB" || !c.OpenedAt.AsTime().Equal(t0) ||
				!c.ClosedAt.AsTime().Equal(t0.Add(2*time.Second)) {
				t.Fatalf("record = %v", c)
			}
		})
	}
}
