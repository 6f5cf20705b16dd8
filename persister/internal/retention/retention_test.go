package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/retention"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// settings is a fixed tenant view (the service uses the chassis' live tenants.Store).
type settings map[string]*fd.Tenant

func (s settings) Get(id string) (*fd.Tenant, bool) { t, ok := s[id]; return t, ok }

// tenantsUnderTest covers every retention setting: "deleter" and "anonymizer" keep 7 days in
// their modes, "keeper" 30, "unconfigured" has no settings at all.
var tenantsUnderTest = []string{"deleter", "anonymizer", "keeper", "unconfigured"}

// retentionSettings are the settings of tenantsUnderTest.
var retentionSettings = settings{
	"deleter":    {Id: "deleter", Retention: &fd.Retention{Days: 7, Mode: "delete"}},
	"anonymizer": {Id: "anonymizer", Retention: &fd.Retention{Days: 7, Mode: "anonymize"}},
	"keeper":     {Id: "keeper", Retention: &fd.Retention{Days: 30}},
}

// migratedStore is a store over a fresh, migrated test database; the pool closes with the test.
func migratedStore(ctx context.Context, t *testing.T) (*pgxpool.Pool, *store.Store) {
	t.Helper()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Apply(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	return pool, store.New(pool)
}

// eachAgedRow calls row perTenant times for each of tenantsUnderTest, with sequences from 1 up:
// the first row of a tenant is from now, the others ten days old (past 7 days, within 30).
func eachAgedRow(perTenant int, row func(seq int64, tenant string, at time.Time)) {
	old := time.Now().Add(-10 * 24 * time.Hour)
	seq := int64(0)
	for _, tenant := range tenantsUnderTest {
		for i := range perTenant {
			seq++
			at := old
			if i == 0 {
				at = time.Now()
			}
			row(seq, tenant, at)
		}
	}
}

func TestRunOncePerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st := migratedStore(ctx, t)
	var rows []store.MessageRow
	eachAgedRow(35, func(seq int64, tenant string, at time.Time) {
		rows = append(rows, store.MessageRow{Seq: seq, Msg: &fd.Message{
			Id: fmt.Sprint("m", seq), Tenant: tenant, Conv: "c1", Text: "private words",
			From: &fd.Participant{Id: "u", Role: "customer", Name: "Ann"}, CreatedAt: timestamppb.New(at),
		}})
	})
	if _, err := st.WriteMessages(ctx, rows); err != nil {
		t.Fatal(err)
	}
	r := retention.New(st, retentionSettings, retention.Options{BatchSize: 10, MaxBatches: 2}, nil, testkit.Logger(t))

	// Bounded: 2 batches of 10 per tenant per run, so 34 old messages need two runs.
	got, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got["deleter"] != 20 || got["anonymizer"] != 20 || got["keeper"] != 0 || got["unconfigured"] != 0 {
		t.Fatalf("first run = %v", got)
	}
	if got, err = r.RunOnce(ctx); err != nil || got["deleter"] != 14 || got["anonymizer"] != 14 {
		t.Fatalf("second run = %v, %v", got, err)
	}
	tests := []struct {
		tenant         string
		rows, readable int
	}{
		{"deleter", 1, 1},
		{"anonymizer", 35, 1},
		{"keeper", 35, 35},
		{"unconfigured", 35, 35},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			var n, readable int
			if err := pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE text <> '' AND sender_name <> '')
				FROM messages WHERE tenant = $1`, tt.tenant).Scan(&n, &readable); err != nil {
				t.Fatal(err)
			}
			if n != tt.rows || readable != tt.readable {
				t.Fatalf("%d rows, %d readable; want %d, %d", n, readable, tt.rows, tt.readable)
			}
		})
	}
	var mode string
	var days int
	if err := pool.QueryRow(ctx, "SELECT retention_mode, retention_days FROM tenants WHERE id = 'anonymizer'").Scan(&mode, &days); err != nil || mode != "anonymize" || days != 7 {
		t.Fatalf("tenant row = %s %d %v", mode, days, err)
	}
}
