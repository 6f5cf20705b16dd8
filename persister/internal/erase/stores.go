package erase

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/persister/internal/bus"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Table erases a Postgres table's rows of a target: DELETE FROM Name WHERE Where, with $1 the
// tenant, $2 the user id and $3 the conversation ids (text[]). It counts as "postgres.<Name>".
// A table added by another feature (contacts, notes) plugs in as one more Table.
type Table struct {
	Name  string
	Where string
}

// PostgresTables are the record's tables holding a customer's data, children first.
var PostgresTables = []Table{
	{"messages", "tenant = $1 AND (conv = ANY($3) OR sender_id = $2)"},
	{"events", "tenant = $1 AND (conv = ANY($3) OR customer_id = $2)"},
	{"read_positions", "tenant = $1 AND (conv = ANY($3) OR user_id = $2)"},
	{"conversation_participants", "tenant = $1 AND (conv = ANY($3) OR user_id = $2)"},
	{"report_conversations", "tenant = $1 AND (conv = ANY($3) OR customer_id = $2)"},
	{"conversations", "tenant = $1 AND (id = ANY($3) OR customer_id = $2)"},
	{"users", "tenant = $1 AND id = $2"},
}

// Postgres erases tables in one transaction (all or nothing: a failed attempt leaves the
// record as it was, for the next attempt). In the same transaction, under the tenant's erase
// lock taken exclusively first, it records a tombstone per conversation and one for the
// customer: the persister's ingest writes take that lock shared and skip what a tombstone
// covers (package store, tombstones.go), so a batch taken from a stream before the purge, or
// published after it, is either committed before this delete and deleted, or dropped.
type Postgres struct {
	Pool   *pgxpool.Pool
	Tables []Table
}

// Name implements Eraser.
func (p Postgres) Name() string { return "postgres" }

// Erase implements Eraser.
func (p Postgres) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	counts := map[string]int64{}
	tx, err := p.Pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	convs := t.Convs
	if convs == nil {
		convs = []string{}
	}
	// The lock before the tombstones and the deletes: every statement after it sees what the
	// batches that held it committed, and no batch writes after it without the tombstones.
	if _, err := tx.Exec(ctx, store.LockEraseExclusiveSQL, t.Tenant); err != nil {
		return nil, fmt.Errorf("take erase lock: %w", err)
	}
	// Not counted: the counts are what was removed.
	if _, err := tx.Exec(ctx, store.TombstoneConversationsSQL, t.Tenant, convs); err != nil {
		return nil, fmt.Errorf("tombstone conversations: %w", err)
	}
	if _, err := tx.Exec(ctx, store.TombstoneContactSQL, t.Tenant, t.User); err != nil {
		return nil, fmt.Errorf("tombstone contact: %w", err)
	}
	args := []any{t.Tenant, t.User, convs}
	for _, tb := range p.Tables {
		// Postgres takes as many arguments as the highest $n the statement names.
		n := len(args)
		for n > 1 && !strings.Contains(tb.Where, fmt.Sprintf("$%d", n)) {
			n--
		}
		tag, err := tx.Exec(ctx, "DELETE FROM "+tb.Name+" WHERE "+tb.Where, args[:n]...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", tb.Name, err)
		}
		counts["postgres."+tb.Name] = tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return counts, nil
}

// PostgresFinder finds the customer's conversations in the record.
type PostgresFinder struct{ Pool *pgxpool.Pool }

// Find implements Finder.
func (p PostgresFinder) Find(ctx context.Context, t Target) ([]string, error) {
	rows, err := p.Pool.Query(ctx, `SELECT id FROM conversations WHERE tenant = $1 AND customer_id = $2
		UNION SELECT conv FROM report_conversations WHERE tenant = $1 AND customer_id = $2`, t.Tenant, t.User)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// BucketFinder finds the customer's conversations in the participation and open buckets
// (conversations the persister has not recorded yet). Only keys naming the user as the
// customer count: an agent's id never erases the conversations they served.
type BucketFinder struct{ JS jetstream.JetStream }

// Find implements Finder.
func (b BucketFinder) Find(ctx context.Context, t Target) ([]string, error) {
	var out []string
	part, err := b.JS.KeyValue(ctx, subjects.BucketParticipants)
	if err != nil {
		return nil, err
	}
	lister, err := part.ListKeysFiltered(ctx, subjects.ParticipantFilter(t.Tenant, t.User))
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	prefix := len(subjects.ParticipantFilter(t.Tenant, t.User)) - 1
	for _, k := range keys {
		e, err := part.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p := &fd.Participant{}
		if err := proto.Unmarshal(e.Value(), p); err == nil && p.GetRole() == frames.RoleCustomer {
			out = append(out, k[prefix:])
		}
	}
	open, err := b.JS.KeyValue(ctx, subjects.BucketOpen)
	if err != nil {
		return nil, err
	}
	if e, err := open.Get(ctx, subjects.OpenKey(t.Tenant, t.User)); err == nil {
		out = append(out, string(e.Value()))
	} else if !errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, err
	}
	return out, nil
}

