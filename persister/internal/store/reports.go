package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
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
const factEventsSQL = `SELECT e.tenant, e.conv, e.seq, e.type, e.state, e.reason, e.queue, e.customer_id, e.agent_id, e.at,
	coalesce(e.score, 0), coalesce(e.labels, '{}')
FROM unnest($1::text[], $2::text[]) AS b(tenant, conv)
JOIN events e ON e.tenant = b.tenant AND e.conv = b.conv
ORDER BY e.tenant, e.conv, e.seq`

// upsertFactsSQL replaces the event columns of report facts given as arrays (the message
// columns and reopened are left alone). Rows are locked in (tenant, conv) order.
// Labels travel as one string per row joined by labelSep (unnest flattens an array of
// arrays); none is NULL.
const upsertFactsSQL = `INSERT INTO report_conversations AS r (tenant, conv, opened_at, customer_id, queue, agent_id,
	handoff_reason, handed_off_at, assigned_at, transfers, queue_wait_s, closed_at, abandoned, left_at,
	sla_first_response_breached, sla_resolution_breached, csat, labels)
SELECT tenant, conv, opened_at, customer_id, queue, agent_id, handoff_reason, handed_off_at, assigned_at, transfers,
	queue_wait_s, closed_at, abandoned, left_at, sla_first, sla_resolution, csat,
	CASE WHEN labels <> '' THEN string_to_array(labels, E'\x1f') END
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
	$7::text[], $8::timestamptz[], $9::timestamptz[], $10::integer[], $11::float8[], $12::timestamptz[], $13::boolean[], $14::timestamptz[],
	$15::boolean[], $16::boolean[], $17::smallint[], $18::text[])
	AS f(tenant, conv, opened_at, customer_id, queue, agent_id, handoff_reason, handed_off_at, assigned_at, transfers,
		queue_wait_s, closed_at, abandoned, left_at, sla_first, sla_resolution, csat, labels)
ORDER BY 1, 2
ON CONFLICT (tenant, conv) DO UPDATE SET
	opened_at = EXCLUDED.opened_at, customer_id = EXCLUDED.customer_id, queue = EXCLUDED.queue,
	agent_id = EXCLUDED.agent_id, handoff_reason = EXCLUDED.handoff_reason, handed_off_at = EXCLUDED.handed_off_at,
	assigned_at = EXCLUDED.assigned_at, transfers = EXCLUDED.transfers, queue_wait_s = EXCLUDED.queue_wait_s,
	closed_at = EXCLUDED.closed_at, abandoned = EXCLUDED.abandoned, left_at = EXCLUDED.left_at,
	sla_first_response_breached = EXCLUDED.sla_first_response_breached,
	sla_resolution_breached = EXCLUDED.sla_resolution_breached, csat = EXCLUDED.csat, labels = EXCLUDED.labels`

// labelSep joins a conversation's labels in upsertFactsSQL's parameter; labels are printable
// names, without control characters.
const labelSep = "\x1f"

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

// lockTenantFactsSQL takes a tenant's report-facts lock for the rest of the transaction: shared
// by message batches, exclusive for event batches. Both kinds of batch lock a tenant's report
// rows and its participant rows, in different orders (a message batch updates the facts as it
// inserts, then records participants; an event batch records participants, then recomputes the
// facts and marks reopened conversations of other rows), which deadlocked under load. With the
// lock an event batch never holds those rows while a message batch of the same tenant does;
// message batches still run side by side.
const (
	lockTenantFactsSharedSQL    = `SELECT pg_advisory_xact_lock_shared(hashtextextended('fd-report-facts/' || $1, 0))`
	lockTenantFactsExclusiveSQL = `SELECT pg_advisory_xact_lock(hashtextextended('fd-report-facts/' || $1, 0))`
)

// queueTenantLocks adds to b the facts lock of each tenant, in sorted order, as lockTenantFacts
// takes them, and returns how many statements it added.
func queueTenantLocks(b *pgx.Batch, tenants []string, exclusive bool) int {
	slices.Sort(tenants)
	tenants = slices.Compact(tenants)
	q := lockTenantFactsSharedSQL
	if exclusive {
		q = lockTenantFactsExclusiveSQL
	}
	for _, t := range tenants {
		b.Queue(q, t)
	}
	return len(tenants)
}

// lockTenantFacts takes the facts lock of each tenant, in sorted order (so two batches of
// several tenants cannot wait on each other).
func lockTenantFacts(ctx context.Context, tx pgx.Tx, tenants []string, exclusive bool) error {
	slices.Sort(tenants)
	tenants = slices.Compact(tenants)
	q := lockTenantFactsSharedSQL
	if exclusive {
		q = lockTenantFactsExclusiveSQL
	}
	for _, t := range tenants {
		if _, err := tx.Exec(ctx, q, t); err != nil {
			return fmt.Errorf("lock report facts of %s: %w", t, err)
		}
	}
	return nil
}

