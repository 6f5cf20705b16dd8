// Package store is the persister's Postgres record: batched idempotent writes of messages,
// lifecycle events and read positions, the queries behind the NATS request/reply API, and
// retention.
//
// Every write is idempotent: messages are unique on their id (and on conversation and seq),
// events on their id, read positions keep the highest seq, and conversation state only moves
// forward in event-stream order. A batch that is written twice (redelivery after a crash
// between commit and ack, or two replicas racing) therefore lands once.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Store writes and reads the record through a pool.
type Store struct {
	pool *pgxpool.Pool

	// recent remembers the senders and tenants this process recorded lately, so a busy
	// stream does not re-upsert the same few hundred users with every batch (that cost as
	// much as inserting the messages). It is only an optimisation: forgetting is harmless.
	mu     sync.Mutex
	recent map[userKey]recorded
	// parts remembers the participants this process recorded lately, for the same reason:
	// a conversation's few senders write many messages.
	parts map[partKey]struct{}

	// reportSlots bounds the reports computed at once (MaxConcurrentReports).
	reportSlots chan struct{}
}

// partKey is a row of conversation_participants.
type partKey struct{ tenant, conv, user string }

type recorded struct {
	role, name string
	at         time.Time
	// conv is the conversation of the sender's newest message in the batch (not compared:
	// only the upsert reads it).
	conv string
}

// recentMax bounds the recent and parts maps; when full they start over.
const recentMax = 100000

// userFreshness is how stale users.last_seen may get before a message refreshes it.
const userFreshness = time.Minute

// New returns a Store on pool. The schema must be migrated (package migrate).
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool, recent: map[userKey]recorded{}, parts: map[partKey]struct{}{},
		reportSlots: make(chan struct{}, MaxConcurrentReports)}
}

// MessageRow is a message with its FD_MESSAGES sequence.
type MessageRow struct {
	// Seq is the stream sequence.
	Seq int64
	// Msg is the decoded message; Tenant and Conv must be set.
	Msg *fd.Message
}

// EventRow is a lifecycle event with its FD_EVENTS sequence.
type EventRow struct {
	// Seq is the stream sequence.
	Seq int64
	// Event is the decoded event; ID, Tenant and Conv must be set.
	Event *fd.ConversationEvent
}

// ReadRow is a read position.
type ReadRow struct {
	// Tenant, Conv and User identify the position.
	Tenant, Conv, User string
	// Seq is the message sequence read up to, inclusive.
	Seq int64
	// At is when the read happened (zero: unknown).
	At time.Time
}

// WriteResult counts what a batch did.
type WriteResult struct {
	// Inserted is the number of new rows.
	Inserted int64
	// Duplicates is the number of rows already present (redeliveries, republished messages).
	Duplicates int64
}

const stageMessagesDDL = `CREATE TEMP TABLE IF NOT EXISTS stage_messages (
	tenant text, conv text, seq bigint, id text, client_id text,
	sender_id text, sender_role text, sender_name text, kind text, text text,
	attachment_id text, attachment_url text, attachment_type text, attachment_size bigint, attachment_name text,
	reply_to text, revision bigint, created_at timestamptz, search_doc text
) ON COMMIT DELETE ROWS`

var stageMessagesCols = []string{
	"tenant", "conv", "seq", "id", "client_id",
	"sender_id", "sender_role", "sender_name", "kind", "text",
	"attachment_id", "attachment_url", "attachment_type", "attachment_size", "attachment_name",
	"reply_to", "revision", "created_at", "search_doc",
}

// The NOT EXISTS drop the messages of erased conversations, and those the erased customer sent
// before the erase elsewhere (tombstones.go): the batch runs under the tenants' erase locks.
// The ORDER BY makes the lowest seq win when one message id appears twice in a batch (it was
// published twice past the dedup window), and takes row locks in one order across replicas.
const insertMessagesSQL = insertMessagesHead + `stage_messages` + insertMessagesTail

