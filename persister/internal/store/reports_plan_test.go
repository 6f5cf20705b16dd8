package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/frontdesk-chat/frontdesk/proto/frames"

	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
)

// seedReportFacts fills report_conversations with n conversations of tenant spread evenly
// over 2026 (a busy tenant: a million a year is about two a minute, day and night), with
// varied queues, agents, handoffs and durations, and analyzes the table.
func seedReportFacts(ctx context.Context, t testing.TB, pool *pgxpool.Pool, tenant string, n int) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO report_conversations (tenant, conv, opened_at, customer_id, queue, agent_id, handoff_reason,
			handed_off_at, assigned_at, transfers, queue_wait_s, closed_at, abandoned, left_at, left_answered_at,
			reopened, messages, first_customer_at, first_bot_at, first_agent_at)
		SELECT $1, 'c' || i, o, 'u' || (i % 300000),
			CASE WHEN h THEN 'q' || (i / 7 % 5) ELSE '' END,
			CASE WHEN h THEN 'a' || (i / 3 % 60) ELSE '' END,
			CASE WHEN h THEN (ARRAY['customer', 'phrase', 'tool', 'bot_failures', 'model_down'])[1 + i / 11 % 5] END,
			CASE WHEN h THEN o + interval '40 s' END,
			CASE WHEN h AND i % 13 <> 0 THEN o + (40 + i % 300) * interval '1 s' END,
			(h AND i % 17 = 0)::int,
			CASE WHEN h THEN (i % 300)::float8 END,
			CASE WHEN i % 9 <> 0 THEN o + (600 + i % 3600) * interval '1 s' END,
			h AND i % 13 = 0,
			CASE WHEN h AND i % 50 = 0 THEN o END,
			CASE WHEN h AND i % 100 = 0 THEN o + interval '2 hours' END,
			i % 23 = 0, 3 + i % 12,
			o, o + (1 + i % 9) * interval '1 s',
			CASE WHEN h AND i % 13 <> 0 THEN o + (60 + i % 900) * interval '1 s' END
		FROM generate_series(1, $2::int) i,
			LATERAL (SELECT timestamptz '2026-01-01 00:00:00+00' + i * (interval '365 days' / $2::int) AS o,
				i % 5 < 2 AS h) x`,
	} {
		if _, err := pool.Exec(ctx, q, tenant, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `ANALYZE report_conversations`); err != nil {
		t.Fatal(err)
	}
}

func yearQuery(tenant string, from, to time.Time) reports.Query {
	return reports.Query{Tenant: tenant, From: from, To: to, Zone: "Europe/Paris", Bucket: frames.ReportBucketDay}
}

// The report queries read a range of report_conversations_opened, never the table, when the
// range is a small part of it: a month of a busy tenant with a million conversations a year,
// a year of a small tenant next to it, and either filtered by agent or queue. (A whole year
// of the busy tenant is nearly the whole table: there the planner rightly reads it in order,
// and BenchmarkReport measures it.)
func TestReportUsesOpenedIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("a million rows")
	}
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	seedReportFacts(ctx, t, pool, "busy", 1_000_000)
	seedReportFacts(ctx, t, pool, "small", 20_000)
	year := [2]time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	march := [2]time.Time{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	tests := []struct {
		name         string
		tenant       string
		rng          [2]time.Time
		queue, agent string
	}{
		{"busy tenant, one month", "busy", march, "", ""},
		{"busy tenant, one month, one agent", "busy", march, "", "a7"},
		{"busy tenant, one month, one queue", "busy", march, "q2", ""},
		{"small tenant, one year", "small", year, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := yearQuery(tt.tenant, tt.rng[0], tt.rng[1])
			plan := explain(ctx, t, pool, reportRowsSQL, q.Tenant, q.From, q.To, tt.queue, tt.agent)
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "report_conversations_opened") {
				t.Fatalf("plan does not range-scan report_conversations_opened:\n%s", plan)
			}
		})
	}
}

// BenchmarkReport measures a whole report (both queries and the reply) over a busy tenant's
// year of a million conversations and over one month of it.
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	pool := MigratedPool(b)
	seedReportFacts(ctx, b, pool, "busy", 1_000_000)
	if _, err := pool.Exec(ctx, `VACUUM report_conversations`); err != nil {
		b.Fatal(err)
	}
	st := New(pool)
	for _, bc := range []struct {
		name     string
		from, to time.Time
	}{
		{"year", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"month", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := yearQuery("busy", bc.from, bc.to)
			for b.Loop() {
				rep, err := st.Report(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				if rep.GetTotal().GetOpened() == 0 {
					b.Fatal("empty report")
				}
			}
		})
	}
}
