package store

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

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
}

// TestReportOccupancyUsesItsIndex: a report's occupancy reads one range of agent_status_at,
// not a tenant's whole history (here 200,000 events of 25 agents over 100 days).
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
	if _, err := pool.Exec(ctx, `ANALYZE agent_status`); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := from.AddDate(1, 0, 0)
	for _, agent := range []string{"", "a7"} {
		plan := explain(ctx, t, pool, reportOccupancySQL, "busy", from, from.AddDate(0, 0, 7), agent, OccupancyLookBack, now)
		if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "agent_status_at") {
			t.Fatalf("agent %q: plan does not range-scan agent_status_at:\n%s", agent, plan)
		}
	}
}

// BenchmarkReportOccupancy measures the occupancy query alone over a busy tenant's year of
// agents' status events: 1,000,000 events of 60 agents spread over 2026 (a load change about
// every half minute across the desk, restatements among them), and over one month of it.
func BenchmarkReportOccupancy(b *testing.B) {
	ctx := context.Background()
	pool := MigratedPool(b)
	if _, err := pool.Exec(ctx, `INSERT INTO agent_status (tenant, id, agent, status, load, capacity, at)
		SELECT 'busy', 'e' || i, 'a' || (i % 60), CASE WHEN i % 7 = 0 THEN 'away' WHEN i % 11 = 0 THEN 'offline' ELSE 'available' END,
			i % 4, 3, timestamptz '2026-01-01' + i * interval '31.5 seconds'
		FROM generate_series(1, 1000000) AS i`); err != nil {
		b.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE agent_status`); err != nil {
		b.Fatal(err)
	}
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