const (
	insertMessagesHead = `INSERT INTO messages (
	tenant, conv, seq, id, client_id, sender_id, sender_role, sender_name, kind, text,
	attachment_id, attachment_url, attachment_type, attachment_size, attachment_name,
	reply_to, revision, created_at, search)
SELECT tenant, conv, seq, id, client_id, sender_id, sender_role, sender_name, kind, text,
	attachment_id, attachment_url, attachment_type, attachment_size, attachment_name,
	reply_to, revision, created_at, to_tsvector('simple', search_doc)
FROM `
	insertMessagesTail = `
WHERE NOT EXISTS (SELECT 1 FROM erased_conversations e WHERE e.tenant = stage_messages.tenant AND e.conv = stage_messages.conv)
	AND NOT EXISTS (SELECT 1 FROM erased_contacts e
		WHERE e.tenant = stage_messages.tenant AND e.user_id = stage_messages.sender_id AND e.erased_at >= stage_messages.created_at)
ORDER BY seq
ON CONFLICT DO NOTHING`
)

// unnestMessagesSQL is a small batch given as arrays, with stage_messages's columns: a
// statement that reads it needs no staging table (see WriteMessages).
const unnestMessagesSQL = `unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
	$6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
	$11::text[], $12::text[], $13::text[], $14::bigint[], $15::text[],
	$16::text[], $17::bigint[], $18::timestamptz[], $19::text[]) AS stage_messages (
	tenant, conv, seq, id, client_id, sender_id, sender_role, sender_name, kind, text,
	attachment_id, attachment_url, attachment_type, attachment_size, attachment_name,
	reply_to, revision, created_at, search_doc)`

// insertMessagesAndFactsSQL is insertMessagesSQL that also adds the messages it inserted
// (and only those: a redelivered message inserts nothing) to their conversations' report
// facts, and returns how many it inserted. The facts' rows are locked in (tenant, conv)
// order, as the event batches lock them.
const insertMessagesAndFactsSQL = `WITH ins AS (` + insertMessagesSQL + factsOfInserted

// insertArrayMessagesAndFactsSQL is insertMessagesAndFactsSQL reading the batch from arrays
// (unnestMessagesSQL), for small batches.
const insertArrayMessagesAndFactsSQL = `WITH ins AS (` + insertMessagesHead + unnestMessagesSQL + insertMessagesTail + factsOfInserted

const factsOfInserted = `
RETURNING tenant, conv, sender_role, created_at),
facts AS (INSERT INTO report_conversations AS r (tenant, conv, messages, first_customer_at, first_bot_at, first_agent_at)
	SELECT tenant, conv, count(*) FILTER (WHERE sender_role <> 'system'),
		min(created_at) FILTER (WHERE sender_role = 'customer'),
		min(created_at) FILTER (WHERE sender_role = 'bot'),
		min(created_at) FILTER (WHERE sender_role IN ('agent', 'supervisor'))
	FROM ins GROUP BY tenant, conv ORDER BY tenant, conv
	ON CONFLICT (tenant, conv) DO UPDATE SET
		messages = r.messages + EXCLUDED.messages,
		first_customer_at = LEAST(r.first_customer_at, EXCLUDED.first_customer_at),
		first_bot_at = LEAST(r.first_bot_at, EXCLUDED.first_bot_at),
		first_agent_at = LEAST(r.first_agent_at, EXCLUDED.first_agent_at))
SELECT count(*) FROM ins`