// Streams purges the conversations' subjects from the messages, events, read positions and
// commands streams, and the customer's contact events.
type Streams struct{ Bus *bus.Bus }

// Name implements Eraser.
func (Streams) Name() string { return "streams" }

// Erase implements Eraser.
func (s Streams) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, c := range t.Convs {
		for _, p := range []struct{ stream, filter string }{
			{subjects.StreamMessages, subjects.Messages(t.Tenant, c)},
			{subjects.StreamEvents, subjects.Events(t.Tenant, c)},
			{subjects.StreamReads, subjects.ConvReads(t.Tenant, c)},
			{subjects.StreamCommands, subjects.ConvCommands(t.Tenant, c)},
			{subjects.StreamNotes, subjects.Notes(t.Tenant, c)},
		} {
			n, err := s.Bus.Purge(ctx, p.stream, p.filter, 0)
			counts["stream."+p.stream] += n
			if err != nil {
				return counts, err
			}
		}
	}
	// The customer's contact events (labels agents set on them) are theirs too.
	n, err := s.Bus.Purge(ctx, subjects.StreamEvents, subjects.ContactEvents(t.Tenant, t.User), 0)
	counts["stream."+subjects.StreamEvents] += n
	if err != nil {
		return counts, err
	}
	return counts, nil
}

// Buckets purges the conversations' keys and every participation of theirs from the
// conversations and participants buckets, and the customer's open-conversation key.
type Buckets struct{ Bus *bus.Bus }

// Name implements Eraser.
func (Buckets) Name() string { return "buckets" }

// Erase implements Eraser.
func (b Buckets) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	type purge struct{ bucket, key string }
	var ps []purge
	for _, c := range t.Convs {
		ps = append(ps, purge{subjects.BucketConversations, subjects.ConversationKey(t.Tenant, c)},
			purge{subjects.BucketParticipants, subjects.ParticipantKey(t.Tenant, "*", c)})
	}
	ps = append(ps, purge{subjects.BucketParticipants, subjects.ParticipantFilter(t.Tenant, t.User)},
		purge{subjects.BucketOpen, subjects.OpenKey(t.Tenant, t.User)})
	counts := map[string]int64{}
	for _, p := range ps {
		n, err := b.Bus.Purge(ctx, subjects.KVStream(p.bucket), subjects.KVPut(p.bucket, p.key), 0)
		counts["kv."+p.bucket] += n
		if err != nil {
			return counts, err
		}
	}
	return counts, nil
}

// Objects deletes the attachments of the conversations and those the customer uploaded.
type Objects struct{ Bus *bus.Bus }

// Name implements Eraser.
func (Objects) Name() string { return "objects" }

// Erase implements Eraser.
func (o Objects) Erase(ctx context.Context, t Target) (map[string]int64, error) {
	all, err := o.Bus.Attachments(ctx)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	for _, a := range all {
		if a.Tenant != t.Tenant || (a.Uploader != t.User && !slices.Contains(t.Convs, a.Conv)) {
			continue
		}
		if err := o.Bus.DeleteAttachment(ctx, a); err != nil {
			return counts, err
		}
		counts["objects"]++
		counts["objects.bytes"] += a.Size
	}
	return counts, nil
}

// Default registers the record's stores: the conversations are found in Postgres and the
// buckets, the dispatcher closes and forgets those still open (nothing new is written of
// them after), the persister's ingest records what the streams still held of them (Ingested),
// then the dead-letter copies are deleted and the streams purged, then the buckets, the
// attachments, Postgres (with the tombstones: nothing is copied back into the record after it
// is erased, whatever the ingest took when), and last
// the erased event tells platform consumers. js is the connection erasing (reads, the erase
// commands, the event), own the persister's own identity (its durables' state); b purges and
// deletes.
func Default(pool *pgxpool.Pool, js, own jetstream.JetStream, b *bus.Bus, log *zap.Logger, extra ...Table) *Registry {
	r := &Registry{}
	r.Finders(PostgresFinder{Pool: pool}, BucketFinder{JS: js})
	r.Register(InFlight{JS: js}, Ingested{JS: js, Own: own, Pool: pool, Durables: IngestDurables, Log: log}, DeadLetters{Bus: b},
		Streams{Bus: b}, Buckets{Bus: b}, Objects{Bus: b},
		Postgres{Pool: pool, Tables: append(slices.Clone(extra), PostgresTables...)}, Announce{JS: js})
	streams := make([]string, 0, len(IngestDurables))
	for _, d := range IngestDurables {
		streams = append(streams, d.Stream)
	}
	r.Tombstones(Tombstones{Pool: pool, Own: own, Streams: streams})
	return r
}
