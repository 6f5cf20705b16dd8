package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
)

// factEventsSQL reads every stored event of the conversations given as arrays, in stream
// order, for reports.Fold.
const factEventsSQL = `SELECT e.tenant, e.conv, e.seq, e.type, e.state, e.reason, e.queue, e.customer_id, e.agent_id, e.at
FROM unnest($1::text[], $2::text[]) AS b(tenant, conv)
JOIN events e ON e.tenant = b.tenant AND e.conv = b.conv
ORDER BY e.tenant, e.conv, e.seq`

// upsertFactsSQL replaces the event columns of report facts given as arrays (the message
// columns and reopened are left alone). Rows are locked in (tenant, conv) order.
const upsertFactsSQL = `INSERT INTO report_conversations AS r (tenant, conv, opened_at, customer_id, queue, agent_id,
	handoff_reason, handed_off_at, assigned_at, transfers, queue_wait_s, closed_at, abandoned, left_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
	$7::text[], $8::timestamptz[], $9::timestamptz[], $10::integer[], $11::float8[], $12::timestamptz[], $13::boolean[], $14::timestamptz[])
ORDER BY 1, 2
ON CONFLICT (tenant, conv) DO UPDATE SET
	opened_at = EXCLUDED.opened_at, customer_id = EXCLUDED.customer_id, queue = EXCLUDED.queue,
	agent_id = EXCLUDED.agent_id, handoff_reason = EXCLUDED.handoff_reason, handed_off_at = EXCLUDED.handed_off_at,
	assigned_at = EXCLUDED.assigned_at, transfers = EXCLUDED.transfers, queue_wait_s = EXCLUDED.queue_wait_s,
	closed_at = EXCLUDED.closed_at, abandoned = EXCLUDED.abandoned, left_at = EXCLUDED.left_at`

// Conversations never reopen in place (a closed conversation stays closed; the customer's
// next message opens a new one), so a conversation counts as reopened when its customer
// opened another within reopenWindow of its close.
const reopenWindow = `interval '24 hours'`

// reopenEarlierSQL marks the earlier conversations that the conversations given as arrays
// reopened.
const reopenEarlierSQL = `UPDATE report_conversations r SET reopened = true
FROM unnest($1::text[], $2::text[]) AS b(tenant, conv)
JOIN report_conversations n ON n.tenant = b.tenant AND n.conv = b.conv
WHERE n.customer_id <> '' AND r.tenant = n.tenant AND r.customer_id = n.customer_id AND r.opened_at < n.opened_at
	AND r.closed_at IS NOT NULL AND n.opened_at > r.closed_at AND n.opened_at <= r.closed_at + ` + reopenWindow + `
	AND NOT r.reopened`

// reopenSelfSQL sets reopened on the closed conversations given as arrays whose customer's
// next conversation the record already holds.
const reopenSelfSQL = `UPDATE report_conversations r SET reopened = EXISTS (
	SELECT 1 FROM report_conversations n
	WHERE n.tenant = r.tenant AND n.customer_id = r.customer_id AND n.opened_at > r.closed_at
		AND n.opened_at <= r.closed_at + ` + reopenWindow + `)
FROM unnest($1::text[], $2::text[]) AS b(tenant, conv)
WHERE r.tenant = b.tenant AND r.conv = b.conv AND r.customer_id <> '' AND r.closed_at IS NOT NULL`