// leftAnsweredSQL sets when the left messages of the conversations given as arrays were
// answered: the first agent message at or after the left message. It runs in its own
// statement after the facts' rows are locked, so its snapshot sees whatever a concurrent
// batch of the other stream (messages or events) committed for them; with force false it
// only fills answers not yet found.
//
// An answer once found is kept when none is found now (retention deleted the messages): an
// earlier left message, the only way left_at moves, can only find the same answer or an
// earlier one.
//
// The first answer is taken in seq order, which walks the conversation's range of
// messages_pkey: min(created_at) would let Postgres walk the tenant's messages_created from
// the left message on, every conversation's, until this one's answer.
const leftAnsweredSQL = `UPDATE report_conversations r SET left_answered_at = coalesce((
	SELECT m.created_at FROM messages m
	WHERE m.tenant = r.tenant AND m.conv = r.conv AND m.sender_role IN ('agent', 'supervisor') AND m.created_at >= r.left_at
	ORDER BY m.seq LIMIT 1),
	r.left_answered_at)
FROM unnest($1::text[], $2::text[]) AS b(tenant, conv)
WHERE r.tenant = b.tenant AND r.conv = b.conv AND r.left_at IS NOT NULL AND ($3 OR r.left_answered_at IS NULL)`

// upsertUsersSQL records senders given as arrays (one row per user, no repeats, with the
// conversation of their newest message), except an erased customer seen in messages from
// before their erase or whose newest message is in an erased conversation: a late message of
// an erased conversation, which the insert dropped, must not bring their profile back (the
// conversation's tombstone holds even when the sender's clock ran ahead of the database's).
const upsertUsersSQL = `INSERT INTO users AS u (tenant, id, role, name, first_seen, last_seen)
SELECT tenant, id, role, name, at, at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) AS s(tenant, id, role, name, at, conv)
WHERE NOT EXISTS (SELECT 1 FROM erased_contacts e WHERE e.tenant = s.tenant AND e.user_id = s.id AND e.erased_at >= s.at)
	AND NOT EXISTS (SELECT 1 FROM erased_conversations e WHERE e.tenant = s.tenant AND e.conv = s.conv)
ORDER BY tenant, id
ON CONFLICT (tenant, id) DO UPDATE SET
	role = CASE WHEN EXCLUDED.role <> '' THEN EXCLUDED.role ELSE u.role END,
	name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE u.name END,
	first_seen = LEAST(u.first_seen, EXCLUDED.first_seen),
	last_seen = GREATEST(u.last_seen, EXCLUDED.last_seen)`

const insertTenantsSQL = `INSERT INTO tenants (id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING`

// staleSenders returns the batch's senders (and tenants, as users with an empty id) that
// this process has not recorded within userFreshness, newest message per sender.
func (s *Store) staleSenders(rows []MessageRow) map[userKey]recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[userKey]recorded{}
	for _, r := range rows {
		m := r.Msg
		at := createdAt(m)
		tk := userKey{tenant: m.GetTenant()}
		if _, ok := s.recent[tk]; !ok {
			out[tk] = recorded{at: at}
		}
		from := m.GetFrom()
		if from.GetId() == "" {
			continue
		}
		k := userKey{m.GetTenant(), from.GetId()}
		rec := recorded{role: from.GetRole(), name: from.GetName(), at: at, conv: m.GetConv()}
		if prev, ok := s.recent[k]; ok && prev.role == rec.role && prev.name == rec.name && !at.After(prev.at.Add(userFreshness)) {
			continue
		}
		if cur, ok := out[k]; !ok || at.After(cur.at) {
			out[k] = rec
		}
	}
	return out
}

// remember marks senders as recorded, after their transaction committed.
func (s *Store) remember(senders map[userKey]recorded) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recent)+len(senders) > recentMax {
		s.recent = map[userKey]recorded{}
	}
	for k, v := range senders {
		if prev, ok := s.recent[k]; ok && prev.at.After(v.at) {
			v.at = prev.at
		}
		s.recent[k] = v
	}
}

// queueSenders adds the upserts of senders to b.
func queueSenders(b *pgx.Batch, senders map[userKey]recorded) {
	var tenants, ut, uid, urole, uname, uconv []string
	var uat []time.Time
	for _, k := range sortedKeys(senders) {
		v := senders[k]
		if k.id == "" {
			tenants = append(tenants, k.tenant)
			continue
		}
		ut, uid, urole, uname, uat = append(ut, k.tenant), append(uid, k.id), append(urole, v.role), append(uname, v.name), append(uat, v.at)
		uconv = append(uconv, v.conv)
	}
	if len(uid) > 0 {
		b.Queue(upsertUsersSQL, ut, uid, urole, uname, uat, uconv)
	}
	if len(tenants) > 0 {
		b.Queue(insertTenantsSQL, tenants)
	}
}

