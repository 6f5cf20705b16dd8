package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestReportOffersUseTheirIndex: the offers of a month are read from the partial index of
// offer events, not from a tenant's whole event history (here 200,000 events, 1 in 20 an offer).
func TestReportOffersUseTheirIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 rows")
	}
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO events (id, tenant, conv, seq, type, agent_id, queue, at)
		SELECT 'e' || i, 'busy', 'c' || (i / 10), i,
			CASE WHEN i % 40 = 0 THEN 'offer_declined' WHEN i % 40 = 1 THEN 'offer_missed' ELSE 'assigned' END,
			'a' || (i % 25), 'q' || (i % 3), timestamptz '2026-01-01' + i * interval '150 seconds'
		FROM generate_series(1, 200000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	for _, filter := range [][2]string{{"", ""}, {"q1", ""}, {"", "a7"}} {
		plan := explain(ctx, t, pool, reportOffersSQL, "busy", from, to, filter[0], filter[1])
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "events_offers") {
			t.Fatalf("filter %v: plan does not range-scan events_offers:\n%s", filter, plan)
		}
	}
}
