package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
)

// AgentStatusRow is one agent status event (frontdesk.v1.AgentStatusEvent) to store.
type AgentStatusRow struct {
	Tenant, ID, Agent, Status string
	Load, Capacity            int32
	At                        time.Time
}

const insertAgentStatusSQL = `INSERT INTO agent_status (tenant, id, agent, status, load, capacity, at)
VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant, id) DO NOTHING`

// WriteAgentStatus stores agent status events in one transaction; an event already stored
// (same tenant and id: a replay, a redelivery) is a duplicate and changes nothing.
func (s *Store) WriteAgentStatus(ctx context.Context, rows []AgentStatusRow) (WriteResult, error) {
	tenants := map[string]bool{}
	for _, r := range rows {
		tenants[r.Tenant] = true
	}
	return s.insertRows(ctx, "agent status events", len(rows), tenants, func(b *pgx.Batch) { // notes.go
		for _, r := range rows {
			b.Queue(insertAgentStatusSQL, r.Tenant, r.ID, r.Agent, r.Status, r.Load, r.Capacity, r.At)
		}
	})
}

// OccupancyLookBack is how far before a report's range its agents' states are read: the
// dispatcher restates every connected agent at least hourly (AgentStatusEvent), so an agent
// connected at the range's start has an event within it. It also bounds the span of an event
// without a successor (a dispatcher that died before restating): such a span counts at most
// this long.
const OccupancyLookBack = 2 * time.Hour

// reportOccupancySQL sums, per agent, the seconds of the range each status event covers (from
// its time to the agent's next event, cut to the range, to now and to the look-back): time
// available, time away, and the time integrals of load and capacity while connected. One range
// of the index agent_status_at. $1 tenant, $2 from, $3 to, $4 agent filter, $5 look-back,
// $6 now.
const reportOccupancySQL = `WITH ev AS (
	SELECT agent, status, load, capacity, at, lead(at) OVER (PARTITION BY agent ORDER BY at, id) AS next_at
	FROM agent_status
	WHERE tenant = $1 AND at >= $2::timestamptz - $5::interval AND at < $3 AND ($4 = '' OR agent = $4)
), spans AS (
	SELECT agent, status, load, capacity,
		extract(epoch FROM least(coalesce(next_at, $6::timestamptz), $3::timestamptz, $6::timestamptz, at + $5::interval)
			- greatest(at, $2::timestamptz))::float8 AS s
	FROM ev
)
SELECT agent,
	coalesce(sum(s) FILTER (WHERE status = 'available'), 0),
	coalesce(sum(s) FILTER (WHERE status = 'away'), 0),
	coalesce(sum(s * load) FILTER (WHERE status <> 'offline'), 0),
	coalesce(sum(s * capacity) FILTER (WHERE status <> 'offline'), 0)
FROM spans WHERE s > 0
GROUP BY agent`

// reportOccupancyHourlySQL sums the roll-up (agent_status_hourly, migration 0241) of the
// hours from $2 to $3 (both on the hour, and $3 not past now): one range of its primary key.
// $1 tenant, $4 agent filter.
const reportOccupancyHourlySQL = `SELECT agent, sum(available_s), sum(away_s), sum(load_s), sum(capacity_s)
FROM agent_status_hourly
WHERE tenant = $1 AND hour >= $2 AND hour < $3 AND ($4 = '' OR agent = $4)
GROUP BY agent`

// occSums are an agent's sums over a range: seconds available and away, and the time
// integrals of load and capacity while connected.
type occSums struct{ avail, away, load, capacity float64 }

