package erase_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/persister/internal/erase"
	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const tenant = "acme"

// record is a migrated database with one customer, cust, whose conversation conv holds their
// messages, its events, a read position and a note, and their contact; and another customer,
// other, in conversation keep, who is not erased.
type record struct {
	pool *pgxpool.Pool
	st   *store.Store
	t0   time.Time
}

func newRecord(t *testing.T) record {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Apply(ctx, pool, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	r := record{pool: pool, st: store.New(pool), t0: time.Now().Add(-time.Hour).Truncate(time.Millisecond)}
	for _, c := range []struct{ conv, user string }{{"conv", "cust"}, {"keep", "other"}} {
		r.write(t, "events", c.conv, c.user, 1, r.t0)
		r.write(t, "messages", c.conv, c.user, 2, r.t0)
		r.write(t, "reads", c.conv, c.user, 2, r.t0)
		r.write(t, "notes", c.conv, "agent1", 3, r.t0)
		r.write(t, "contact seen", c.conv, c.user, 0, r.t0)
	}
	if n := r.left(t, "conv", "cust"); n == "" {
		t.Fatal("the customer's data is not in the record to begin with")
	}
	return r
}

// write writes one row of kind in conv, by user, at seq, through the store's ingest path.
func (r record) write(t *testing.T, kind, conv, user string, seq int64, at time.Time) {
	t.Helper()
	if err := r.writeErr(context.Background(), kind, conv, user, seq, at); err != nil {
		t.Fatal(err)
	}
}

func (r record) writeErr(ctx context.Context, kind, conv, user string, seq int64, at time.Time) error {
	ts := timestamppb.New(at)
	id := fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(kind, " ", "-"), conv, seq)
	var err error
	switch kind {
	case "messages":
		_, err = r.st.WriteMessages(ctx, []store.MessageRow{{Seq: seq, Msg: &fd.Message{Id: id, Tenant: tenant, Conv: conv,
			From: &fd.Participant{Id: user, Role: frames.RoleCustomer, Name: "Name " + user}, Kind: "text", Text: "my address is", CreatedAt: ts}}})
	case "events":
		_, err = r.st.WriteEvents(ctx, []store.EventRow{{Seq: seq, Event: &fd.ConversationEvent{Id: id, Tenant: tenant, Conv: conv,
			Type: frames.EventOpened, State: frames.StateQueued, At: ts,
			Customer: &fd.Participant{Id: user, Role: frames.RoleCustomer, Name: "Name " + user}}}})
	case "closing event":
		_, err = r.st.WriteEvents(ctx, []store.EventRow{{Seq: seq, Event: &fd.ConversationEvent{Id: id, Tenant: tenant, Conv: conv,
			Type: frames.EventClosed, State: frames.StateClosed, At: ts,
			Customer: &fd.Participant{Id: user, Role: frames.RoleCustomer, Name: "Name " + user}}}})
	case "reads":
		_, err = r.st.WriteReads(ctx, []store.ReadRow{{Tenant: tenant, Conv: conv, User: user, Seq: seq, At: at}})
	case "notes":
		_, err = r.st.WriteNotes(ctx, []store.NoteRow{{Seq: seq, Msg: &fd.Message{Id: id, Tenant: tenant, Conv: conv,
			From: &fd.Participant{Id: user, Role: frames.RoleAgent, Name: "Agent"}, Text: "they live at", CreatedAt: ts}}})
	case "contact seen":
		err = r.st.ContactSeen(ctx, tenant, &fd.Contact{Id: user, Name: "Name " + user, Email: user + "@example.com"}, "/checkout", at)
	case "prechat":
		err = r.st.PrechatContact(ctx, tenant, &fd.Contact{Id: user, Name: "Name " + user, Email: user + "@example.com"}, at)
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	return err
}

// left describes what the record holds of conv or user (empty: nothing).
func (r record) left(t *testing.T, conv, user string) string {
	t.Helper()
	var out []string
	for _, q := range []struct{ table, where string }{
		{"messages", "conv = $2 OR sender_id = $3"},
		{"events", "conv = $2 OR customer_id = $3"},
		{"read_positions", "conv = $2 OR user_id = $3"},
		{"notes", "conv = $2 OR author_id = $3"},
		{"conversation_participants", "conv = $2 OR user_id = $3"},
		{"report_conversations", "conv = $2 OR customer_id = $3"},
		{"conversations", "id = $2 OR customer_id = $3"},
		{"users", "id = $3"},
		{"contacts", "id = $3"},
	} {
		var n int
		if err := r.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+q.table+" WHERE tenant = $1 AND $2::text <> $3::text AND ("+q.where+")",
			tenant, conv, user).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out = append(out, fmt.Sprintf("%s: %d", q.table, n))
		}
	}
	return strings.Join(out, ", ")
}

