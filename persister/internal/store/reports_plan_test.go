package store

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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
		label        string
	}{
		{"busy tenant, one month", "busy", march, "", "", ""},
		{"busy tenant, one month, one agent", "busy", march, "", "a7", ""},
		{"busy tenant, one month, one queue", "busy", march, "q2", "", ""},
		{"busy tenant, one month, one label", "busy", march, "", "", "vip"},
		{"small tenant, one year", "small", year, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := yearQuery(tt.tenant, tt.rng[0], tt.rng[1])
			plan := explain(ctx, t, pool, reportRowsSQL, q.Tenant, q.From, q.To, tt.queue, tt.agent, tt.label)
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "report_conversations_opened") {
				t.Fatalf("plan does not range-scan report_conversations_opened:\n%s", plan)
			}
		})
	}

	// The agents' time of the same reports, over the busy tenant's year of a million status
	// events: the whole hours from one range of the roll-up's key, whatever the agent, and the
	// parts of hours at the ends (a half hour in Asia/Kolkata) from one range of agent_status's
	// indexes, never a whole history. (A year of the only tenant with agents is the whole
	// roll-up: there a sequential scan is the right plan, and it takes 0.3-0.5 s.)
	seedAgentStatus(ctx, t, pool, "busy", 1_000_000)
	now := year[1].Add(time.Hour)
	for _, tt := range []struct {
		name  string
		rng   [2]time.Time
		agent string
	}{
		{"one month", march, ""}, {"one month, one agent", march, "a7"},
		{"one week", [2]time.Time{march[0], march[0].AddDate(0, 0, 7)}, ""},
	} {
		t.Run("occupancy, "+tt.name, func(t *testing.T) {
			plan := explain(ctx, t, pool, reportOccupancyHourlySQL, "busy", tt.rng[0], tt.rng[1], tt.agent)
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "agent_status_hourly_pkey") {
				t.Fatalf("plan does not range-scan agent_status_hourly_pkey:\n%s", plan)
			}
			edge := tt.rng[0].Add(-30 * time.Minute)
			plan = explain(ctx, t, pool, reportOccupancySQL, "busy", edge, tt.rng[0], tt.agent, OccupancyLookBack, now)
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "agent_status_a") {
				t.Fatalf("plan of an edge does not range-scan agent_status's indexes:\n%s", plan)
			}
		})
	}
}

// BenchmarkReport measures a whole report (its queries, the agents' occupancy and the reply)
// over a busy tenant's year of a million conversations and a million agent status events, and
// over one month of it.
func BenchmarkReport(b *testing.B) {
	ctx := context.Background()
	pool := MigratedPool(b)
	seedReportFacts(ctx, b, pool, "busy", 1_000_000)
	// and its agents' year of status events: the report's time available, away and occupancy.
	seedAgentStatus(ctx, b, pool, "busy", 1_000_000)
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

// The statements that keep the facts with every batch read only the batch's conversations
// through indexes, under the custom plans of the first executions and under the generic plan
// Postgres may switch a prepared statement to: the events of a conversation (events_conv), a
// customer's other conversations (report_conversations_customer), a conversation's messages
// (messages_pkey, never the tenant's whole messages_created range).
func TestReportFactStatementsUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	for _, q := range []string{
		`INSERT INTO report_conversations (tenant, conv, opened_at, customer_id, closed_at, left_at)
			SELECT 'acme', 'c' || i, now() - i * interval '1 minute', 'u' || (i % 20000), now() - i * interval '1 minute' + interval '5 minutes',
				CASE WHEN i % 10 = 0 THEN now() - i * interval '1 minute' END
			FROM generate_series(1, 50000) i`,
		`INSERT INTO events (id, tenant, conv, seq, type, state, at)
			SELECT 'e' || i, 'acme', 'c' || (i / 5), i, 'queued', 'queued', now() - i * interval '1 second' FROM generate_series(5, 250004) i`,
		`INSERT INTO messages (tenant, conv, seq, id, sender_id, sender_role, created_at)
			SELECT 'acme', 'c' || (s / 5), s, 'm' || s, 'a', CASE WHEN s % 2 = 0 THEN 'agent' ELSE 'customer' END, now() - s * interval '1 second'
			FROM generate_series(5, 250004) s`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tenants, convs := make([]string, 100), make([]string, 100)
	for i := range convs {
		tenants[i], convs[i] = "acme", "c"+strconv.Itoa(i*97+10)
	}
	tests := []struct {
		name string
		sql  string
		args []any
		want []string
	}{
		{"events of the batch's conversations", factEventsSQL, []any{tenants, convs}, []string{"events_conv"}},
		{"earlier conversations reopened", reopenEarlierSQL, []any{tenants, convs}, []string{"report_conversations_customer"}},
		{"own reopened mark", reopenSelfSQL, []any{tenants, convs}, []string{"report_conversations_customer"}},
		{"left messages answered", leftAnsweredSQL, []any{tenants, convs, true}, []string{"messages_pkey"}},
	}
	for _, mode := range []string{"auto", "force_generic_plan"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				conn, err := pool.Acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Release()
				if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
					t.Fatal(err)
				}
				defer conn.Exec(ctx, "RESET plan_cache_mode")
				rows, err := conn.Query(ctx, "EXPLAIN "+tt.sql, tt.args...)
				if err != nil {
					t.Fatal(err)
				}
				lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					t.Fatal(err)
				}
				plan := strings.Join(lines, "\n")
				if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "messages_created") {
					t.Fatalf("plan scans a table or the tenant's messages:\n%s", plan)
				}
				for _, idx := range tt.want {
					if !strings.Contains(plan, idx) {
						t.Fatalf("plan does not use %s:\n%s", idx, plan)
					}
				}
			})
		}
	}
}
