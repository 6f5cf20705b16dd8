package store_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// evt is a lifecycle event of tenant with the given customer, agent and previous agent.
func evt(tenant, id, conv, typ, state string, seq int64, at time.Time, customer, agent, previous string) store.EventRow {
	ev := &fd.ConversationEvent{Id: id, Tenant: tenant, Conv: conv, Type: typ, State: state, At: timestamppb.New(at)}
	if customer != "" {
		ev.Customer = &fd.Participant{Id: customer, Role: "customer"}
	}
	if agent != "" {
		ev.Agent = &fd.Participant{Id: agent, Role: "agent", Name: "A " + agent}
	}
	if previous != "" {
		ev.PreviousAgent = &fd.Participant{Id: previous, Role: "agent"}
	}
	return store.EventRow{Seq: seq, Event: ev}
}

// sent is a message of conv in acme from a sender of role.
func sent(conv string, seq int64, from, role string, at time.Time) store.MessageRow {
	r := msg("acme", conv, seq, from, "x", at)
	r.Msg.From.Role = role
	return r
}

// convIDs lists the conversations of a reply, in order.
func convIDs(rep *fd.ConversationsReply) []string {
	var out []string
	for _, c := range rep.GetConversations() {
		out = append(out, c.Conv)
	}
	return out
}

// A user's past conversations are every conversation they took part in: as the customer,
// as any agent it was assigned or transferred to, or as someone who wrote in it; never a bot's
// and never another tenant's.
func TestConversationsOfParticipants(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }

	// c1: cust, handled by agentA, transferred to agentB, closed; a supervisor and the bot
	// wrote in it. Its messages land before any of its events.
	if _, err := st.WriteMessages(ctx, []store.MessageRow{
		sent("c1", 1, "cust", "customer", at(0)),
		sent("c1", 2, "bot", "bot", at(0)),
		sent("c1", 3, "agentA", "agent", at(1)),
		sent("c1", 4, "sup1", "supervisor", at(2)),
		sent("c1", 5, "agentB", "agent", at(3)),
	}); err != nil {
		t.Fatal(err)
	}
	batches := [][]store.EventRow{
		{
			evt("acme", "e1", "c1", "opened", "bot", 1, at(0), "cust", "", ""),
			evt("acme", "e2", "c1", "assigned", "assigned", 2, at(1), "cust", "agentA", ""),
		},
		{
			evt("acme", "e3", "c1", "transferred", "assigned", 3, at(2), "cust", "agentB", "agentA"),
			evt("acme", "e4", "c1", "closed", "closed", 4, at(4), "cust", "", ""),
			// c2's assignment lands before the event that opened it (another replica was
			// slower): its participants' opened_at must move back with the conversation's.
			evt("acme", "e6", "c2", "assigned", "assigned", 6, at(11), "cust2", "agentB", ""),
		},
		{
			evt("acme", "e5", "c2", "opened", "bot", 5, at(10), "cust2", "", ""),
			evt("acme", "e7", "c3", "opened", "bot", 7, at(20), "cust", "", ""),
			evt("acme", "e8", "c3", "assigned", "assigned", 8, at(21), "cust", "agentA", ""),
			// Another tenant, where agentA works too and custX is a customer.
			evt("other", "e9", "x1", "opened", "bot", 9, at(30), "custX", "", ""),
			evt("other", "e10", "x1", "assigned", "assigned", 10, at(31), "custX", "agentA", ""),
		},
	}
	for _, b := range batches {
		if _, err := st.WriteEvents(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// c3's messages land after its events.
	if _, err := st.WriteMessages(ctx, []store.MessageRow{
		sent("c3", 6, "cust", "customer", at(20)),
		sent("c3", 7, "agentA", "agent", at(22)),
	}); err != nil {
		t.Fatal(err)
	}

	ts := timestamppb.New
	tests := []struct {
		name, tenant string
		req          *fd.ConversationsRequest
		want         []string
	}{
		{"customer", "acme", &fd.ConversationsRequest{User: "cust"}, []string{"c3", "c1"}},
		{"first agent, after the transfer", "acme", &fd.ConversationsRequest{User: "agentA"}, []string{"c3", "c1"}},
		{"second agent", "acme", &fd.ConversationsRequest{User: "agentB"}, []string{"c2", "c1"}},
		{"supervisor who only wrote", "acme", &fd.ConversationsRequest{User: "sup1"}, []string{"c1"}},
		{"unrelated agent", "acme", &fd.ConversationsRequest{User: "agentZ"}, nil},
		{"the bot is no participant", "acme", &fd.ConversationsRequest{User: "bot"}, nil},
		{"another tenant's own conversations", "other", &fd.ConversationsRequest{User: "agentA"}, []string{"x1"}},
		{"cross-tenant: an agent of acme in other", "other", &fd.ConversationsRequest{User: "agentB"}, nil},
		{"a customer of other, in other", "other", &fd.ConversationsRequest{User: "custX"}, []string{"x1"}},
		{"cross-tenant: a customer of other in acme", "acme", &fd.ConversationsRequest{User: "custX"}, nil},
		{"page 1", "acme", &fd.ConversationsRequest{User: "agentA", Limit: 1}, []string{"c3"}},
		{"page 2", "acme", &fd.ConversationsRequest{User: "agentA", Limit: 1, Before: ts(at(20))}, []string{"c1"}},
		{"page 3", "acme", &fd.ConversationsRequest{User: "agentA", Limit: 1, Before: ts(at(0))}, nil},
		{"page of two", "acme", &fd.ConversationsRequest{User: "agentB", Limit: 2, Before: ts(at(30))}, []string{"c2", "c1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := st.Conversations(ctx, tt.tenant, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := convIDs(rep); !slices.Equal(got, tt.want) {
				t.Fatalf("conversations = %v, want %v", got, tt.want)
			}
		})
	}

	// What the first agent sees of c1 is the whole record: the last agent, the state, the
	// opening time, the messages (the bot's included).
	rep, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "agentA", Before: ts(at(20))})
	if err != nil || len(rep.Conversations) != 1 {
		t.Fatalf("agentA before c3: %v, %v", rep, err)
	}
	c1 := rep.Conversations[0]
	if c1.State != "closed" || c1.GetAgent().GetId() != "agentB" || c1.GetCustomer().GetId() != "cust" ||
		!c1.OpenedAt.AsTime().Equal(at(0)) || !c1.ClosedAt.AsTime().Equal(at(4)) || c1.MessageCount != 5 || c1.LastSeq != 5 {
		t.Fatalf("c1 as agentA sees it: %v", c1)
	}
	rep, err = st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "agentB"})
	if err != nil || len(rep.Conversations) != 2 || !rep.Conversations[0].OpenedAt.AsTime().Equal(at(10)) {
		t.Fatalf("c2 opened_at after the late opening event: %v, %v", rep, err)
	}
}

