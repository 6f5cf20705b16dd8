package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/config"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func testConfig(natsURL, dbURL string) app.Config {
	cfg := app.DefaultConfig()
	cfg.NATS.URL = natsURL
	cfg.NATS.ReconnectWait = 50 * time.Millisecond
	cfg.Database.URL = dbURL
	cfg.Ops.Addr = "127.0.0.1:0"
	cfg.Shutdown.Timeout = 10 * time.Second
	cfg.Persister.BatchSize = 500
	cfg.Persister.AckWait = 2 * time.Second
	cfg.Persister.RetryMin = 20 * time.Millisecond
	cfg.Persister.RetryMax = 300 * time.Millisecond
	return cfg
}

// start runs a persister until the test ends and returns it once it is ready.
func start(t *testing.T, cfg app.Config) *app.Service {
	t.Helper()
	svc := launch(t, cfg)
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error { return ready(svc) })
	return svc
}

// launch runs a persister until the test ends without waiting for it to be ready.
func launch(t *testing.T, cfg app.Config) *app.Service {
	return launchLogged(t, cfg, testkit.Logger(t))
}

// launchLogged is launch with the service logging to log.
func launchLogged(t *testing.T, cfg app.Config, log *zap.Logger) *app.Service {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := app.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return svc
}

func ready(svc *app.Service) error {
	resp, err := http.Get("http://" + svc.Addr() + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("readyz %d", resp.StatusCode)
	}
	return nil
}

func natsEnv(t *testing.T) (string, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	kv, err := js.KeyValue(context.Background(), subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), "acme", []byte(`{"id":"acme","name":"Acme"}`)); err != nil {
		t.Fatal(err)
	}
	return srv.URL(), nc, js
}

func publishMessages(ctx context.Context, js jetstream.JetStream, conv string, from, to int) error {
	for i := from; i < to; i++ {
		m := &fd.Message{
			Id: fmt.Sprintf("m_%s_%05d", conv, i), Tenant: "acme", Conv: conv,
			From: &fd.Participant{Id: "cust", Role: "customer"}, Kind: "text",
			Text: fmt.Sprint("message number ", i), CreatedAt: timestamppb.Now(),
		}
		data, err := proto.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := js.PublishAsync(subjects.Messages("acme", conv), data, jetstream.WithMsgID(m.Id)); err != nil {
			return err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func countRows(ctx context.Context, pool *pgxpool.Pool) (rows, distinct int, err error) {
	err = pool.QueryRow(ctx, "SELECT count(*), count(DISTINCT id) FROM messages").Scan(&rows, &distinct)
	return rows, distinct, err
}

func waitExactly(t *testing.T, pool *pgxpool.Pool, js jetstream.JetStream, want int) {
	t.Helper()
	ctx := context.Background()
	testkit.CheckFor(t, 90*time.Second, 100*time.Millisecond, func() error {
		rows, distinct, err := countRows(ctx, pool)
		if err != nil {
			return err
		}
		if rows != want || distinct != want {
			return fmt.Errorf("%d rows (%d distinct), want %d", rows, distinct, want)
		}
		return consumerDrained(ctx, js, subjects.StreamMessages, app.DurableMessages)
	})
}

// Postgres is stopped while 10,000 messages flow and started again: /readyz reports the
// outage, and afterwards every message is in the record exactly once.
func TestPostgresStoppedDuringRun(t *testing.T) {
	t.Parallel()
	pg := testkit.StoppablePostgres(t)
	dbURL := pg.CreateDatabase(t, "frontdesk")
	natsURL, _, js := natsEnv(t)
	svc := start(t, testConfig(natsURL, dbURL))
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	const total = 10000
	pubDone := make(chan error, 1)
	go func() {
		// A steady flow, so the outage hits a run in progress.
		for i := 0; i < total; i += 250 {
			if err := publishMessages(ctx, js, "c1", i, i+250); err != nil {
				pubDone <- err
				return
			}
			time.Sleep(10 * time.Millisecond) // pacing the flow, not a wait for a condition
		}
		pubDone <- nil
	}()
	testkit.CheckFor(t, 30*time.Second, 5*time.Millisecond, func() error {
		rows, _, err := countRows(ctx, pool)
		if err != nil {
			return err
		}
		if rows < 1500 {
			return fmt.Errorf("%d rows", rows)
		}
		t.Logf("stopping postgres at %d rows", rows)
		return nil
	})
	pool.Reset()
	pg.Stop(t)
	t.Log("postgres stopped")
	testkit.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
		if ready(svc) == nil {
			return errors.New("still ready with postgres down")
		}
		return nil
	})
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	// Keep the outage going past AckWait (retries back off to 300ms), so the held batch must
	// be kept alive with in-progress acks rather than be redelivered.
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if n := writeErrors(t, svc); n < 12 {
			return fmt.Errorf("%v failed write attempts", n)
		}
		return nil
	})
	pg.Start(t)
	t.Log("postgres started")
	waitExactly(t, pool, js, total)
	testkit.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error { return ready(svc) })
}

