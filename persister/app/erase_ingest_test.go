package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	erasers "github.com/frontdesk-chat/frontdesk/persister/internal/erase"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// Gates in Postgres, each an advisory lock the test holds: a trigger waits for it.
const (
	gateIngest = 1 // the persister inserting c-ann's closing event
	gateErase  = 2 // the erase deleting messages
)

// gatesSQL holds the persister's write of c-ann's closed event and the erase's deletes each at
// a gate, so the test can order them: the events transaction waits before it writes a row,
// holding no row lock the erase needs.
const gatesSQL = `
CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock_shared(TG_ARGV[0]::bigint);
	RETURN NEW;
END $$;
CREATE TRIGGER gate_ingest BEFORE INSERT ON events FOR EACH ROW
	WHEN (NEW.conv = 'c-ann' AND NEW.type = 'closed') EXECUTE FUNCTION test_gate(1);
CREATE TRIGGER gate_erase BEFORE DELETE ON messages FOR EACH STATEMENT EXECUTE FUNCTION test_gate(2);`

// fakeDispatcher closes a conversation on its erase command as the dispatcher does: the closed
// event (reason erased) in the events stream, then the conversation's key closed.
func fakeDispatcher(t *testing.T, nc *nats.Conn, js jetstream.JetStream, conv string, customer *fd.Participant) {
	t.Helper()
	sub, err := nc.Subscribe(subjects.ConvCommands("acme", conv), func(m *nats.Msg) {
		c := &fd.Command{}
		if proto.Unmarshal(m.Data, c) != nil || c.GetType() != frames.CommandErase {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		closed := &fd.ConversationEvent{Id: "closed-" + conv, Tenant: "acme", Conv: conv, Type: frames.EventClosed,
			State: frames.StateClosed, Reason: frames.ReasonErased, Customer: customer, At: timestamppb.Now()}
		if err := publish(ctx, js, subjects.Events("acme", conv), closed.Id, closed); err != nil {
			t.Errorf("closed event: %v", err)
		} else if err := putConversation(ctx, js, conv, customer, frames.StateClosed); err != nil {
			t.Errorf("close %s: %v", conv, err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// An erase does not finish while the persister still holds, in a batch it has not committed,
// an event it took from the stream before the erase purged it: the dispatcher's closing event
// of the customer's conversation, stored just before the erase deleted the record, would
// otherwise write the conversation, the event and the customer back after the erase. The test
// holds the persister's write of that event until the erase has deleted the rows, then lets it
// commit: nothing of the customer is left once the erase answers and the persister caught up.
func TestEraseWaitsForIngestInFlight(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, nc, js := natsEnv(t)
	// The erase says in its log when it waits for the persister's ingest.
	obs, logs := observer.New(zap.InfoLevel)
	svc := launchLogged(t, testConfig(natsURL, dbURL), zap.New(zapcore.NewTee(testkit.Logger(t).Core(), obs)))
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error { return ready(svc) })
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	ann := &fd.Participant{Id: "ann", Role: frames.RoleCustomer, Name: "Name of ann"}
	customer(t, js, "ann", "c-ann", "annword")
	if err := putConversation(ctx, js, "c-ann", ann, frames.StateQueued); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if got := traces(t, nc, js, pool, "ann", "c-ann", "annword"); len(got) < 13 {
			return fmt.Errorf("ann not fully recorded yet: %v", got)
		}
		return nil
	})
	fakeDispatcher(t, nc, js, "c-ann", ann)

	if _, err := pool.Exec(ctx, gatesSQL); err != nil {
		t.Fatal(err)
	}
	gates, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = gates.Close(ctx) }()
	gate := func(q string, key int) {
		t.Helper()
		if _, err := gates.Exec(ctx, q, key); err != nil {
			t.Fatal(err)
		}
	}
	gate(`SELECT pg_advisory_lock($1)`, gateIngest)
	gate(`SELECT pg_advisory_lock($1)`, gateErase)

	replied := make(chan *fd.EraseReply, 1)
	go func() {
		data, _ := proto.Marshal(&fd.EraseRequest{Tenant: "acme", User: "ann", RequestedBy: "sup-1"})
		rep := &fd.EraseReply{}
		if msg, err := nc.Request(subjects.Erase("acme"), data, 2*time.Minute); err != nil {
			rep.Error = err.Error()
		} else if err := proto.Unmarshal(msg.Data, rep); err != nil {
			rep.Error = err.Error()
		}
		replied <- rep
	}()

	// The persister took the closing event and waits at its gate.
	testkit.CheckFor(t, time.Minute, 50*time.Millisecond, func() error {
		if waitingAt(ctx, t, pool, gateIngest) {
			return nil
		}
		return fmt.Errorf("the persister is not writing c-ann's closed event yet")
	})
	// Then the erase either waits for the persister (nothing deleted yet), or goes on to delete
	// the record: let it delete everything before the persister commits.
	var deleting bool
	testkit.CheckFor(t, time.Minute, 50*time.Millisecond, func() error {
		if deleting = waitingAt(ctx, t, pool, gateErase); deleting || logs.FilterMessage("erase waits for the persister's ingest").Len() > 0 {
			return nil
		}
		return fmt.Errorf("the erase neither waits for the persister nor deletes")
	})
	gate(`SELECT pg_advisory_unlock($1)`, gateErase)
	if deleting {
		testkit.CheckFor(t, time.Minute, 50*time.Millisecond, func() error {
			var n int
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE tenant = 'acme' AND conv = 'c-ann'`).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("the erase has not deleted c-ann's %d messages yet", n)
			}
			return nil
		})
	}
	gate(`SELECT pg_advisory_unlock($1)`, gateIngest)

	if rep := <-replied; rep.Error != "" {
		t.Fatalf("erase: %v", rep)
	}
	// Whatever the persister still had has been written by now.
	testkit.CheckFor(t, time.Minute, 50*time.Millisecond, func() error {
		for _, d := range erasers.IngestDurables {
			c, err := js.Consumer(ctx, d.Stream, d.Name)
			if err != nil {
				return err
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if info.NumAckPending > 0 || info.NumPending > 0 {
				return fmt.Errorf("%s: %d unacked, %d pending", d.Name, info.NumAckPending, info.NumPending)
			}
		}
		return nil
	})
	if got := traces(t, nc, js, pool, "ann", "c-ann", "annword"); len(got) > 0 {
		t.Errorf("ann back after the erase: %v", got)
	}
	var rows int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE tenant = 'acme' AND (conv = 'c-ann' OR customer_id = 'ann'))
		+ (SELECT count(*) FROM conversation_participants WHERE tenant = 'acme' AND (conv = 'c-ann' OR user_id = 'ann'))
		+ (SELECT count(*) FROM report_conversations WHERE tenant = 'acme' AND (conv = 'c-ann' OR customer_id = 'ann'))`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows > 0 {
		t.Errorf("%d rows of ann's events, participation and report facts after the erase", rows)
	}
}

// waitingAt says whether a session of the test's database waits at gate.
func waitingAt(ctx context.Context, t *testing.T, pool *pgxpool.Pool, gate int) bool {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
		AND objid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`, gate).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
