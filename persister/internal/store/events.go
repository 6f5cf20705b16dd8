package store

// Writing lifecycle events: the events table, the conversations folded from them, their
// participants and the report facts (reports.go) that depend on them.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

const stageEventsDDL = `CREATE TEMP TABLE IF NOT EXISTS stage_events (
	id text, tenant text, conv text, seq bigint, type text, state text, revision bigint,
	customer_id text, agent_id text, previous_agent_id text, actor_id text, actor_role text,
	queue text, reason text, at timestamptz, score smallint, labels text[]
) ON COMMIT DELETE ROWS`

var stageEventsCols = []string{
	"id", "tenant", "conv", "seq", "type", "state", "revision",
	"customer_id", "agent_id", "previous_agent_id", "actor_id", "actor_role",
	"queue", "reason", "at", "score", "labels",
}

const insertEventsSQL = `INSERT INTO events (id, tenant, conv, seq, type, state, revision,
	customer_id, agent_id, previous_agent_id, actor_id, actor_role, queue, reason, at, score, labels)
SELECT id, tenant, conv, seq, type, state, revision,
	customer_id, agent_id, previous_agent_id, actor_id, actor_role, queue, reason, at, score, labels
FROM stage_events ORDER BY seq
ON CONFLICT DO NOTHING`

// insertEventsReturningSQL is insertEventsSQL returning, per conversation, how many events
// it inserted: the conversations whose report facts must be recomputed.
const insertEventsReturningSQL = `WITH ins AS (` + insertEventsSQL + `
RETURNING tenant, conv)
SELECT tenant, conv, count(*) FROM ins GROUP BY tenant, conv ORDER BY tenant, conv`

// upsertConversationSQL merges one conversation's folded events. State, customer, agent,
// queue and summary move only forward in event-stream order (last_event_seq); the timestamps
// merge with LEAST/GREATEST, which ignore NULLs. Applying the same events again changes
// nothing, so redelivered batches are harmless.
const upsertConversationSQL = `INSERT INTO conversations AS c (tenant, id, state, customer_id, customer_name,
	agent_id, agent_name, queue, summary, revision, last_event_seq, opened_at, queued_at, assigned_at, closed_at, agent_seq)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (tenant, id) DO UPDATE SET
	state = CASE WHEN EXCLUDED.state <> '' AND EXCLUDED.last_event_seq > c.last_event_seq THEN EXCLUDED.state ELSE c.state END,
	customer_id = CASE WHEN EXCLUDED.customer_id <> '' AND (c.customer_id = '' OR EXCLUDED.last_event_seq > c.last_event_seq) THEN EXCLUDED.customer_id ELSE c.customer_id END,
	customer_name = CASE WHEN EXCLUDED.customer_name <> '' AND (c.customer_name = '' OR EXCLUDED.last_event_seq > c.last_event_seq) THEN EXCLUDED.customer_name ELSE c.customer_name END,
	agent_id = CASE WHEN EXCLUDED.agent_id <> '' AND EXCLUDED.agent_seq > c.agent_seq THEN EXCLUDED.agent_id ELSE c.agent_id END,
	agent_name = CASE WHEN EXCLUDED.agent_id <> '' AND EXCLUDED.agent_seq > c.agent_seq THEN EXCLUDED.agent_name ELSE c.agent_name END,
	agent_seq = GREATEST(c.agent_seq, EXCLUDED.agent_seq),
	queue = CASE WHEN EXCLUDED.queue <> '' AND (c.queue = '' OR EXCLUDED.last_event_seq > c.last_event_seq) THEN EXCLUDED.queue ELSE c.queue END,
	summary = CASE WHEN EXCLUDED.summary <> '' AND (c.summary = '' OR EXCLUDED.last_event_seq > c.last_event_seq) THEN EXCLUDED.summary ELSE c.summary END,
	revision = GREATEST(c.revision, EXCLUDED.revision),
	last_event_seq = GREATEST(c.last_event_seq, EXCLUDED.last_event_seq),
	opened_at = LEAST(c.opened_at, EXCLUDED.opened_at),
	queued_at = GREATEST(c.queued_at, EXCLUDED.queued_at),
	assigned_at = GREATEST(c.assigned_at, EXCLUDED.assigned_at),
	closed_at = GREATEST(c.closed_at, EXCLUDED.closed_at),
	updated_at = now()`

const upsertUserSQL = `INSERT INTO users AS u (tenant, id, role, name, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (tenant, id) DO UPDATE SET
	role = CASE WHEN EXCLUDED.role <> '' THEN EXCLUDED.role ELSE u.role END,
	name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE u.name END,
	first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
	last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)`

const insertTenantSQL = `INSERT INTO tenants (id) VALUES ($1) ON CONFLICT DO NOTHING`

