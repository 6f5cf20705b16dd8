package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
)

// occupancyDay is a known day of agents' status events. The report's range is 09:00 to 17:00.
func occupancyDay() []AgentStatusRow {
	at := func(hm string) time.Time {
		t, err := time.Parse("2006-01-02 15:04", "2026-03-02 "+hm)
		if err != nil {
			panic(err)
		}
		return t
	}
	ev := func(tenant, agent, hm, status string, load, capacity int32) AgentStatusRow {
		return AgentStatusRow{Tenant: tenant, ID: tenant + "." + agent + "." + hm, Agent: agent, Status: status,
			Load: load, Capacity: capacity, At: at(hm)}
	}
	return []AgentStatusRow{
		// a1: available before the range (read back), takes one, goes away, leaves, comes back
		// full and is never restated (its last span counts up to the range's end).
		ev("occ", "a1", "08:00", "available", 0, 2),
		ev("occ", "a1", "10:00", "available", 1, 2),
		ev("occ", "a1", "11:00", "away", 1, 2),
		ev("occ", "a1", "12:00", "offline", 0, 2),
		ev("occ", "a1", "16:00", "available", 2, 2),
		// a2: a restatement of the same state changes nothing.
		ev("occ", "a2", "08:30", "available", 1, 1),
		ev("occ", "a2", "09:30", "available", 1, 1),
		ev("occ", "a2", "10:30", "away", 0, 1),
		ev("occ", "a2", "10:45", "offline", 0, 1),
		// Past the range, and another tenant's agent.
		ev("occ", "a4", "17:30", "available", 1, 1),
		ev("other", "a3", "09:00", "available", 1, 1),
	}
}

type occFigures struct {
	avail, away, occ float64
}