// refreshFacts recomputes the report facts of the conversations that just got new events,
// from all their stored events, in the transaction that stored them.
func refreshFacts(ctx context.Context, tx pgx.Tx, changed convList) error {
	if len(changed.tenants) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, factEventsSQL, changed.tenants, changed.convs)
	if err != nil {
		return fmt.Errorf("read events for report facts: %w", err)
	}
	type key struct{ tenant, conv string }
	var order []key
	events := map[key][]reports.Event{}
	var k key
	var ev reports.Event
	_, err = pgx.ForEachRow(rows, []any{&k.tenant, &k.conv, &ev.Seq, &ev.Type, &ev.State, &ev.Reason, &ev.Queue, &ev.CustomerID, &ev.AgentID, &ev.At}, func() error {
		if _, ok := events[k]; !ok {
			order = append(order, k)
		}
		events[k] = append(events[k], ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read events for report facts: %w", err)
	}
	n := len(order)
	var (
		tenants, convs, customers, queues, agents = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		opened, handedAt, assigned, closed, left  = make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		reasons                                   = make([]*string, n)
		transfers                                 = make([]int32, n)
		waits                                     = make([]*float64, n)
		abandoned                                 = make([]bool, n)
	)
	for i, k := range order {
		f := reports.Fold(events[k])
		tenants[i], convs[i], customers[i], queues[i], agents[i] = k.tenant, k.conv, f.CustomerID, f.Queue, f.AgentID
		opened[i], handedAt[i], assigned[i], closed[i], left[i] = f.OpenedAt, f.HandoffAt, f.AssignedAt, f.ClosedAt, f.LeftAt
		reasons[i], transfers[i], waits[i], abandoned[i] = f.Handoff, f.Transfers, f.QueueWaitS, f.Abandoned
	}
	b := &pgx.Batch{}
	b.Queue(upsertFactsSQL, tenants, convs, opened, customers, queues, agents, reasons, handedAt, assigned,
		transfers, waits, closed, abandoned, left)
	// After the upsert locked the rows: these statements see what a concurrent message batch
	// committed for them.
	b.Queue(leftAnsweredSQL, tenants, convs, true)
	b.Queue(reopenEarlierSQL, tenants, convs)
	b.Queue(reopenSelfSQL, tenants, convs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write report facts: %w", err)
	}
	return nil
}

// reportTotalsSQL computes the figures of the whole range, per last agent, per queue and per
// series bucket in one scan of report_conversations_opened's range. Durations are exact
// continuous percentiles (percentile_cont) over the conversations that have them.
const reportTotalsSQL = `WITH f AS (
	SELECT agent_id, queue, handoff_reason, assigned_at, transfers, abandoned, closed_at, reopened, messages,
		left_at, left_answered_at,
		date_trunc($6, opened_at AT TIME ZONE $7) AS bucket,
		CASE WHEN first_agent_at >= first_customer_at THEN extract(epoch FROM first_agent_at - first_customer_at) END AS first_response,
		CASE WHEN first_bot_at >= first_customer_at THEN extract(epoch FROM first_bot_at - first_customer_at) END AS first_bot,
		queue_wait_s,
		extract(epoch FROM closed_at - opened_at) AS resolution,
		extract(epoch FROM left_answered_at - left_at) AS left_answer
	FROM report_conversations
	WHERE tenant = $1 AND opened_at >= $2 AND opened_at < $3 AND ($4 = '' OR queue = $4) AND ($5 = '' OR agent_id = $5)
)
SELECT GROUPING(agent_id, queue, bucket), coalesce(agent_id, ''), coalesce(queue, ''), bucket,
	count(*), count(*) FILTER (WHERE handoff_reason IS NULL), count(*) FILTER (WHERE handoff_reason IS NOT NULL),
	count(*) FILTER (WHERE assigned_at IS NOT NULL), count(*) FILTER (WHERE transfers > 0),
	count(*) FILTER (WHERE abandoned), count(*) FILTER (WHERE closed_at IS NOT NULL), count(*) FILTER (WHERE reopened),
	coalesce(sum(messages), 0), count(left_at), count(left_answered_at),
	count(first_response), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_response), avg(first_response),
	count(first_bot), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY first_bot), avg(first_bot),
	count(queue_wait_s), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY queue_wait_s), avg(queue_wait_s),
	count(resolution), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY resolution), avg(resolution),
	count(left_answer), percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY left_answer), avg(left_answer)
FROM f
GROUP BY GROUPING SETS ((), (agent_id), (queue), (bucket))`

// reportCountsSQL counts the same conversations by handoff reason and by local weekday
// (ISO: 1 is Monday) and hour, for the heat map.
const reportCountsSQL = `WITH f AS (
	SELECT handoff_reason, opened_at AT TIME ZONE $6 AS local
	FROM report_conversations
	WHERE tenant = $1 AND opened_at >= $2 AND opened_at < $3 AND ($4 = '' OR queue = $4) AND ($5 = '' OR agent_id = $5)
)
SELECT GROUPING(handoff_reason), coalesce(handoff_reason, ''),
	coalesce(extract(isodow FROM local)::int, 0), coalesce(extract(hour FROM local)::int, 0), count(*)
FROM f
GROUP BY GROUPING SETS ((handoff_reason), (extract(isodow FROM local), extract(hour FROM local)))`

// Report computes a tenant's figures (q is checked by reports.Resolve).
func (s *Store) Report(ctx context.Context, q reports.Query) (*fd.ReportReply, error) {
	out := &fd.ReportReply{Total: &fd.ReportFigures{}, TimeZone: q.Zone, HandoffReasons: map[string]int64{},
		Heatmap: make([]int64, 7*24)}
	rows, err := s.pool.Query(ctx, reportTotalsSQL, q.Tenant, q.From, q.To, q.Queue, q.Agent, q.Bucket, q.Zone)
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
	}
	var (
		grouping     int
		agent, queue string
		bucket       *time.Time
		f            fd.ReportFigures
		durs         [5]fd.DurationStats
		pcts         [5][]*float64
		means        [5]*float64
		layout       = "2006-01-02"
	)
	if q.Bucket == frames.ReportBucketHour {
		layout = "2006-01-02T15"
	}
	dest := []any{&grouping, &agent, &queue, &bucket,
		&f.Opened, &f.BotOnly, &f.HandedOff, &f.Assigned, &f.Transferred, &f.Abandoned, &f.Closed, &f.Reopened,
		&f.Messages, &f.LeftMessages, &f.LeftAnswered}
	for i := range durs {
		dest = append(dest, &durs[i].Count, &pcts[i], &means[i])
	}
	_, err = pgx.ForEachRow(rows, dest, func() error {
		fig := &fd.ReportFigures{Opened: f.Opened, BotOnly: f.BotOnly, HandedOff: f.HandedOff, Assigned: f.Assigned,
			Transferred: f.Transferred, Abandoned: f.Abandoned, Closed: f.Closed, Reopened: f.Reopened,
			Messages: f.Messages, LeftMessages: f.LeftMessages, LeftAnswered: f.LeftAnswered}
		stats := make([]*fd.DurationStats, len(durs))
		for i := range durs {
			d := &fd.DurationStats{Count: durs[i].Count}
			if len(pcts[i]) == 2 && pcts[i][0] != nil && pcts[i][1] != nil {
				d.MedianS, d.P90S = *pcts[i][0], *pcts[i][1]
			}
			if means[i] != nil {
				d.MeanS = *means[i]
			}
			stats[i] = d
		}
		fig.FirstResponse, fig.FirstBotResponse, fig.QueueWait, fig.Resolution, fig.LeftAnswer = stats[0], stats[1], stats[2], stats[3], stats[4]
		reports.Rates(fig)
		// GROUPING's bits are (agent_id, queue, bucket): 0 for a column the row groups by.
		switch grouping {
		case 0b111:
			out.Total = fig
		case 0b011:
			fig.Key = agent
			if agent != "" {
				out.Agents = append(out.Agents, fig)
			}
		case 0b101:
			fig.Key = queue
			if queue != "" {
				out.Queues = append(out.Queues, fig)
			}
		case 0b110:
			if bucket != nil {
				fig.Key = bucket.Format(layout)
				out.Series = append(out.Series, fig)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
	}
	busiest := func(a, b *fd.ReportFigures) int {
		return cmp.Or(cmp.Compare(b.GetOpened(), a.GetOpened()), strings.Compare(a.GetKey(), b.GetKey()))
	}
	slices.SortFunc(out.Agents, busiest)
	slices.SortFunc(out.Queues, busiest)
	slices.SortFunc(out.Series, func(a, b *fd.ReportFigures) int { return strings.Compare(a.GetKey(), b.GetKey()) })

	rows, err = s.pool.Query(ctx, reportCountsSQL, q.Tenant, q.From, q.To, q.Queue, q.Agent, q.Zone)
	if err != nil {
		return nil, fmt.Errorf("report counts of %s: %w", q.Tenant, err)
	}
	var reason string
	var dow, hour int
	var count int64
	_, err = pgx.ForEachRow(rows, []any{&grouping, &reason, &dow, &hour, &count}, func() error {
		switch {
		case grouping == 0 && reason != "":
			out.HandoffReasons[reason] = count
		case grouping == 1 && dow >= 1 && dow <= 7 && hour >= 0 && hour < 24:
			out.Heatmap[(dow-1)*24+hour] = count
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("report counts of %s: %w", q.Tenant, err)
	}
	return out, nil
}