// convFold is the net effect of one batch's events on one conversation.
type convFold struct {
	tenant, id                  string
	state                       string
	customerID, customerName    string
	agentID, agentName          string
	queue, summary              string
	revision, lastSeq, agentSeq int64
	openedAt, queuedAt          *time.Time
	assignedAt, closedAt        *time.Time
}

type userKey struct{ tenant, id string }

type userFold struct {
	role, name string
	at         time.Time
}

// WriteEvents writes a batch of lifecycle events in one transaction and folds them into the
// conversations table (and the users they name).
func (s *Store) WriteEvents(ctx context.Context, rows []EventRow) (WriteResult, error) {
	// An erase's erased event is for platform consumers: the record it describes is gone and
	// keeps no row naming the erased customer. A contact's events (no conversation: their
	// subject is subjects.ContactEvents) are for them too: the contact row is their record.
	rows = slices.DeleteFunc(slices.Clone(rows), func(r EventRow) bool {
		return r.Event.GetType() == frames.EventErased || r.Event.GetConv() == ""
	})
	if len(rows) == 0 {
		return WriteResult{}, nil
	}
	slices.SortFunc(rows, func(a, b EventRow) int { return cmp.Compare(a.Seq, b.Seq) })
	// The events of an erased conversation are dropped (tombstones.go): a batch that finds
	// some is rolled back and written again without them.
	return withoutErased(ctx, rows, eventConv, s.writeEvents)
}

// eventConv is the conversation of an event row.
func eventConv(r EventRow) userKey { return userKey{r.Event.GetTenant(), r.Event.GetConv()} }

// writeEvents is WriteEvents of rows sorted by seq; it fails with errErased when some of their
// conversations are erased.
func (s *Store) writeEvents(ctx context.Context, rows []EventRow) (WriteResult, error) {
	convs := map[userKey]*convFold{}
	marks := factMarks{}
	users := map[userKey]userFold{}
	parts := map[partKey]struct{}{}
	labels := map[userKey]*labelFold{}
	tenants := map[string]bool{}
	copyRows := make([][]any, 0, len(rows))
	for _, r := range rows {
		ev := r.Event
		at := time.Now()
		if ts := ev.GetAt(); ts != nil && ts.IsValid() {
			at = ts.AsTime()
		}
		copyRows = append(copyRows, []any{
			ev.GetId(), ev.GetTenant(), ev.GetConv(), r.Seq, ev.GetType(), ev.GetState(), int64(ev.GetRevision()),
			ev.GetCustomer().GetId(), ev.GetAgent().GetId(), ev.GetPreviousAgent().GetId(),
			ev.GetActor().GetId(), ev.GetActor().GetRole(), ev.GetQueue(), ev.GetReason(), at, eventScore(ev), eventLabels(ev),
		})
		tenants[ev.GetTenant()] = true
		k := userKey{ev.GetTenant(), ev.GetConv()}
		c := convs[k]
		if c == nil {
			c = &convFold{tenant: ev.GetTenant(), id: ev.GetConv()}
			convs[k] = c
		}
		foldEvent(c, r.Seq, ev, at)
		noteLabels(labels, r.Seq, ev)
		marks.note(k, ev)
		for _, p := range []*fd.Participant{ev.GetCustomer(), ev.GetAgent(), ev.GetPreviousAgent()} {
			if p.GetId() == "" {
				continue
			}
			if isParticipant(p.GetId(), p.GetRole()) {
				parts[partKey{ev.GetTenant(), ev.GetConv(), p.GetId()}] = struct{}{}
			}
			uk := userKey{ev.GetTenant(), p.GetId()}
			u := users[uk]
			if p.GetRole() != "" {
				u.role = p.GetRole()
			}
			if p.GetName() != "" {
				u.name = p.GetName()
			}
			if at.After(u.at) {
				u.at = at
			}
			users[uk] = u
		}
	}

	var res WriteResult
	eventTenants := make([]string, 0, len(tenants))
	for t := range tenants {
		eventTenants = append(eventTenants, t)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockTenantFacts(ctx, tx, eventTenants, true); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, stageEventsDDL); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_events"}, stageEventsCols, pgx.CopyFromRows(copyRows)); err != nil {
			return fmt.Errorf("copy events: %w", err)
		}
		b := &pgx.Batch{}
		var guard erasedCheck
		guard.queue(b, convKeys(rows, eventConv))
		b.Queue(insertEventsReturningSQL)
		// Sorted keys: concurrent batches lock conversation and user rows in the same order.
		for _, k := range sortedKeys(convs) {
			c := convs[k]
			b.Queue(upsertConversationSQL, c.tenant, c.id, c.state, c.customerID, c.customerName,
				c.agentID, c.agentName, c.queue, c.summary, c.revision, c.lastSeq,
				c.openedAt, c.queuedAt, c.assignedAt, c.closedAt, c.agentSeq)
		}
		queueLabels(b, labels) // labels.go
		// After the conversations: participants take their opened_at.
		queueParticipants(b, parts)
		queueRatings(b, rows) // notes.go
		convTenants, convIDs := make([]string, 0, len(convs)), make([]string, 0, len(convs))
		for _, k := range sortedKeys(convs) {
			convTenants, convIDs = append(convTenants, k.tenant), append(convIDs, k.id)
		}
		b.Queue(fixParticipantsSQL, convTenants, convIDs)
		for _, k := range sortedKeys(users) {
			u := users[k]
			b.Queue(upsertUserSQL, k.tenant, k.id, u.role, u.name, u.at)
		}
		for _, t := range sortedStrings(tenants) {
			b.Queue(insertTenantSQL, t)
		}
		queueTranscripts(b, rows)
		br := tx.SendBatch(ctx, b)
		if err := guard.read(br); err != nil {
			_ = br.Close()
			return err
		}
		var changed convList
		rows, err := br.Query()
		if err == nil {
			var t, c string
			var n int64
			_, err = pgx.ForEachRow(rows, []any{&t, &c, &n}, func() error {
				changed.tenants, changed.convs = append(changed.tenants, t), append(changed.convs, c)
				res.Inserted += n
				return nil
			})
		}
		if err != nil {
			_ = br.Close()
			return fmt.Errorf("insert events: %w", err)
		}
		if err := br.Close(); err != nil {
			return fmt.Errorf("upsert conversations and participants: %w", err)
		}
		return refreshFacts(ctx, tx, changed, marks)
	})
	if err != nil {
		return WriteResult{}, fmt.Errorf("write %d events: %w", len(rows), err)
	}
	res.Duplicates = int64(len(rows)) - res.Inserted
	return res, nil
}