// factMarks says which of a batch's conversations had an event that can change facts
// depending on other rows: an opening (earlier conversations of the customer may be
// reopened), a close (its own reopened mark), a left message (when it was answered).
type factMarks map[userKey]uint8

const (
	markOpened uint8 = 1 << iota
	markClosed
	markLeft
)

func (m factMarks) note(k userKey, ev *fd.ConversationEvent) {
	switch {
	case ev.GetType() == frames.EventOpened:
		m[k] |= markOpened
	case ev.GetType() == frames.EventMessageLeft:
		m[k] |= markLeft
	}
	if ev.GetType() == frames.EventClosed || ev.GetState() == frames.StateClosed {
		m[k] |= markClosed
	}
}

// refreshFacts recomputes the report facts of the conversations that just got new events,
// from all their stored events, in the transaction that stored them. The marks limit the
// statements that read other rows to the conversations whose events call for them (they
// cost most of the refresh).
func refreshFacts(ctx context.Context, tx pgx.Tx, changed convList, marks factMarks) error {
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
	_, err = pgx.ForEachRow(rows, []any{&k.tenant, &k.conv, &ev.Seq, &ev.Type, &ev.State, &ev.Reason, &ev.Queue, &ev.CustomerID, &ev.AgentID, &ev.At,
		&ev.Score, &ev.Labels}, func() error {
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
		slaFirst, slaResolution                   = make([]bool, n), make([]bool, n)
		csat                                      = make([]*int16, n)
		labels                                    = make([]string, n)
	)
	for i, k := range order {
		f := reports.Fold(events[k])
		tenants[i], convs[i], customers[i], queues[i], agents[i] = k.tenant, k.conv, f.CustomerID, f.Queue, f.AgentID
		opened[i], handedAt[i], assigned[i], closed[i], left[i] = f.OpenedAt, f.HandoffAt, f.AssignedAt, f.ClosedAt, f.LeftAt
		reasons[i], transfers[i], waits[i], abandoned[i] = f.Handoff, f.Transfers, f.QueueWaitS, f.Abandoned
		slaFirst[i], slaResolution[i], csat[i] = f.SLAFirstResponseBreached, f.SLAResolutionBreached, f.CSAT
		labels[i] = strings.Join(f.Labels, labelSep)
	}
	b := &pgx.Batch{}
	b.Queue(upsertFactsSQL, tenants, convs, opened, customers, queues, agents, reasons, handedAt, assigned,
		transfers, waits, closed, abandoned, left, slaFirst, slaResolution, csat, labels)
	// After the upsert locked the rows: these statements see what a concurrent message batch
	// committed for them.
	var openedL, closedL, leftL convList
	for i := range tenants {
		m := marks[userKey{tenants[i], convs[i]}]
		for _, x := range []struct {
			bit uint8
			l   *convList
		}{{markOpened, &openedL}, {markClosed, &closedL}, {markLeft, &leftL}} {
			if m&x.bit != 0 {
				x.l.tenants, x.l.convs = append(x.l.tenants, tenants[i]), append(x.l.convs, convs[i])
			}
		}
	}
	if len(leftL.tenants) > 0 {
		b.Queue(leftAnsweredSQL, leftL.tenants, leftL.convs, true)
	}
	if len(openedL.tenants) > 0 {
		b.Queue(reopenEarlierSQL, openedL.tenants, openedL.convs)
	}
	if len(closedL.tenants) > 0 {
		b.Queue(reopenSelfSQL, closedL.tenants, closedL.convs)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("write report facts: %w", err)
	}
	return nil
}

// reportRowsSQL reads the facts a report counts: one range of report_conversations_opened,
// the columns as stored (computing durations per row in SQL cost more than reading the
// rows). The aggregation is done by reports.Aggregator, in one pass with exact percentiles
// by selection: in SQL, percentile_cont sorts every duration of every group, which for a
// year of a busy tenant took seconds.
const reportRowsSQL = `SELECT agent_id, queue, handoff_reason, opened_at, assigned_at, closed_at, left_at, left_answered_at,
	first_customer_at, first_bot_at, first_agent_at, handed_off_at, transfers, abandoned, reopened, messages, queue_wait_s,
	sla_first_response_breached, sla_resolution_breached, csat
FROM report_conversations
WHERE tenant = $1 AND opened_at >= $2 AND opened_at < $3 AND ($4 = '' OR queue = $4) AND ($5 = '' OR agent_id = $5)
	AND ($6 = '' OR labels @> ARRAY[$6::text])`

// reportColumns is the number of columns of reportRowsSQL.
const reportColumns = 20

// MaxConcurrentReports is how many reports one store computes at once; others wait. A
// year of a busy tenant holds its durations in memory while it runs (tens of MB), so a few
// supervisors opening reports together must not multiply that by the query concurrency.
const MaxConcurrentReports = 2

// pgEpoch is where Postgres's binary timestamps count microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// errReportRow is wrapped when a row of reportRowsSQL is not in the binary form expected.
var errReportRow = errors.New("unexpected report row")

// Report computes a tenant's figures (q is checked by reports.Resolve). Rows are decoded
// from their binary form without allocating (a year of a busy tenant is a million rows).
func (s *Store) Report(ctx context.Context, q reports.Query) (*fd.ReportReply, error) {
	select {
	case s.reportSlots <- struct{}{}:
		defer func() { <-s.reportSlots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("report of %s: waiting for a slot: %w", q.Tenant, ctx.Err())
	}
	agg, err := reports.NewAggregator(q)
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
	}
	rows, err := s.pool.Query(ctx, reportRowsSQL, pgx.QueryResultFormats{pgx.BinaryFormatCode},
		q.Tenant, q.From, q.To, q.Queue, q.Agent, q.Label)
	if err != nil {
		return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
	}
	defer rows.Close()
	var r reports.Row
	now := time.Since(pgEpoch).Microseconds()
	for rows.Next() {
		if err := decodeReportRow(rows.RawValues(), now, &r); err != nil {
			return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
		}
		agg.Add(&r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
	}
	rows.Close()
	reply := agg.Reply()
	if q.Label == "" { // offers carry no labels: a label's report has none
		if err := s.addOffers(ctx, q, reply); err != nil {
			return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
		}
	}
	if err := s.addOccupancy(ctx, q, time.Now(), reply); err != nil { // reports_occupancy.go
		return nil, fmt.Errorf("report of %s: %w", q.Tenant, err)
	}
	return reply, nil
}

// decodeReportRow decodes a row of reportRowsSQL in binary format into r. A NULL is a nil
// value; now is in microseconds since pgEpoch.
func decodeReportRow(vals [][]byte, now int64, r *reports.Row) error {
	if len(vals) != reportColumns {
		return errReportRow
	}
	const opened, assigned, closed, left, answered, customer, bot, agent, handoff = 0, 1, 2, 3, 4, 5, 6, 7, 8
	var ts [9]int64 // opened_at .. handed_off_at, microseconds since pgEpoch
	var null [9]bool
	for i := range ts {
		switch v := vals[3+i]; len(v) {
		case 8:
			ts[i] = int64(binary.BigEndian.Uint64(v))
		case 0:
			null[i] = true
		default:
			return errReportRow
		}
	}
	if null[opened] || len(vals[12]) != 4 || len(vals[13]) != 1 || len(vals[14]) != 1 || len(vals[15]) != 4 {
		return errReportRow
	}
	r.Agent, r.Queue, r.Handoff, r.HandedOff = vals[0], vals[1], vals[2], vals[2] != nil
	r.Opened = pgEpoch.Add(time.Duration(ts[opened]) * time.Microsecond)
	r.Assigned, r.Closed, r.Left, r.LeftAnswered = !null[assigned], !null[closed], !null[left], !null[answered]
	r.Transferred = int32(binary.BigEndian.Uint32(vals[12])) > 0
	r.Abandoned, r.Reopened = vals[13][0] != 0, vals[14][0] != 0
	r.Messages = int64(int32(binary.BigEndian.Uint32(vals[15])))
	span := func(from, to int) float64 {
		if null[from] || null[to] {
			return math.NaN()
		}
		return float64(ts[to]-ts[from]) / 1e6
	}
	r.Durations[reports.DurFirstResponse] = span(customer, agent)
	r.Durations[reports.DurFirstBot] = span(customer, bot)
	r.Durations[reports.DurResolution] = span(opened, closed)
	r.Durations[reports.DurLeftAnswer] = span(left, answered)
	r.Durations[reports.DurHandoffResponse] = span(handoff, agent)
	switch v := vals[16]; len(v) {
	case 0:
		r.Durations[reports.DurQueueWait] = math.NaN()
	case 8:
		r.Durations[reports.DurQueueWait] = math.Float64frombits(binary.BigEndian.Uint64(v))
	default:
		return errReportRow
	}
	if len(vals[17]) != 1 || len(vals[18]) != 1 {
		return errReportRow
	}
	r.SLAFirstResponse, r.SLAResolution = vals[17][0] != 0, vals[18][0] != 0
	switch v := vals[19]; len(v) {
	case 0:
		r.CSAT = 0
	case 2:
		r.CSAT = int16(binary.BigEndian.Uint16(v))
	default:
		return errReportRow
	}
	// The service-level clocks run from the handoff until what they wait for, else until the
	// close, else until now.
	r.ReplyClock, r.CloseClock = math.NaN(), math.NaN()
	if !null[handoff] {
		end := now
		if !null[closed] {
			end = ts[closed]
		}
		r.CloseClock = float64(end-ts[handoff]) / 1e6
		if !null[agent] {
			end = ts[agent]
		}
		r.ReplyClock = float64(end-ts[handoff]) / 1e6
	}
	return nil
}