func writeErrors(t *testing.T, svc *app.Service) float64 {
	t.Helper()
	mfs, err := svc.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "frontdesk_persister_write_errors_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// A persister started while Postgres is down waits (not ready), then migrates and ingests
// once Postgres is up.
func TestStartsWithPostgresDown(t *testing.T) {
	t.Parallel()
	pg := testkit.StoppablePostgres(t)
	dbURL := pg.CreateDatabase(t, "frontdesk")
	pg.Stop(t)
	natsURL, _, js := natsEnv(t)
	ctx := context.Background()
	if err := publishMessages(ctx, js, "c1", 0, 500); err != nil {
		t.Fatal(err)
	}
	svc := launch(t, testConfig(natsURL, dbURL))
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		// The ops server answers, and says why it is not ready.
		if err := ready(svc); err == nil || !strings.Contains(err.Error(), "503") {
			return fmt.Errorf("readyz: %v", err)
		}
		return nil
	})
	pg.Start(t)
	testkit.CheckFor(t, 30*time.Second, 20*time.Millisecond, func() error { return ready(svc) })
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	waitExactly(t, pool, js, 500)
}

// Two persisters start at once on an empty database: both come up, the schema is applied
// once, and they share the stream (each message lands once).
func TestTwoPersistersOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, _, js := natsEnv(t)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start(t, testConfig(natsURL, dbURL))
		}()
	}
	wg.Wait()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	migs, _ := migrate.All()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(migs) {
		t.Fatalf("schema_migrations rows = %d (%v), want %d", n, err, len(migs))
	}
	if err := publishMessages(ctx, js, "c1", 0, 3000); err != nil {
		t.Fatal(err)
	}
	waitExactly(t, pool, js, 3000)
}

func request[Rep proto.Message](t *testing.T, nc *nats.Conn, subject string, req proto.Message, rep Rep) Rep {
	t.Helper()
	return testkit.Request(t, nc, subject, req, rep, 5*time.Second)
}