// foldEvent applies ev (at seq, in increasing seq order) to c.
func foldEvent(c *convFold, seq int64, ev *fd.ConversationEvent, at time.Time) {
	c.lastSeq = max(c.lastSeq, seq)
	c.revision = max(c.revision, int64(ev.GetRevision()))
	switch {
	case ev.GetState() != "":
		c.state = ev.GetState()
	case ev.GetType() == frames.EventClosed:
		c.state = frames.StateClosed
	}
	if p := ev.GetCustomer(); p.GetId() != "" {
		c.customerID = p.GetId()
		if p.GetName() != "" {
			c.customerName = p.GetName()
		}
	}
	// The record keeps the last agent who had the conversation: an event that leaves it
	// without one (requeued, closed) does not erase who handled it.
	if p := ev.GetAgent(); p.GetId() != "" {
		c.agentID, c.agentName, c.agentSeq = p.GetId(), p.GetName(), seq
	}
	if ev.GetQueue() != "" {
		c.queue = ev.GetQueue()
	}
	if ev.GetSummary() != "" {
		c.summary = ev.GetSummary()
	}
	t := at
	if c.openedAt == nil || t.Before(*c.openedAt) {
		c.openedAt = &t
	}
	latest := func(p **time.Time) {
		if *p == nil || t.After(**p) {
			*p = &t
		}
	}
	switch ev.GetType() {
	case frames.EventQueued, frames.EventRequeued:
		latest(&c.queuedAt)
	case frames.EventAssigned, frames.EventTransferred:
		latest(&c.assignedAt)
	case frames.EventClosed:
		latest(&c.closedAt)
	}
}

// eventScore is a rated event's score for the score column, on the 1-5 scale reports count in
// (a thumbs up is 5, a thumbs down 1); NULL for other events and for a score off its scale.
func eventScore(ev *fd.ConversationEvent) *int16 {
	r := ev.GetRating()
	top := frames.ScaleMax(r.GetScale())
	if top == 0 {
		top = 5 // a rating without its scale is on the five-point one
	}
	if ev.GetType() != frames.EventRated || r.GetScore() < 1 || r.GetScore() > top {
		return nil
	}
	s := int16(r.GetScore())
	if r.GetScale() == frames.ScaleThumbs {
		s = map[int16]int16{1: 1, 2: 5}[s]
	}
	return &s
}

// eventLabels is a labeled event's labels for the labels column (NULL for other events, which
// may carry the labels too: only the change is kept).
func eventLabels(ev *fd.ConversationEvent) []string {
	if ev.GetType() != frames.EventLabeled {
		return nil
	}
	if ev.GetLabels() == nil {
		return []string{}
	}
	return ev.GetLabels()
}
