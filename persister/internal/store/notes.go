package store

// Private notes (stream FD_NOTES): their own table, written like messages (idempotent on the
// stream sequence), searched by staff only; and customers' ratings (the rated event), a few
// columns of the conversation.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// NoteRow is one note to store.
type NoteRow struct {
	// Seq is the FD_NOTES sequence.
	Seq int64
	// Msg is the decoded note; Tenant and Conv must be set.
	Msg *fd.Message
}

const insertNoteSQL = `INSERT INTO notes (tenant, conv, seq, id, author_id, author_role, author_name, text, created_at, search)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, to_tsvector('simple', $10))
ON CONFLICT DO NOTHING`

// WriteNotes stores a batch of notes in one transaction; a note stored before (a redelivery)
// is counted as a duplicate.
func (s *Store) WriteNotes(ctx context.Context, rows []NoteRow) (WriteResult, error) {
	// The notes of an erased conversation are dropped (tombstones.go).
	return withoutErased(ctx, rows, noteConv, s.writeNotes)
}

// noteConv is the conversation of a note row.
func noteConv(r NoteRow) userKey { return userKey{r.Msg.GetTenant(), r.Msg.GetConv()} }

// writeNotes is WriteNotes; it fails with errErased when some of the notes' conversations are
// erased.
func (s *Store) writeNotes(ctx context.Context, rows []NoteRow) (WriteResult, error) {
	tenants := map[string]bool{}
	for _, r := range rows {
		tenants[r.Msg.GetTenant()] = true
	}
	return s.insertConvRows(ctx, "notes", len(rows), convKeys(rows, noteConv), tenants, func(b *pgx.Batch) {
		for _, r := range rows {
			m := r.Msg
			b.Queue(insertNoteSQL, m.GetTenant(), m.GetConv(), r.Seq, m.GetId(), m.GetFrom().GetId(), m.GetFrom().GetRole(),
				m.GetFrom().GetName(), m.GetText(), createdAt(m), SearchDocument(m.GetText()))
		}
	})
}

// insertRows stores n rows of a batch in one transaction: queue adds one INSERT ... ON
// CONFLICT DO NOTHING per row, in order, and the tenants are recorded after them (retention
// walks the tenants the record holds). A row that inserts nothing (stored before: a replay, a
// redelivery) is a duplicate. what names the rows in errors.
func (s *Store) insertRows(ctx context.Context, what string, n int, tenants map[string]bool, queue func(*pgx.Batch)) (WriteResult, error) {
	return s.insertConvRows(ctx, what, n, nil, tenants, queue)
}

// insertConvRows is insertRows of rows of conversations convs, guarded against an erase
// (erasedCheck): the transaction fails with errErased when some of convs are erased.
func (s *Store) insertConvRows(ctx context.Context, what string, n int, convs []userKey, tenants map[string]bool, queue func(*pgx.Batch)) (WriteResult, error) {
	var res WriteResult
	if n == 0 {
		return res, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = WriteResult{}
		b := &pgx.Batch{}
		var guard erasedCheck
		if len(convs) > 0 {
			guard.queue(b, convs)
		}
		queue(b)
		for _, t := range sortedStrings(tenants) {
			b.Queue(insertTenantSQL, t)
		}
		br := tx.SendBatch(ctx, b)
		if len(convs) > 0 {
			if err := guard.read(br); err != nil {
				_ = br.Close()
				return err
			}
		}
		for range n {
			tag, err := br.Exec()
			if err != nil {
				_ = br.Close()
				return fmt.Errorf("insert %s: %w", what, err)
			}
			res.Inserted += tag.RowsAffected()
		}
		for range tenants {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return fmt.Errorf("record tenant: %w", err)
			}
		}
		return br.Close()
	})
	if err != nil {
		return WriteResult{}, fmt.Errorf("write %d %s: %w", n, what, err)
	}
	res.Duplicates = int64(n) - res.Inserted
	return res, nil
}

// Bounds of SearchNotes.
const (
	DefaultNotesLimit = 20
	MaxNotesLimit     = 100
)

const searchNotesSQL = `SELECT conv, seq, author_id, author_role, author_name, text, created_at
FROM notes, to_tsquery('simple', $2) q
WHERE tenant = $1 AND search @@ q AND ($4 = '' OR conv = $4)
ORDER BY ts_rank(search, q) DESC, created_at DESC LIMIT $3`

// SearchNotes is staff's full-text search of a tenant's notes (the gateway lets no customer
// ask), best first, with snippets.
func (s *Store) SearchNotes(ctx context.Context, tenant string, req *fd.NotesSearchRequest) (*fd.NotesSearchReply, error) {
	terms := SearchTerms(req.GetQuery())
	if len(terms) == 0 {
		return &fd.NotesSearchReply{}, nil
	}
	limit := capLimit(req.GetLimit(), DefaultNotesLimit, MaxNotesLimit)
	rows, err := s.pool.Query(ctx, searchNotesSQL, tenant, TSQuery(terms), limit, req.GetConv())
	if err != nil {
		return nil, fmt.Errorf("search notes: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*fd.NoteHit, error) {
		var (
			h    fd.NoteHit
			a    fd.Participant
			text string
			at   time.Time
		)
		if err := row.Scan(&h.Conv, &h.Seq, &a.Id, &a.Role, &a.Name, &text, &at); err != nil {
			return nil, err
		}
		h.Author = &a
		h.Snippet = Snippet(text, terms, SnippetWidth)
		h.At = timestamppb.New(at)
		return &h, nil
	})
	if err != nil {
		return nil, fmt.Errorf("search notes: %w", err)
	}
	return &fd.NotesSearchReply{Hits: hits}, nil
}

const rateConversationSQL = `INSERT INTO conversations AS c (tenant, id, rating_score, rating_scale, rating_comment, rated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (tenant, id) DO UPDATE SET rating_score = EXCLUDED.rating_score, rating_scale = EXCLUDED.rating_scale,
	rating_comment = EXCLUDED.rating_comment, rated_at = EXCLUDED.rated_at, updated_at = now()
WHERE c.rated_at IS NULL`

// queueRatings adds to b the ratings the rated events of rows carry: the first one stored for
// a conversation stays (the dispatcher makes at most one; a redelivery changes nothing).
func queueRatings(b *pgx.Batch, rows []EventRow) {
	for _, r := range rows {
		ev := r.Event
		rt := ev.GetRating()
		if ev.GetType() != frames.EventRated || rt == nil {
			continue
		}
		at := time.Now()
		if ts := rt.GetAt(); ts != nil && ts.IsValid() {
			at = ts.AsTime()
		}
		b.Queue(rateConversationSQL, ev.GetTenant(), ev.GetConv(), rt.GetScore(), rt.GetScale(), rt.GetComment(), at)
	}
}

// ExpireNotes deletes up to limit notes of tenant written before cutoff and returns how many.
// Notes follow the tenant's retention in both modes: a note is staff's words about a customer,
// and without its text there is nothing left to keep.
func (s *Store) ExpireNotes(ctx context.Context, tenant string, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notes WHERE (tenant, conv, seq) IN (
			SELECT tenant, conv, seq FROM notes WHERE tenant = $1 AND created_at < $2
			ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)`, tenant, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("notes retention of %s: %w", tenant, err)
	}
	return tag.RowsAffected(), nil
}
