package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/retention"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// Agents' status events follow the tenant's retention, in either mode, in batches: past it
// they are deleted; a tenant without retention, or not configured, keeps them.
func TestAgentStatusRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrate.Apply(ctx, pool, nil); err != nil {
		t.Fatal(err)
	}
	st := store.New(pool)
	old := time.Now().Add(-10 * 24 * time.Hour)
	var rows []store.AgentStatusRow
	tenants := []string{"deleter", "anonymizer", "keeper", "unconfigured"}
	for _, tenant := range tenants {
		for i := range 25 {
			at := old.Add(time.Duration(i) * time.Minute)
			if i == 0 {
				at = time.Now()
			}
			rows = append(rows, store.AgentStatusRow{Tenant: tenant, ID: fmt.Sprint("e", i), Agent: "a1", Status: "available",
				Load: 1, Capacity: 2, At: at})
		}
	}
	if _, err := st.WriteAgentStatus(ctx, rows); err != nil {
		t.Fatal(err)
	}
	r := retention.New(st, settings{
		"deleter":    {Id: "deleter", Retention: &fd.Retention{Days: 7, Mode: "delete"}},
		"anonymizer": {Id: "anonymizer", Retention: &fd.Retention{Days: 7, Mode: "anonymize"}},
		"keeper":     {Id: "keeper", Retention: &fd.Retention{Days: 30}},
	}, retention.Options{BatchSize: 10, MaxBatches: 3}, nil, testkit.Logger(t))
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"deleter": 1, "anonymizer": 1, "keeper": 25, "unconfigured": 25}
	for _, tenant := range tenants {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM agent_status WHERE tenant = $1`, tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want[tenant] {
			t.Errorf("%s keeps %d agent status events, want %d", tenant, n, want[tenant])
		}
	}
}