// erase runs the persister's Postgres eraser (with the tables the app adds) on cust and conv.
func (r record) erase(ctx context.Context) error {
	p := erase.Postgres{Pool: r.pool, Tables: append(append([]erase.Table{}, app.EraseTables...), erase.PostgresTables...)}
	_, err := p.Erase(ctx, erase.Target{Tenant: tenant, User: "cust", Convs: []string{"conv"}, Erasure: "e1"})
	return err
}

// TestEraseDropsLateWrites: a row of an erased conversation (or a profile write of the erased
// customer dated before the erase) that reaches the record after the erase's delete, from a
// batch the persister took before the streams were purged, writes nothing of the customer
// back; the same write for a customer not erased, or one dated after the erase (the customer
// came back), is recorded.
func TestEraseDropsLateWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		kind string
		user string
		seq  int64
		// at is when the late write was made, from now; stamped before the erase but for a
		// sender whose clock runs ahead of the database's.
		at time.Duration
	}{
		{"a message", "messages", "cust", 10, -time.Minute},
		{"a message stamped by a clock ahead", "messages", "cust", 13, time.Minute},
		{"a closing event", "closing event", "cust", 11, -time.Minute},
		{"a read position", "reads", "cust", 10, -time.Minute},
		{"an agent's read position", "reads", "agent1", 10, -time.Minute},
		{"a note", "notes", "agent1", 12, -time.Minute},
		{"a connection", "contact seen", "cust", 0, -time.Minute},
		{"a pre-chat form", "prechat", "cust", 0, -time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRecord(t)
			ctx := context.Background()
			if err := r.erase(ctx); err != nil {
				t.Fatal(err)
			}
			if left := r.left(t, "conv", "cust"); left != "" {
				t.Fatalf("after the erase the record holds %s", left)
			}
			// Another replica's store: it has not seen the customer, so it records them as a
			// sender and participant again.
			r.st = store.New(r.pool)
			before := time.Now().Add(tc.at) // made before the erase, committed after it
			r.write(t, tc.kind, "conv", tc.user, tc.seq, before)
			if left := r.left(t, "conv", "cust"); left != "" {
				t.Errorf("a late write brought back %s", left)
			}
			user := "other2"
			if tc.user != "cust" {
				user = tc.user
			}
			r.write(t, tc.kind, "keep2", user, tc.seq, before)
			if left := r.left(t, "keep2", "other2"); !strings.Contains(left, tableOf(tc.kind)) {
				t.Errorf("the same write for a customer not erased left %q, want %s", left, tableOf(tc.kind))
			}
		})
	}
}

// tableOf is the table a write kind lands in.
func tableOf(kind string) string {
	switch kind {
	case "closing event":
		return "events"
	case "reads":
		return "read_positions"
	case "contact seen", "prechat":
		return "contacts"
	}
	return kind
}

// TestEraseContactComesBack: the erased customer connecting after the erase (a new visit) is
// recorded again; only what was dated before the erase is dropped.
func TestEraseContactComesBack(t *testing.T) {
	t.Parallel()
	r := newRecord(t)
	ctx := context.Background()
	if err := r.erase(ctx); err != nil {
		t.Fatal(err)
	}
	var erasedAt time.Time
	if err := r.pool.QueryRow(ctx, `SELECT erased_at FROM erased_contacts WHERE tenant = $1 AND user_id = 'cust'`, tenant).Scan(&erasedAt); err != nil {
		t.Fatal(err)
	}
	after := erasedAt.Add(time.Second)
	r.write(t, "contact seen", "conv2", "cust", 0, after)
	r.write(t, "events", "conv2", "cust", 1, after)
	r.write(t, "messages", "conv2", "cust", 2, after)
	if left := r.left(t, "conv", "cust"); !strings.Contains(left, "contacts: 1") || !strings.Contains(left, "users: 1") || !strings.Contains(left, "messages: 1") {
		t.Fatalf("the customer's new visit left %q, want their contact, user and message", left)
	}
}