// isParticipant reports whether a user of role takes part in conversations as a person.
// Bots and the system are left out: they are in nearly every conversation.
func isParticipant(id, role string) bool {
	return id != "" && role != frames.RoleBot && role != frames.RoleSystem
}

// insertParticipantsSQL records participants given as arrays. opened_at comes from the
// conversation when the record has it; a message that lands before its conversation's first
// event leaves it NULL, and that event's batch fills it in (fixParticipantsSQL). An erased
// conversation gets none back (the batch holds its tenant's erase lock, tombstones.go). The
// ORDER BY takes the rows' locks in one order across concurrent batches.
const insertParticipantsSQL = `INSERT INTO conversation_participants (tenant, conv, user_id, opened_at)
SELECT s.tenant, s.conv, s.user_id, c.opened_at
FROM unnest($1::text[], $2::text[], $3::text[]) AS s(tenant, conv, user_id)
LEFT JOIN conversations c ON c.tenant = s.tenant AND c.id = s.conv
WHERE NOT EXISTS (SELECT 1 FROM erased_conversations e WHERE e.tenant = s.tenant AND e.conv = s.conv)
ORDER BY 1, 2, 3
ON CONFLICT DO NOTHING`

// fixParticipantsSQL copies the opened_at of the conversations given as arrays to all their
// participants, after the batch's events moved it (or set it for the first time).
const fixParticipantsSQL = `UPDATE conversation_participants p SET opened_at = c.opened_at
FROM unnest($1::text[], $2::text[]) AS b(tenant, conv)
JOIN conversations c ON c.tenant = b.tenant AND c.id = b.conv
WHERE p.tenant = b.tenant AND p.conv = b.conv AND p.opened_at IS DISTINCT FROM c.opened_at`

// newParticipants returns the batch's senders that this process has not recorded as
// participants of their conversations.
func (s *Store) newParticipants(rows []MessageRow) map[partKey]struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[partKey]struct{}{}
	for _, r := range rows {
		m := r.Msg
		if !isParticipant(m.GetFrom().GetId(), m.GetFrom().GetRole()) {
			continue
		}
		k := partKey{m.GetTenant(), m.GetConv(), m.GetFrom().GetId()}
		if _, ok := s.parts[k]; !ok {
			out[k] = struct{}{}
		}
	}
	return out
}

// rememberParticipants marks participants as recorded, after their transaction committed.
func (s *Store) rememberParticipants(parts map[partKey]struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.parts)+len(parts) > recentMax {
		s.parts = map[partKey]struct{}{}
	}
	for k := range parts {
		s.parts[k] = struct{}{}
	}
}

// queueParticipants adds the insert of parts to b.
func queueParticipants(b *pgx.Batch, parts map[partKey]struct{}) {
	if len(parts) == 0 {
		return
	}
	tenants, convs, users := make([]string, 0, len(parts)), make([]string, 0, len(parts)), make([]string, 0, len(parts))
	for k := range parts {
		tenants, convs, users = append(tenants, k.tenant), append(convs, k.conv), append(users, k.user)
	}
	b.Queue(insertParticipantsSQL, tenants, convs, users)
}

// arrayBatchMax is the largest batch WriteMessages sends as arrays in one pipeline. Larger
// batches keep COPY and the staging table, whose fixed costs per transaction (the CREATE ...
// IF NOT EXISTS lookup, the truncation at commit, four more round trips) matter little at
// that size; arrays were not measured against COPY for full batches.
const arrayBatchMax = 256