// Migration 0004 fills conversation_participants from a record written before it existed:
// the customers and agents of the events (a transfer's previous agent too) and the senders.
func TestParticipantsBackfill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	migs, err := migrate.All()
	if err != nil {
		t.Fatal(err)
	}
	// The schema as the release before 0004 made it.
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), checksum text)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if m.Version >= 4 {
			break
		}
		if _, err := pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := pool.Exec(ctx, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
			m.Version, m.Name, m.Checksum()); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for _, q := range []string{
		`INSERT INTO conversations (tenant, id, state, customer_id, agent_id, opened_at, agent_seq) VALUES
			('acme', 'c1', 'closed', 'cust', 'agentB', $1, 3),
			('acme', 'c2', 'assigned', 'cust', 'agentC', $1::timestamptz + interval '1 minute', 5)`,
		`INSERT INTO events (id, tenant, conv, seq, type, customer_id, agent_id, previous_agent_id, at) VALUES
			('e1', 'acme', 'c1', 1, 'opened', 'cust', '', '', $1),
			('e2', 'acme', 'c1', 2, 'assigned', 'cust', 'agentA', '', $1),
			('e3', 'acme', 'c1', 3, 'transferred', 'cust', 'agentB', 'agentA', $1),
			('e4', 'acme', 'c2', 4, 'opened', 'cust', '', '', $1::timestamptz + interval '1 minute'),
			('e5', 'acme', 'c2', 5, 'assigned', 'cust', 'agentC', '', $1::timestamptz + interval '1 minute')`,
		`INSERT INTO messages (tenant, conv, seq, id, sender_id, sender_role, created_at) VALUES
			('acme', 'c1', 1, 'm1', 'cust', 'customer', $1),
			('acme', 'c1', 2, 'm2', 'bot', 'bot', $1),
			('acme', 'c1', 3, 'm3', 'sup1', 'supervisor', $1),
			('acme', 'c9', 4, 'm4', 'cust', 'customer', $1)`,
	} {
		if _, err := pool.Exec(ctx, q, t0); err != nil {
			t.Fatal(err)
		}
	}
	var later []int // 0004 and every migration after it
	for _, m := range migs {
		if m.Version >= 4 {
			later = append(later, m.Version)
		}
	}
	if res, err := migrate.Apply(ctx, pool, testkit.Logger(t)); err != nil || !slices.Equal(res.Applied, later) {
		t.Fatalf("migrate: %v, %v; want %v applied", res, err, later)
	}
	st := store.New(pool)
	tests := []struct {
		user string
		want []string
	}{
		{"cust", []string{"c2", "c1"}},
		{"agentA", []string{"c1"}},
		{"agentB", []string{"c1"}},
		{"agentC", []string{"c2"}},
		{"sup1", []string{"c1"}},
		{"bot", nil},
	}
	for _, tt := range tests {
		// Not parallel: the c9 write below must come after these.
		t.Run(tt.user, func(t *testing.T) {
			rep, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: tt.user})
			if err != nil {
				t.Fatal(err)
			}
			if got := convIDs(rep); !slices.Equal(got, tt.want) {
				t.Fatalf("conversations of %s = %v, want %v", tt.user, got, tt.want)
			}
		})
	}
	// Unread counts of the upgraded record: c1 is closed, c9 has no event yet.
	for user, want := range map[string]map[string]int64{"cust": {"c2": 0}, "agentA": {}, "agentC": {"c2": 0}, "sup1": {}} {
		rep, err := st.Unread(ctx, "acme", &fd.UnreadRequest{User: user})
		if err != nil || !maps.Equal(rep.Unread, want) {
			t.Fatalf("unread of %s = %v, %v; want %v", user, rep.GetUnread(), err, want)
		}
	}
	// c9 has a message but no event yet: its customer is a participant without opened_at,
	// listed once the conversation's first event lands.
	if _, err := st.WriteEvents(ctx, []store.EventRow{evt("acme", "e9", "c9", "opened", "bot", 9, t0.Add(time.Hour), "", "", "")}); err != nil {
		t.Fatal(err)
	}
	rep, err := st.Conversations(ctx, "acme", &fd.ConversationsRequest{User: "cust", Limit: 1})
	if err != nil || !slices.Equal(convIDs(rep), []string{"c9"}) {
		t.Fatalf("cust after c9 opened: %v, %v", convIDs(rep), err)
	}
}