// TestEraseSerializesWithBatchInFlight holds a message batch at a gate in Postgres while the
// erase runs: before the batch takes its locks (it is committed after the erase's delete and
// must find the tombstones), and after it inserted its rows (the erase must wait for it and
// delete them). Either way nothing of the customer is left.
func TestEraseSerializesWithBatchInFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// gate is taken on its own connection before the batch is written and released after
		// the erase was started; stuck is how many backends wait on a lock once both are held
		// there.
		gate  string
		stuck int
	}{
		// The batch's first statement takes the tenant's report-facts lock (shared): held
		// exclusively here, the batch waits before anything of it ran. The erase does not
		// take that lock, so it runs to its commit meanwhile.
		{"before the batch's locks", `SELECT pg_advisory_xact_lock(hashtextextended('fd-report-facts/' || $1, 0))`, 1},
		// The insert adds the messages to the conversation's report facts: with that row
		// locked here, the batch waits after it inserted its messages; the erase then waits
		// for it (or, without the lock, for this row).
		{"after the batch's insert", `SELECT 1 FROM report_conversations WHERE tenant = $1 AND conv = 'conv' FOR UPDATE`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRecord(t)
			ctx := context.Background()
			gate, err := r.pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = gate.Rollback(ctx) }()
			if _, err := gate.Exec(ctx, tc.gate, tenant); err != nil {
				t.Fatal(err)
			}
			r.st = store.New(r.pool) // another replica's, as in TestEraseDropsLateWrites
			wrote := make(chan error, 1)
			go func() { wrote <- r.writeErr(ctx, "messages", "conv", "cust", 20, time.Now().Add(-time.Minute)) }()
			waiting(t, r.pool, 1)
			erased := make(chan error, 1)
			go func() { erased <- r.erase(ctx) }()
			if tc.stuck > 1 {
				waiting(t, r.pool, tc.stuck)
			} else if err := <-erased; err != nil {
				t.Fatal(err)
			}
			if err := gate.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := <-wrote; err != nil {
				t.Fatal(err)
			}
			if tc.stuck > 1 {
				if err := <-erased; err != nil {
					t.Fatal(err)
				}
			}
			if left := r.left(t, "conv", "cust"); left != "" {
				t.Errorf("the batch in flight left %s", left)
			}
			if left := r.left(t, "keep", "other"); left == "" {
				t.Error("the customer not erased is gone too")
			}
		})
	}
}

// waiting waits until n of the database's backends wait on a lock.
func waiting(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	testkit.CheckFor(t, time.Minute, 20*time.Millisecond, func() error {
		var got int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&got); err != nil {
			return err
		}
		if got < n {
			return errors.New(fmt.Sprint(got, " backends wait on a lock, want ", n))
		}
		return nil
	})
}

func TestTombstoneKeep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		want   time.Duration
	}{
		{"streams without a max age keep them for good", 0, 0},
		{"the default 30 days and a day", 30 * 24 * time.Hour, 31 * 24 * time.Hour},
		{"an hour and a day", time.Hour, 25 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := erase.TombstoneKeep(tc.maxAge); got != tc.want {
				t.Fatalf("TombstoneKeep(%v) = %v, want %v", tc.maxAge, got, tc.want)
			}
		})
	}
}

// TestTombstonesExpireAfterStreamsMaxAge: retention drops the tombstones older than the
// provisioned ingest streams' max age and a day, and keeps the younger ones.
func TestTombstonesExpireAfterStreamsMaxAge(t *testing.T) {
	t.Parallel()
	r := newRecord(t)
	ctx := context.Background()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	testkit.Provision(t, js)
	now := time.Now()
	day := 24 * time.Hour
	for _, tb := range []struct {
		table, id string
		age       time.Duration
	}{
		{"erased_conversations", "old", 32 * day},
		{"erased_conversations", "young", 30 * day},
		{"erased_contacts", "old", 32 * day},
		{"erased_contacts", "young", day},
	} {
		col := "conv"
		if tb.table == "erased_contacts" {
			col = "user_id"
		}
		if _, err := r.pool.Exec(ctx, "INSERT INTO "+tb.table+" (tenant, "+col+", erased_at) VALUES ($1, $2, $3)",
			tenant, tb.id, now.Add(-tb.age)); err != nil {
			t.Fatal(err)
		}
	}
	x := erase.Tombstones{Pool: r.pool, Own: js, Now: func() time.Time { return now },
		Streams: []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamReads, subjects.StreamNotes, "FD_MISSING"}}
	n, err := x.Expire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("expired %d tombstones, want 2", n)
	}
	var left []string
	rows, err := r.pool.Query(ctx, `SELECT 'conv ' || conv FROM erased_conversations UNION ALL SELECT 'contact ' || user_id FROM erased_contacts ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(left, ", "); got != "contact young, conv young" {
		t.Errorf("tombstones left: %s, want contact young, conv young", got)
	}
}