func occupancyOf(t *testing.T, s *Store, agent string) map[string]occFigures {
	t.Helper()
	from := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r, err := s.Report(context.Background(), reports.Query{Tenant: "occ", From: from, To: from.Add(8 * time.Hour), Zone: "UTC",
		Agent: agent, Bucket: "day"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]occFigures{}
	round := func(f float64) float64 { return math.Round(f*1e6) / 1e6 }
	for _, f := range append([]*fd.ReportFigures{r.GetTotal()}, r.GetAgents()...) {
		key := f.GetKey()
		if f == r.GetTotal() {
			key = "total"
		}
		out[key] = occFigures{round(f.GetAvailableS()), round(f.GetAwayS()), round(f.GetOccupancy())}
	}
	return out
}

// TestReportOccupancy: the known day's figures, computed by hand: a1 available 3 h (09-11 but
// away 11-12, 16-17), away 1 h, occupancy (0·1 h + 1·1 h + 1·1 h + 2·1 h) / (2·4 h) = 0.5; a2
// available 1.5 h, away 15 min, occupancy 1.5 h / 1.75 h. Replaying every event, reversed and
// one by one, changes nothing; the agent filter keeps one agent.
func TestReportOccupancy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New(MigratedPool(t))
	day := occupancyDay()
	res, err := s.WriteAgentStatus(ctx, day)
	if err != nil || res.Inserted != int64(len(day)) {
		t.Fatalf("write: %+v %v", res, err)
	}
	want := map[string]occFigures{
		"total": {16200, 4500, math.Round(19800.0/35100*1e6) / 1e6},
		"a1":    {10800, 3600, 0.5},
		"a2":    {5400, 900, math.Round(5400.0/6300*1e6) / 1e6},
	}
	got := occupancyOf(t, s, "")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("figures\n got %v\nwant %v", got, want)
	}

	rev := slices.Clone(day)
	slices.Reverse(rev)
	if res, err := s.WriteAgentStatus(ctx, rev); err != nil || res.Inserted != 0 || res.Duplicates != int64(len(day)) {
		t.Fatalf("replay: %+v %v", res, err)
	}
	for _, r := range day {
		if _, err := s.WriteAgentStatus(ctx, []AgentStatusRow{r}); err != nil {
			t.Fatal(err)
		}
	}
	if again := occupancyOf(t, s, ""); fmt.Sprint(again) != fmt.Sprint(want) {
		t.Fatalf("replay changed the figures\n got %v\nwant %v", again, want)
	}

	a2 := occupancyOf(t, s, "a2")
	if want := (occFigures{5400, 900, want["a2"].occ}); a2["a2"] != want || a2["total"] != want || len(a2) != 2 {
		t.Fatalf("agent filter: %v", a2)
	}

	// The same day read through the hourly roll-up and the events in other shapes of range,
	// computed by hand too: a range on the half hour (a zone such as Asia/Kolkata), whose
	// half hours at either end come from the events and the hours between from the roll-up;
	// and a report made at 13:20, whose hour from 13:00 comes from the events cut at now (a1's
	// 16:00 event, stored ahead of now, counts nothing yet). Each also equals the events
	// query over the whole range.
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	r6 := func(f float64) float64 { return math.Round(f*1e6) / 1e6 }
	for _, tt := range []struct {
		name          string
		from, to, now time.Time
		agent         string
		want          map[string]occFigures
	}{
		{name: "09:30 to 16:30", from: at(9, 30), to: at(16, 30), now: at(20, 0), want: map[string]occFigures{
			// a1: available 09:30-11:00 and 16:00-16:30, away 11-12; load 0·0.5 + 1·1 + 1·1 + 2·0.5 = 3 h of 2·3 h.
			// a2: available 09:30-10:30, away 10:30-10:45; load 1 h of 1.25 h.
			"total": {10800, 4500, r6(4 / 7.25)}, "a1": {7200, 3600, 0.5}, "a2": {3600, 900, 0.8}}},
		{name: "09:00 to 17:00 at 13:20", from: at(9, 0), to: at(17, 0), now: at(13, 20), want: map[string]occFigures{
			// a1: available 09-11, away 11-12, offline 12-13:20; load 0 + 1 + 1 = 2 h of 2·3 h.
			"total": {12600, 4500, r6(3.5 / 7.75)}, "a1": {7200, 3600, r6(1.0 / 3)}, "a2": {5400, 900, r6(1.5 / 1.75)}}},
		{name: "one agent, 09:30 to 16:30", from: at(9, 30), to: at(16, 30), now: at(20, 0), agent: "a2", want: map[string]occFigures{
			"total": {3600, 900, 0.8}, "a2": {3600, 900, 0.8}}},
		{name: "within an hour", from: at(10, 10), to: at(10, 50), now: at(20, 0), want: map[string]occFigures{
			// a1 available (load 1 of 2); a2 available to 10:30 (1 of 1), away 10:30-10:45 (0 of 1).
			"total": {3600, 900, r6((2400.0 + 1200) / (4800 + 1200 + 900))}, "a1": {2400, 0, 0.5}, "a2": {1200, 900, r6(1200.0 / 2100)}}},
	} {
		q := reports.Query{Tenant: "occ", From: tt.from, To: tt.to, Agent: tt.agent}
		got := occupancyAt(t, s, q, tt.now)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s\n got %v\nwant %v", tt.name, got, tt.want)
		}
		if events := occupancyFromEvents(t, s, q, tt.now); fmt.Sprint(events) != fmt.Sprint(tt.want) {
			t.Errorf("%s: the events alone give %v", tt.name, events)
		}
	}

	// The roll-up does not depend on the order or the batching of the writes: the day written
	// again for another tenant one event at a time, newest first, rolls up to the same hours.
	for i := len(day) - 1; i >= 0; i-- {
		r := day[i]
		r.Tenant = "occ-" + r.Tenant
		if _, err := s.WriteAgentStatus(ctx, []AgentStatusRow{r}); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := hourlyRows(t, s, "occ"), hourlyRows(t, s, "occ-occ"); len(a) == 0 || !slices.Equal(a, b) {
		t.Fatalf("roll-up in order %v\nin reverse, one by one %v", a, b)
	}
}