// write records events and then messages and read positions, as ingest does.
func write(t *testing.T, st *store.Store, evs []store.EventRow, msgs []store.MessageRow, reads []store.ReadRow) {
	t.Helper()
	ctx := context.Background()
	if _, err := st.WriteEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteMessages(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.WriteReads(ctx, reads); err != nil {
		t.Fatal(err)
	}
}

// Unread counts are every participant's, not only the customer's and the current agent's: a
// previous agent after a transfer and a supervisor who wrote get theirs without asking for the
// conversation by name, and never another tenant's.
func TestUnreadOfParticipants(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	in := func(tenant, conv string, seq int64, from, role string) store.MessageRow {
		r := msg(tenant, conv, seq, from, "x", at(int(seq)))
		r.Msg.From.Role = role
		return r
	}

	// acme/c1: cust, assigned to agentA, transferred to agentB, still open; the bot and a
	// supervisor wrote too. Only agentB has a read position (up to 6).
	// acme/c2: agentA's, closed. acme/c3: agentA's, open, read by them up to 9.
	// acme/c4: sup1 and cust4 wrote; the record has no event of it yet (open as far as it knows).
	// other/c1 and other/x1: another tenant with the same conversation and user ids, where
	// agentA read c1 up to 101.
	write(t, st,
		[]store.EventRow{
			evt("acme", "e1", "c1", "opened", "bot", 1, at(0), "cust", "", ""),
			evt("acme", "e2", "c1", "assigned", "assigned", 2, at(1), "cust", "agentA", ""),
			evt("acme", "e3", "c1", "transferred", "assigned", 3, at(2), "cust", "agentB", "agentA"),
			evt("acme", "e4", "c2", "opened", "bot", 4, at(3), "cust2", "", ""),
			evt("acme", "e5", "c2", "assigned", "assigned", 5, at(3), "cust2", "agentA", ""),
			evt("acme", "e6", "c2", "closed", "closed", 6, at(4), "cust2", "", ""),
			evt("acme", "e7", "c3", "opened", "bot", 7, at(5), "cust3", "", ""),
			evt("acme", "e8", "c3", "assigned", "assigned", 8, at(5), "cust3", "agentA", ""),
			evt("other", "e9", "c1", "opened", "bot", 9, at(6), "cust", "", ""),
			evt("other", "e10", "c1", "assigned", "assigned", 10, at(6), "cust", "agentA", ""),
			evt("other", "e11", "x1", "opened", "bot", 11, at(7), "custX", "", ""),
			evt("other", "e12", "x1", "assigned", "assigned", 12, at(7), "custX", "agentA", ""),
		},
		[]store.MessageRow{
			in("acme", "c1", 1, "cust", "customer"),
			in("acme", "c1", 2, "bot", "bot"),
			in("acme", "c1", 3, "agentA", "agent"),
			in("acme", "c1", 4, "cust", "customer"),
			in("acme", "c1", 5, "sup1", "supervisor"),
			in("acme", "c1", 6, "agentB", "agent"),
			in("acme", "c1", 7, "cust", "customer"),
			in("acme", "c3", 8, "cust3", "customer"),
			in("acme", "c3", 9, "agentA", "agent"),
			in("acme", "c3", 10, "cust3", "customer"),
			in("acme", "c4", 11, "cust4", "customer"),
			in("acme", "c4", 12, "sup1", "supervisor"),
			in("acme", "c2", 13, "cust2", "customer"),
			in("other", "c1", 100, "cust", "customer"),
			in("other", "c1", 101, "cust", "customer"),
			in("other", "c1", 102, "cust", "customer"),
			in("other", "x1", 103, "custX", "customer"),
		},
		[]store.ReadRow{
			{Tenant: "acme", Conv: "c1", User: "agentB", Seq: 6},
			{Tenant: "acme", Conv: "c3", User: "agentA", Seq: 9},
			{Tenant: "other", Conv: "c1", User: "agentA", Seq: 101},
		})

	tests := []struct {
		name, tenant string
		req          *fd.UnreadRequest
		want         map[string]int64
	}{
		// c1: 1, 2, 4, 5, 6, 7 are not theirs; c2 is closed; c3: 10 after their read.
		{"previous agent after a transfer", "acme", &fd.UnreadRequest{User: "agentA"}, map[string]int64{"c1": 6, "c3": 1}},
		{"current agent, read up to 6", "acme", &fd.UnreadRequest{User: "agentB"}, map[string]int64{"c1": 1}},
		{"customer", "acme", &fd.UnreadRequest{User: "cust"}, map[string]int64{"c1": 4}},
		// c1: all but 5; c4 is not counted before the record holds an event of it.
		{"supervisor who only wrote", "acme", &fd.UnreadRequest{User: "sup1"}, map[string]int64{"c1": 6}},
		{"conversation without an event, listed", "acme", &fd.UnreadRequest{User: "sup1", Convs: []string{"c4"}}, map[string]int64{"c4": 1}},
		{"customer of a closed conversation", "acme", &fd.UnreadRequest{User: "cust2"}, map[string]int64{}},
		{"the bot is no participant", "acme", &fd.UnreadRequest{User: "bot"}, map[string]int64{}},
		{"unrelated agent", "acme", &fd.UnreadRequest{User: "agentZ"}, map[string]int64{}},
		{"previous agent, listed", "acme", &fd.UnreadRequest{User: "agentA", Convs: []string{"c1"}}, map[string]int64{"c1": 6}},
		{"listed closed conversation", "acme", &fd.UnreadRequest{User: "agentA", Convs: []string{"c2"}}, map[string]int64{"c2": 1}},
		// agentA read other/c1 up to 101: 102 is unread there, acme's messages are not counted.
		{"same user in another tenant", "other", &fd.UnreadRequest{User: "agentA"}, map[string]int64{"c1": 1, "x1": 1}},
		{"same user in another tenant, listed", "other", &fd.UnreadRequest{User: "agentA", Convs: []string{"c1"}}, map[string]int64{"c1": 1}},
		{"cross-tenant: an agent of acme in other", "other", &fd.UnreadRequest{User: "agentB"}, map[string]int64{}},
		{"cross-tenant: a supervisor of acme in other", "other", &fd.UnreadRequest{User: "sup1"}, map[string]int64{}},
		{"cross-tenant: a customer of other in acme", "acme", &fd.UnreadRequest{User: "custX"}, map[string]int64{}},
		{"unknown tenant", "nobody", &fd.UnreadRequest{User: "agentA"}, map[string]int64{}},
	}
	unread := func(t *testing.T, tenant string, req *fd.UnreadRequest, want map[string]int64) {
		t.Helper()
		rep, err := st.Unread(context.Background(), tenant, req)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(rep.Unread, want) {
			t.Fatalf("unread of %s in %s = %v, want %v", req.GetUser(), tenant, rep.Unread, want)
		}
	}
	// The group ends when its parallel subtests do, before the writes below.
	t.Run("record", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				unread(t, tt.tenant, tt.req, tt.want)
			})
		}
	})

	// c4's first event lands: it counts for everyone who wrote in it.
	write(t, st, []store.EventRow{evt("acme", "e13", "c4", "opened", "bot", 13, at(11), "cust4", "", "")}, nil, nil)
	unread(t, "acme", &fd.UnreadRequest{User: "sup1"}, map[string]int64{"c1": 6, "c4": 1})
	unread(t, "acme", &fd.UnreadRequest{User: "cust4"}, map[string]int64{"c4": 1})
	// c1 closes: nobody's unread lists it any more, whatever their part in it.
	write(t, st, []store.EventRow{evt("acme", "e14", "c1", "closed", "closed", 14, at(12), "cust", "", "")}, nil, nil)
	for user, want := range map[string]map[string]int64{
		"cust": {}, "agentA": {"c3": 1}, "agentB": {}, "sup1": {"c4": 1},
	} {
		unread(t, "acme", &fd.UnreadRequest{User: user}, want)
	}
}