func TestQueriesOverNATS(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, nc, js := natsEnv(t)
	start(t, testConfig(natsURL, dbURL))
	ctx := context.Background()

	at := timestamppb.New(time.Now().Add(-time.Minute))
	for _, ev := range []*fd.ConversationEvent{
		{Id: "e1", Tenant: "acme", Conv: "c1", Type: "opened", State: "bot", At: at,
			Customer: &fd.Participant{Id: "cust", Role: "customer", Name: "Ann"}},
		{Id: "e2", Tenant: "acme", Conv: "c1", Type: "assigned", State: "assigned", At: at,
			Customer: &fd.Participant{Id: "cust", Role: "customer"}, Agent: &fd.Participant{Id: "ag", Role: "agent", Name: "Bob"}},
	} {
		data, _ := proto.Marshal(ev)
		if _, err := js.Publish(ctx, subjects.Events("acme", "c1"), data, jetstream.WithMsgID(ev.Id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := publishMessages(ctx, js, "c1", 0, 30); err != nil {
		t.Fatal(err)
	}
	// The agent read up to the 10th message (stream seq 10).
	rp, _ := proto.Marshal(&fd.ReadPosition{Tenant: "acme", Conv: "c1", User: &fd.Participant{Id: "ag"}, Seq: 10, At: at})
	if _, err := js.Publish(ctx, subjects.Reads("acme", "c1", "ag"), rp); err != nil {
		t.Fatal(err)
	}

	// The agent's read position alone gives the unread count: wait for the assignment too (the
	// events' batches may commit after the messages' and the reads').
	testkit.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		rep := request(t, nc, subjects.UnreadQuery("acme"), &fd.UnreadRequest{Tenant: "acme", User: "ag"}, &fd.UnreadReply{})
		if rep.Error != "" || rep.Unread["c1"] != 20 {
			return fmt.Errorf("unread = %v %q", rep.Unread, rep.Error)
		}
		convs := request(t, nc, subjects.ConversationsQuery("acme"), &fd.ConversationsRequest{User: "cust"}, &fd.ConversationsReply{})
		if len(convs.Conversations) != 1 || convs.Conversations[0].State != "assigned" {
			return fmt.Errorf("conversations = %v", convs)
		}
		return nil
	})
	hist := request(t, nc, subjects.HistoryQuery("acme"), &fd.HistoryRequest{Tenant: "acme", Conv: "c1", Limit: 10}, &fd.HistoryReply{})
	if hist.Error != "" || len(hist.Messages) != 10 || !hist.More || hist.Messages[0].Seq != 21 || hist.Messages[9].Seq != 30 {
		t.Fatalf("history = %v", hist)
	}
	older := request(t, nc, subjects.HistoryQuery("acme"), &fd.HistoryRequest{Conv: "c1", Before: 21, Limit: 50}, &fd.HistoryReply{})
	if len(older.Messages) != 20 || older.More || older.Messages[0].Message.Text != "message number 0" {
		t.Fatalf("older page = %v", older)
	}
	convs := request(t, nc, subjects.ConversationsQuery("acme"), &fd.ConversationsRequest{User: "cust"}, &fd.ConversationsReply{})
	if convs.Error != "" || len(convs.Conversations) != 1 || convs.Conversations[0].State != "assigned" ||
		convs.Conversations[0].MessageCount != 30 || convs.Conversations[0].Agent.GetName() != "Bob" {
		t.Fatalf("conversations = %v", convs)
	}
	search := request(t, nc, subjects.SearchQuery("acme"), &fd.SearchRequest{Query: "number 7"}, &fd.SearchReply{})
	if search.Error != "" || len(search.Hits) != 1 || search.Hits[0].Seq != 8 {
		t.Fatalf("search = %v", search)
	}

	tests := []struct {
		name, subject string
		req           proto.Message
		want          string
	}{
		{"unknown tenant", subjects.HistoryQuery("nobody"), &fd.HistoryRequest{Conv: "c1"}, "unknown tenant"},
		{"tenant mismatch", subjects.HistoryQuery("acme"), &fd.HistoryRequest{Tenant: "other", Conv: "c1"}, "request tenant does not match the subject"},
		{"bad conversation id", subjects.HistoryQuery("acme"), &fd.HistoryRequest{Conv: "c1.>"}, "bad request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := request(t, nc, tt.subject, tt.req, &fd.HistoryReply{})
			if len(rep.Messages) != 0 || len(rep.Error) < len(tt.want) || rep.Error[:len(tt.want)] != tt.want {
				t.Fatalf("reply = %v, want error %q", rep, tt.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantKey string
	}{
		{"defaults need a database", nil, "database.url"},
		{"ok", map[string]string{"FRONTDESK_DATABASE_URL": "postgres://x@localhost/db"}, ""},
		{"bad batch size", map[string]string{"FRONTDESK_DATABASE_URL": "postgres://x@localhost/db", "FRONTDESK_PERSISTER_BATCH_SIZE": "0"}, "persister.batch_size"},
		{"ack wait too short", map[string]string{"FRONTDESK_DATABASE_URL": "postgres://x@localhost/db", "FRONTDESK_PERSISTER_ACK_WAIT": "10ms"}, "persister.ack_wait"},
		{"batch wait set", map[string]string{"FRONTDESK_DATABASE_URL": "postgres://x@localhost/db", "FRONTDESK_PERSISTER_BATCH_WAIT": "5ms"}, ""},
		{"negative batch wait", map[string]string{"FRONTDESK_DATABASE_URL": "postgres://x@localhost/db", "FRONTDESK_PERSISTER_BATCH_WAIT": "-1ms"}, "persister.batch_wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := app.DefaultConfig()
			err := config.Load("", func(k string) string { return tt.env[k] }, &cfg)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *config.FieldError
			if !errors.As(err, &fe) || fe.Key != tt.wantKey {
				t.Fatalf("err = %v, want a FieldError on %s", err, tt.wantKey)
			}
		})
	}
}

// A database whose applied migration no longer matches the embedded file (the file was
// edited after release) stops the persister at start, naming the file, instead of retrying.
func TestEditedMigrationFailsStart(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, _, _ := natsEnv(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrate.Apply(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "UPDATE schema_migrations SET checksum = 'not-the-file' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	svc, err := app.New(runCtx, testConfig(natsURL, dbURL), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Run(runCtx)
	if runCtx.Err() != nil || !errors.Is(err, migrate.ErrChanged) || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("run = %v (context %v), want ErrChanged naming 0001_init.sql", err, runCtx.Err())
	}
}

// consumerDrained fails while the durable consumer has messages pending or unacknowledged.
func consumerDrained(ctx context.Context, js jetstream.JetStream, stream, durable string) error {
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return err
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if ci.NumAckPending != 0 || ci.NumPending != 0 {
		return fmt.Errorf("%s: %d unacked, %d pending", durable, ci.NumAckPending, ci.NumPending)
	}
	return nil
}