// occupancyParts splits a report's range for addOccupancy: the whole hours that ended by now,
// which the roll-up holds (hours, empty when there are none), and the parts before and after
// them, which are read from the events (edges: a part of an hour at either end, the hour
// holding now, anything after now).
func occupancyParts(from, to, now time.Time) (hours [2]time.Time, edges [][2]time.Time) {
	h1 := from.Truncate(time.Hour)
	if h1.Before(from) {
		h1 = h1.Add(time.Hour)
	}
	h2 := minTime(to, now).Truncate(time.Hour)
	if !h1.Before(h2) {
		return hours, [][2]time.Time{{from, to}}
	}
	hours = [2]time.Time{h1, h2}
	for _, e := range [][2]time.Time{{from, h1}, {h2, to}} {
		if e[0].Before(e[1]) {
			edges = append(edges, e)
		}
	}
	return hours, edges
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// occupancy sums, per agent, their time of the query's range: whole hours that ended from the
// roll-up, the rest from the events. The two add up to the events' query over the whole range
// (TestReportOccupancy): an hour that ended is the same whether the spans in it are cut at now
// or not, and the events query of a part cuts spans to it.
func (s *Store) occupancy(ctx context.Context, q reports.Query, now time.Time) (map[string]*occSums, []string, error) {
	out := map[string]*occSums{}
	var order []string
	read := func(sql string, args ...any) error {
		rows, err := s.pool.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		var agent string
		var v occSums
		_, err = pgx.ForEachRow(rows, []any{&agent, &v.avail, &v.away, &v.load, &v.capacity}, func() error {
			sum := out[agent]
			if sum == nil {
				sum = &occSums{}
				out[agent] = sum
				order = append(order, agent)
			}
			sum.avail += v.avail
			sum.away += v.away
			sum.load += v.load
			sum.capacity += v.capacity
			return nil
		})
		return err
	}
	hours, edges := occupancyParts(q.From, q.To, now)
	if hours[0].Before(hours[1]) {
		if err := read(reportOccupancyHourlySQL, q.Tenant, hours[0], hours[1], q.Agent); err != nil {
			return nil, nil, fmt.Errorf("occupancy by hour: %w", err)
		}
	}
	for _, e := range edges {
		if err := read(reportOccupancySQL, q.Tenant, e[0], e[1], q.Agent, OccupancyLookBack, now); err != nil {
			return nil, nil, fmt.Errorf("occupancy: %w", err)
		}
	}
	return out, order, nil
}

// addOccupancy adds the agents' time available and away and their occupancy to a report's
// agents and total, whatever the queue and label filters (agents serve every queue). An agent
// with time but no conversation of the range gets a row of its own.
func (s *Store) addOccupancy(ctx context.Context, q reports.Query, now time.Time, out *fd.ReportReply) error {
	sums, order, err := s.occupancy(ctx, q, now)
	if err != nil {
		return err
	}
	byAgent := map[string]*fd.ReportFigures{}
	for _, f := range out.GetAgents() {
		byAgent[f.GetKey()] = f
	}
	var totalLoad, totalCap float64
	for _, agent := range order {
		v := sums[agent]
		f := byAgent[agent]
		if f == nil {
			f = emptyFigures(agent)
			byAgent[agent] = f
			out.Agents = append(out.Agents, f)
		}
		f.AvailableS, f.AwayS, f.Occupancy = v.avail, v.away, ratio(v.load, v.capacity)
		if t := out.GetTotal(); t != nil {
			t.AvailableS += v.avail
			t.AwayS += v.away
		}
		totalLoad += v.load
		totalCap += v.capacity
	}
	if t := out.GetTotal(); t != nil {
		t.Occupancy = ratio(totalLoad, totalCap)
	}
	return nil
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// emptyFigures is the row of an agent the report's conversations do not name.
func emptyFigures(key string) *fd.ReportFigures {
	return &fd.ReportFigures{Key: key, CsatScores: make([]int64, 5), FirstResponse: &fd.DurationStats{},
		FirstBotResponse: &fd.DurationStats{}, QueueWait: &fd.DurationStats{}, Resolution: &fd.DurationStats{},
		LeftAnswer: &fd.DurationStats{}, HandoffResponse: &fd.DurationStats{}}
}

// ExpireAgentStatus deletes up to limit of tenant's agent status events stated before cutoff,
// and up to limit of their hours rolled up (agent_status_hourly) that ended by cutoff, and
// returns how many rows went: agents' time follows the tenant's retention like the
// conversations (in both modes: the events name agents, not customers, and hold nothing to
// blank).
func (s *Store) ExpireAgentStatus(ctx context.Context, tenant string, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM agent_status WHERE (tenant, id) IN (
			SELECT tenant, id FROM agent_status WHERE tenant = $1 AND at < $2
			ORDER BY at LIMIT $3 FOR UPDATE SKIP LOCKED)`, tenant, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("agent status retention of %s: %w", tenant, err)
	}
	hours, err := s.pool.Exec(ctx, `DELETE FROM agent_status_hourly WHERE (tenant, hour, agent) IN (
			SELECT tenant, hour, agent FROM agent_status_hourly WHERE tenant = $1 AND hour <= $2::timestamptz - interval '1 hour'
			ORDER BY hour LIMIT $3 FOR UPDATE SKIP LOCKED)`, tenant, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("agent hours retention of %s: %w", tenant, err)
	}
	return tag.RowsAffected() + hours.RowsAffected(), nil
}