// WriteMessages writes a batch in one transaction that skips rows whose id (or conversation
// and seq) exists. Nothing is visible until the commit, so the caller acks only after a nil
// error.
//
// A batch of up to arrayBatchMax rows is one pipeline (one round trip): the tenants' locks,
// one INSERT ... SELECT FROM unnest of the rows as arrays, and the report facts, participants
// and senders, run by Postgres as one implicit transaction (every statement up to the
// pipeline's Sync, which pgx sends once per batch; an error rolls all of them back). A larger
// batch is copied into a session-local staging table inside an explicit transaction first.
// Either way the tenants' erase locks come before the insert, which skips erased
// conversations (tombstones.go).
func (s *Store) WriteMessages(ctx context.Context, rows []MessageRow) (WriteResult, error) {
	if len(rows) == 0 {
		return WriteResult{}, nil
	}
	senders := s.staleSenders(rows)
	parts := s.newParticipants(rows)
	answers := agentConvs(rows)
	tenantIDs := make([]string, 0, 1)
	for _, r := range rows {
		tenantIDs = append(tenantIDs, r.Msg.GetTenant())
	}
	b := &pgx.Batch{}
	locks := queueTenantLocks(b, tenantIDs, false)
	// After the facts locks (an event batch takes them first too), before anything is written:
	// the statements after it see the tombstones of an erase that committed meanwhile.
	locks += queueEraseLocks(b, tenantIDs)
	if len(rows) <= arrayBatchMax {
		b.Queue(insertArrayMessagesAndFactsSQL, messageArrays(rows)...)
	} else {
		b.Queue(insertMessagesAndFactsSQL)
	}
	if len(answers.tenants) > 0 {
		b.Queue(leftAnsweredSQL, answers.tenants, answers.convs, false)
	}
	queueParticipants(b, parts)
	queueSenders(b, senders)
	var inserted int64
	var err error
	if len(rows) <= arrayBatchMax {
		inserted, err = sendMessageBatch(ctx, s.pool, b, locks)
	} else {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, stageMessagesDDL); err != nil {
				return fmt.Errorf("create staging table: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_messages"}, stageMessagesCols, &messageSource{rows: rows, i: -1}); err != nil {
				return fmt.Errorf("copy messages: %w", err)
			}
			var err error
			inserted, err = sendMessageBatch(ctx, tx, b, locks)
			return err
		})
	}
	if err != nil {
		return WriteResult{}, fmt.Errorf("write %d messages: %w", len(rows), err)
	}
	s.remember(senders)
	s.rememberParticipants(parts)
	return WriteResult{Inserted: inserted, Duplicates: int64(len(rows)) - inserted}, nil
}

// batchSender is a pool (the batch is its own implicit transaction) or a transaction.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// sendMessageBatch sends a batch queued by WriteMessages (locks statements taking the tenants'
// locks, then the insert) and returns how many messages it inserted.
func sendMessageBatch(ctx context.Context, to batchSender, b *pgx.Batch, locks int) (int64, error) {
	br := to.SendBatch(ctx, b)
	for range locks {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return 0, fmt.Errorf("lock report facts and erase: %w", err)
		}
	}
	var inserted int64
	if err := br.QueryRow().Scan(&inserted); err != nil {
		_ = br.Close()
		return 0, fmt.Errorf("insert messages: %w", err)
	}
	if err := br.Close(); err != nil {
		return 0, fmt.Errorf("record report facts, participants and senders: %w", err)
	}
	return inserted, nil
}

