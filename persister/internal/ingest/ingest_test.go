package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

func TestMain(m *testing.M) { testkit.Main(m) }

type env struct {
	srv  *testkit.NATS
	nc   *nats.Conn
	js   jetstream.JetStream
	pool *pgxpool.Pool
	st   *store.Store
	reg  *prometheus.Registry
	met  *ingest.Metrics
	// consumer is the one run started last.
	consumer *ingest.Consumer[store.MessageRow]
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, testkit.Database(t))
}

// setupWith is setup on the database at dbURL.
func setupWith(t *testing.T, dbURL string) *env {
	t.Helper()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Apply(context.Background(), pool, nil); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	return &env{srv: srv, nc: nc, js: js, pool: pool, st: store.New(pool), reg: reg, met: ingest.NewMetrics(reg)}
}

func (e *env) options() ingest.Options {
	return ingest.Options{
		Stream: subjects.StreamMessages, Durable: "persister-messages",
		BatchSize: 200, BatchWait: 20 * time.Millisecond, AckWait: time.Second,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	}
}

// run starts a messages consumer writing through write and returns its cancel function and
// a wait function that returns once the consumer stopped.
func (e *env) run(t *testing.T, write func(context.Context, []store.MessageRow) (store.WriteResult, error)) (cancel, wait func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := ingest.NewConsumer(e.js, e.options(),
		ingest.Handler[store.MessageRow]{Decode: ingest.DecodeMessage, Write: write}, e.met, testkit.Logger(t))
	e.consumer = c
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return cancel, wg.Wait
}

func message(conv string, i int) *fd.Message {
	return &fd.Message{
		Id: fmt.Sprintf("m_%s_%05d", conv, i), ClientId: fmt.Sprint("c", i), Tenant: "acme", Conv: conv,
		From: &fd.Participant{Id: "u1", Role: "customer"}, Kind: "text", Text: fmt.Sprint("hello ", i),
		CreatedAt: timestamppb.Now(),
	}
}

func (e *env) publish(t *testing.T, m *fd.Message, msgID string) {
	t.Helper()
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.Publish(context.Background(), subjects.Messages(m.Tenant, m.Conv), data, jetstream.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) publishMany(t *testing.T, conv string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		m := message(conv, i)
		data, _ := proto.Marshal(m)
		if _, err := e.js.PublishAsync(subjects.Messages("acme", conv), data, jetstream.WithMsgID(m.Id)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publish did not complete")
	}
}

func (e *env) count(t *testing.T) (rows, distinct int) {
	t.Helper()
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*), count(DISTINCT id) FROM messages").Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

// waitRows waits until the record holds want messages and the consumer has nothing
// unacknowledged, then checks nothing was written twice.
func (e *env) waitRows(t *testing.T, want int) {
	t.Helper()
	testkit.CheckFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		rows, _ := e.count(t)
		if rows != want {
			return fmt.Errorf("%d rows, want %d", rows, want)
		}
		info, err := e.js.Consumer(context.Background(), subjects.StreamMessages, "persister-messages")
		if err != nil {
			return err
		}
		ci, err := info.Info(context.Background())
		if err != nil {
			return err
		}
		if ci.NumAckPending != 0 || ci.NumPending != 0 {
			return fmt.Errorf("consumer has %d unacked, %d pending", ci.NumAckPending, ci.NumPending)
		}
		return nil
	})
	rows, distinct := e.count(t)
	if rows != want || distinct != want {
		t.Fatalf("%d rows, %d distinct ids; want %d", rows, distinct, want)
	}
}

func TestPublishedTwiceLandsOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.run(t, e.st.WriteMessages)
	m := message("c1", 1)
	// A client retry inside the dedup window (JetStream drops it), and the same message
	// published again under another Nats-Msg-Id (a second stream entry the persister drops).
	e.publish(t, m, "acme/u1/c1")
	e.publish(t, m, "acme/u1/c1")
	e.publish(t, m, "another-msg-id")
	e.publish(t, message("c1", 2), "acme/u1/c2")
	e.waitRows(t, 2)
	if got := testutil.ToFloat64(mustCounter(t, e.reg, "frontdesk_persister_rows_total", "duplicate")); got != 1 {
		t.Fatalf("duplicates counted = %v, want 1", got)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name, result string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("metric %s{result=%s} not found", name, result)
	return nil
}