// occupancyAt is addOccupancy's figures for q made at now, rounded as occupancyOf's.
func occupancyAt(t *testing.T, s *Store, q reports.Query, now time.Time) map[string]occFigures {
	t.Helper()
	out := &fd.ReportReply{Total: &fd.ReportFigures{}}
	if err := s.addOccupancy(context.Background(), q, now, out); err != nil {
		t.Fatal(err)
	}
	return roundedOccupancy(out)
}

// occupancyFromEvents is what the events query alone gives over the whole of q's range.
func occupancyFromEvents(t *testing.T, s *Store, q reports.Query, now time.Time) map[string]occFigures {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), reportOccupancySQL, q.Tenant, q.From, q.To, q.Agent, OccupancyLookBack, now)
	if err != nil {
		t.Fatal(err)
	}
	out := &fd.ReportReply{Total: &fd.ReportFigures{}}
	var agent string
	var v occSums
	var load, capacity float64
	if _, err := pgx.ForEachRow(rows, []any{&agent, &v.avail, &v.away, &v.load, &v.capacity}, func() error {
		out.Agents = append(out.Agents, &fd.ReportFigures{Key: agent, AvailableS: v.avail, AwayS: v.away, Occupancy: ratio(v.load, v.capacity)})
		out.Total.AvailableS += v.avail
		out.Total.AwayS += v.away
		load += v.load
		capacity += v.capacity
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	out.Total.Occupancy = ratio(load, capacity)
	return roundedOccupancy(out)
}

func roundedOccupancy(r *fd.ReportReply) map[string]occFigures {
	out := map[string]occFigures{}
	round := func(f float64) float64 { return math.Round(f*1e6) / 1e6 }
	for _, f := range append([]*fd.ReportFigures{r.GetTotal()}, r.GetAgents()...) {
		key := f.GetKey()
		if f == r.GetTotal() {
			key = "total"
		}
		out[key] = occFigures{round(f.GetAvailableS()), round(f.GetAwayS()), round(f.GetOccupancy())}
	}
	return out
}

// hourlyRows lists a tenant's rolled-up hours.
func hourlyRows(t *testing.T, s *Store, tenant string) []string {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), `SELECT hour, agent, available_s, away_s, load_s, capacity_s
		FROM agent_status_hourly WHERE tenant = $1 ORDER BY hour, agent`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var hour time.Time
	var agent string
	var a, b, c, d float64
	if _, err := pgx.ForEachRow(rows, []any{&hour, &agent, &a, &b, &c, &d}, func() error {
		out = append(out, fmt.Sprint(hour.UTC().Format(time.TimeOnly), agent, a, b, c, d))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOccupancyParts: a range is read from the roll-up for its whole hours that ended, and
// from the events for the rest.
func TestOccupancyParts(t *testing.T) {
	t.Parallel()
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	later := at(23, 0)
	tests := []struct {
		name          string
		from, to, now time.Time
		hours         [2]time.Time
		edges         [][2]time.Time
	}{
		{"whole hours", at(9, 0), at(17, 0), later, [2]time.Time{at(9, 0), at(17, 0)}, nil},
		{"half hours at both ends", at(9, 30), at(16, 30), later, [2]time.Time{at(10, 0), at(16, 0)},
			[][2]time.Time{{at(9, 30), at(10, 0)}, {at(16, 0), at(16, 30)}}},
		{"now within the range", at(9, 0), at(17, 0), at(13, 20), [2]time.Time{at(9, 0), at(13, 0)},
			[][2]time.Time{{at(13, 0), at(17, 0)}}},
		{"within one hour", at(10, 10), at(10, 50), later, [2]time.Time{}, [][2]time.Time{{at(10, 10), at(10, 50)}}},
		{"no whole hour ended yet", at(10, 10), at(12, 0), at(10, 50), [2]time.Time{}, [][2]time.Time{{at(10, 10), at(12, 0)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hours, edges := occupancyParts(tt.from, tt.to, tt.now)
			if hours != tt.hours || fmt.Sprint(edges) != fmt.Sprint(tt.edges) {
				t.Fatalf("hours %v edges %v, want %v %v", hours, edges, tt.hours, tt.edges)
			}
		})
	}
}

// TestReportOccupancyUsesItsIndex: a report's occupancy reads one range of agent_status_at
// (or agent_status_agent_at for one agent) and one of the roll-up's key, not a tenant's whole
// history (here 200,000 events of 25 agents over 100 days).
func TestReportOccupancyUsesItsIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 rows")
	}
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO agent_status (tenant, id, agent, status, load, capacity, at)
		SELECT 'busy', 'e' || i, 'a' || (i % 25), CASE WHEN i % 3 = 0 THEN 'away' ELSE 'available' END, i % 4, 3,
			timestamptz '2026-01-01' + i * interval '43 seconds'
		FROM generate_series(1, 200000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE agent_status, agent_status_hourly`); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := from.AddDate(1, 0, 0)
	for _, agent := range []string{"", "a7"} {
		plan := explain(ctx, t, pool, reportOccupancySQL, "busy", from, from.AddDate(0, 0, 7), agent, OccupancyLookBack, now)
		// agent_status_at, or for one agent agent_status_agent_at (migration 0241).
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "agent_status_a") {
			t.Fatalf("agent %q: plan does not range-scan agent_status_at:\n%s", agent, plan)
		}
		// The whole hours come from the roll-up: one range of its key.
		plan = explain(ctx, t, pool, reportOccupancyHourlySQL, "busy", from, from.AddDate(0, 0, 7), agent)
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "agent_status_hourly_pkey") {
			t.Fatalf("agent %q: plan does not range-scan agent_status_hourly_pkey:\n%s", agent, plan)
		}
	}
}

// seedAgentStatus stores n status events of 60 agents of tenant spread over 2026 (a load
// change about every half minute across the desk, restatements among them: a busy tenant's
// year at a million), rolled up by the trigger as the persister's writes are, and analyzed.
func seedAgentStatus(ctx context.Context, tb testing.TB, pool *pgxpool.Pool, tenant string, n int) {
	tb.Helper()
	if _, err := pool.Exec(ctx, `INSERT INTO agent_status (tenant, id, agent, status, load, capacity, at)
		SELECT $1, 'e' || i, 'a' || (i % 60), CASE WHEN i % 7 = 0 THEN 'away' WHEN i % 11 = 0 THEN 'offline' ELSE 'available' END,
			i % 4, 3, timestamptz '2026-01-01' + i * (31536000.0 / $2) * interval '1 second'
		FROM generate_series(1, $2::int) AS i`, tenant, n); err != nil {
		tb.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE agent_status, agent_status_hourly`); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkReportOccupancy measures the occupancy part alone over a busy tenant's year of
// agents' status events (seedAgentStatus, a million), and over one month of it.
func BenchmarkReportOccupancy(b *testing.B) {
	ctx := context.Background()
	pool := MigratedPool(b)
	seedAgentStatus(ctx, b, pool, "busy", 1_000_000)
	st := New(pool)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name     string
		from, to time.Time
	}{
		{"year", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), now},
		{"month", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			q := reports.Query{Tenant: "busy", From: bc.from, To: bc.to}
			for b.Loop() {
				out := &fd.ReportReply{Total: &fd.ReportFigures{}}
				if err := st.addOccupancy(ctx, q, now, out); err != nil {
					b.Fatal(err)
				}
				if len(out.GetAgents()) != 60 || out.GetTotal().GetAvailableS() == 0 {
					b.Fatalf("%d agents, %v s available", len(out.GetAgents()), out.GetTotal().GetAvailableS())
				}
			}
		})
	}
}