// messageArrays is rows as the parameters of unnestMessagesSQL.
func messageArrays(rows []MessageRow) []any {
	n := len(rows)
	var (
		tenant, conv, id, clientID, senderID, senderRole, senderName, kind, text = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		attID, attURL, attType, attName, replyTo, doc                            = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seq, attSize, revision                                                   = make([]int64, n), make([]int64, n), make([]int64, n)
		created                                                                  = make([]time.Time, n)
	)
	for i, r := range rows {
		msg := r.Msg
		from := msg.GetFrom()
		att := msg.GetAttachment()
		tenant[i], conv[i], seq[i], id[i], clientID[i] = msg.GetTenant(), msg.GetConv(), r.Seq, msg.GetId(), msg.GetClientId()
		senderID[i], senderRole[i], senderName[i], kind[i], text[i] = from.GetId(), from.GetRole(), from.GetName(), msg.GetKind(), msg.GetText()
		attID[i], attURL[i], attType[i], attSize[i], attName[i] = att.GetId(), att.GetUrl(), att.GetType(), att.GetSize(), att.GetName()
		replyTo[i], revision[i], created[i], doc[i] = msg.GetReplyTo(), int64(msg.GetRevision()), createdAt(msg), SearchDocument(msg.GetText())
	}
	return []any{tenant, conv, seq, id, clientID, senderID, senderRole, senderName, kind, text,
		attID, attURL, attType, attSize, attName, replyTo, revision, created, doc}
}

// convList is a list of conversations as two parallel arrays, for unnest.
type convList struct{ tenants, convs []string }

// agentConvs lists, once each and in order, the conversations in which the batch has a human
// reply (agent or supervisor): only those can answer a left message.
func agentConvs(rows []MessageRow) convList {
	seen := map[userKey]bool{}
	for _, r := range rows {
		if role := r.Msg.GetFrom().GetRole(); role == frames.RoleAgent || role == frames.RoleSupervisor {
			seen[userKey{r.Msg.GetTenant(), r.Msg.GetConv()}] = true
		}
	}
	var l convList
	for _, k := range sortedKeys(seen) {
		l.tenants, l.convs = append(l.tenants, k.tenant), append(l.convs, k.id)
	}
	return l
}

// messageSource feeds CopyFrom without building a [][]any of the whole batch.
type messageSource struct {
	rows []MessageRow
	i    int
}

func (m *messageSource) Next() bool { m.i++; return m.i < len(m.rows) }
func (m *messageSource) Err() error { return nil }
func (m *messageSource) Values() ([]any, error) {
	r := m.rows[m.i]
	msg := r.Msg
	from := msg.GetFrom()
	att := msg.GetAttachment()
	return []any{
		msg.GetTenant(), msg.GetConv(), r.Seq, msg.GetId(), msg.GetClientId(),
		from.GetId(), from.GetRole(), from.GetName(), msg.GetKind(), msg.GetText(),
		att.GetId(), att.GetUrl(), att.GetType(), att.GetSize(), att.GetName(),
		msg.GetReplyTo(), int64(msg.GetRevision()), createdAt(msg), SearchDocument(msg.GetText()),
	}, nil
}

// createdAt is the message's time, or now for a message that lacks one (never NULL: retention
// and paging by time depend on it).
func createdAt(msg *fd.Message) time.Time {
	if ts := msg.GetCreatedAt(); ts != nil && ts.IsValid() {
		return ts.AsTime()
	}
	return time.Now()
}

const insertMessageNaiveSQL = `INSERT INTO messages (
	tenant, conv, seq, id, client_id, sender_id, sender_role, sender_name, kind, text,
	attachment_id, attachment_url, attachment_type, attachment_size, attachment_name,
	reply_to, revision, created_at, search)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, to_tsvector('simple', $19))
ON CONFLICT DO NOTHING`

// WriteMessageNaive inserts one message in its own implicit transaction. It exists only as
// the baseline of the ingest benchmark; the service never uses it.
func (s *Store) WriteMessageNaive(ctx context.Context, r MessageRow) (bool, error) {
	src := &messageSource{rows: []MessageRow{r}, i: 0}
	vals, _ := src.Values()
	tag, err := s.pool.Exec(ctx, insertMessageNaiveSQL, vals...)
	if err != nil {
		return false, fmt.Errorf("insert message %s: %w", r.Msg.GetId(), err)
	}
	return tag.RowsAffected() == 1, nil
}

func sortedKeys[V any](m map[userKey]V) []userKey {
	keys := make([]userKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b userKey) int {
		if c := strings.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return keys
}

func sortedStrings(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// ErrNotFound is returned by queries about a conversation the record does not know.
var ErrNotFound = errors.New("not found")