func TestPoisonGoesToDeadLetters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.run(t, e.st.WriteMessages)
	ctx := context.Background()
	bad := []struct {
		name, subject string
		data          []byte
	}{
		{"not protobuf", subjects.Messages("acme", "c1"), []byte("not a protobuf \xff\xff")},
		{"no id", subjects.Messages("acme", "c1"), mustMarshal(t, &fd.Message{Tenant: "acme", Conv: "c1", Text: "x"})},
		{"tenant mismatch", subjects.Messages("acme", "c1"), mustMarshal(t, &fd.Message{Id: "m_x", Tenant: "evil", Conv: "c1"})},
	}
	e.publishMany(t, "c1", 0, 50)
	for i, b := range bad {
		if _, err := e.js.Publish(ctx, b.subject, b.data, jetstream.WithMsgID(fmt.Sprint("bad", i))); err != nil {
			t.Fatal(err)
		}
	}
	e.publishMany(t, "c1", 50, 100)
	e.waitRows(t, 100)

	// Every poison message is on the dead-letter subject, with its reason and raw data.
	dl, err := e.js.OrderedConsumer(ctx, subjects.StreamDeadLetters, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subjects.DeadLetters(ingest.ServiceName)},
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := dl.Fetch(len(bad), jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []*fd.DeadLetter
	for m := range batch.Messages() {
		var d fd.DeadLetter
		if err := proto.Unmarshal(m.Data(), &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, &d)
	}
	if len(got) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(got), len(bad))
	}
	// Workers write concurrently, so dead letters come in any order: match them by payload.
	byData := map[string]*fd.DeadLetter{}
	for _, d := range got {
		byData[string(d.Data)] = d
	}
	for _, b := range bad {
		d := byData[string(b.data)]
		if d == nil || d.Service != ingest.ServiceName || d.Stream != subjects.StreamMessages || d.Reason == "" ||
			d.Seq == 0 || d.Subject != b.subject {
			t.Fatalf("dead letter for %s = %v", b.name, d)
		}
	}
	mfs, _ := e.reg.Gather()
	var dead float64
	for _, mf := range mfs {
		if mf.GetName() == "frontdesk_persister_dead_letters_total" {
			for _, m := range mf.GetMetric() {
				dead += m.GetCounter().GetValue()
			}
		}
	}
	if dead != float64(len(bad)) {
		t.Fatalf("dead letters counted = %v", dead)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A persister killed in the middle of a batch (here: its context cancelled, so it never
// acks) leaves the batch to JetStream; a restarted persister writes it exactly once.
func TestKilledMidBatch(t *testing.T) {
	t.Parallel()
	errKilled := errors.New("killed")
	tests := []struct {
		name string
		// kill wraps the real write; it cancels the consumer and reports failure.
		kill func(ctx context.Context, cancel func(), st *store.Store, rows []store.MessageRow) (store.WriteResult, error)
	}{
		{"before commit", func(ctx context.Context, cancel func(), st *store.Store, rows []store.MessageRow) (store.WriteResult, error) {
			cancel()
			// The transaction runs on a dead context: it never commits.
			return st.WriteMessages(ctx, rows)
		}},
		{"after commit, before ack", func(ctx context.Context, cancel func(), st *store.Store, rows []store.MessageRow) (store.WriteResult, error) {
			if _, err := st.WriteMessages(ctx, rows); err != nil {
				return store.WriteResult{}, err
			}
			cancel()
			return store.WriteResult{}, errKilled
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			const n = 1000
			e.publishMany(t, "c1", 0, n)

			cancelFirst := make(chan func(), 1)
			var killed atomic.Bool
			var cancelled = make(chan struct{})
			cancel, wait := e.run(t, func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
				// Let a few batches through, then die on one.
				if r, _ := e.count(t); r < 300 || killed.Load() {
					if killed.Load() {
						return store.WriteResult{}, errKilled
					}
					return e.st.WriteMessages(ctx, rows)
				}
				killed.Store(true)
				defer close(cancelled)
				return tt.kill(ctx, <-cancelFirst, e.st, rows)
			})
			cancelFirst <- cancel
			select {
			case <-cancelled:
			case <-time.After(30 * time.Second):
				t.Fatal("never killed")
			}
			wait()
			before, _ := e.count(t)
			t.Logf("%d rows before the restart", before)
			if before >= n {
				t.Fatalf("all %d rows landed before the restart; the kill did not bite", before)
			}
			// Restart: the unacked batch comes back after AckWait.
			e.run(t, e.st.WriteMessages)
			e.waitRows(t, n)
		})
	}
}

// NATS restarts while the persister consumes: it reconnects, keeps consuming, and every
// message lands once.
func TestNATSRestart(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.run(t, e.st.WriteMessages)
	e.publishMany(t, "c1", 0, 500)
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if rows, _ := e.count(t); rows == 0 {
			return errors.New("nothing written yet")
		}
		return nil
	})
	e.srv.Restart(t)
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if !e.nc.IsConnected() {
			return errors.New("not reconnected")
		}
		return nil
	})
	e.publishMany(t, "c1", 500, 1000)
	e.waitRows(t, 1000)
}

// A database made by the first release (the original 0001 only, schema_migrations without
// checksums, e.g. an earlier `make run`'s .data) is upgraded by the current migrator, and
// then events (which need conversations.agent_seq, added by a later migration) are stored.
func TestUpgradedDatabaseIngestsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := testkit.RunNATS(t)
	_, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)

	migs, err := migrate.All()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, migs[0].SQL); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (1, $1)", migs[0].Name); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, pool, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
	var collation string
	if err := pool.QueryRow(ctx, `SELECT collation_name FROM information_schema.columns
		WHERE table_name = 'conversations' AND column_name = 'agent_id'`).Scan(&collation); err != nil || collation != "C" {
		t.Fatalf("conversations.agent_id collation after the upgrade = %q, %v", collation, err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	c := ingest.NewConsumer(js, ingest.Options{
		Stream: subjects.StreamEvents, Durable: "persister-events",
		BatchSize: 200, BatchWait: 20 * time.Millisecond, AckWait: time.Second,
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
	}, ingest.Handler[store.EventRow]{Decode: ingest.DecodeEvent, Write: store.New(pool).WriteEvents},
		ingest.NewMetrics(prometheus.NewRegistry()), testkit.Logger(t))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.Run(runCtx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	t0 := time.Now()
	for i, e := range []struct{ typ, state, agent string }{
		{"assigned", "assigned", "agentA"},
		{"transferred", "assigned", "agentB"},
		{"closed", "closed", ""},
	} {
		ev := &fd.ConversationEvent{
			Id: fmt.Sprint("ev", i), Tenant: "acme", Conv: "c1", Type: e.typ, State: e.state,
			Customer: &fd.Participant{Id: "cust", Role: "customer"}, At: timestamppb.New(t0.Add(time.Duration(i) * time.Second)),
		}
		if e.agent != "" {
			ev.Agent = &fd.Participant{Id: e.agent, Role: "agent"}
		}
		data, err := proto.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, subjects.Events("acme", "c1"), data, jetstream.WithMsgID(ev.Id)); err != nil {
			t.Fatal(err)
		}
	}
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		var state, agent string
		var agentSeq int64
		err := pool.QueryRow(ctx, "SELECT state, agent_id, agent_seq FROM conversations WHERE tenant = 'acme' AND id = 'c1'").
			Scan(&state, &agent, &agentSeq)
		if err != nil {
			return err
		}
		if state != "closed" || agent != "agentB" || agentSeq == 0 {
			return fmt.Errorf("conversation: state %q, agent %q, agent_seq %d", state, agent, agentSeq)
		}
		return nil
	})
}
