package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Page size bounds of the queries: requests asking for more are capped, not refused.
const (
	DefaultHistoryLimit       = 50
	MaxHistoryLimit           = 200
	DefaultConversationsLimit = 20
	MaxConversationsLimit     = 100
	DefaultSearchLimit        = 20
	MaxSearchLimit            = 100
	// MaxUnreadConversations bounds the conversations an unread request counts.
	MaxUnreadConversations = 500
)

func capLimit(n int32, def, hi int) int {
	switch {
	case n <= 0:
		return def
	case int(n) > hi:
		return hi
	default:
		return int(n)
	}
}

const messageCols = `seq, id, client_id, sender_id, sender_role, sender_name, kind, text,
	attachment_id, attachment_url, attachment_type, attachment_size, attachment_name,
	reply_to, revision, created_at, stored_at`

func scanMessage(tenant, conv string) pgx.RowToFunc[*fd.StoredMessage] {
	return func(row pgx.CollectableRow) (*fd.StoredMessage, error) {
		var (
			seq, size, rev                       int64
			id, cid, sid, srole, sname, kind, tx string
			aid, aurl, atype, aname, replyTo     string
			created, stored                      time.Time
		)
		if err := row.Scan(&seq, &id, &cid, &sid, &srole, &sname, &kind, &tx,
			&aid, &aurl, &atype, &size, &aname, &replyTo, &rev, &created, &stored); err != nil {
			return nil, err
		}
		m := &fd.Message{
			Id: id, ClientId: cid, Tenant: tenant, Conv: conv,
			Kind: kind, Text: tx, ReplyTo: replyTo, Revision: uint64(rev),
			CreatedAt: timestamppb.New(created),
		}
		if sid != "" || srole != "" {
			m.From = &fd.Participant{Id: sid, Role: srole, Name: sname}
		}
		if aid != "" {
			m.Attachment = &fd.Attachment{Id: aid, Url: aurl, Type: atype, Size: size, Name: aname}
		}
		return &fd.StoredMessage{Seq: seq, Message: m, StoredAt: timestamppb.New(stored)}, nil
	}
}

// History returns a page of a conversation, oldest first. With After > 0 it returns the
// messages after that seq (sync beyond what the stream holds), else the newest messages
// before Before (0: the newest). More says whether messages exist beyond the page in the
// direction of travel.
func (s *Store) History(ctx context.Context, tenant string, req *fd.HistoryRequest) (*fd.HistoryReply, error) {
	limit := capLimit(req.GetLimit(), DefaultHistoryLimit, MaxHistoryLimit)
	var (
		q    string
		args []any
	)
	switch {
	case req.GetAfter() > 0:
		q = `SELECT ` + messageCols + ` FROM messages WHERE tenant = $1 AND conv = $2 AND seq > $3
			ORDER BY seq LIMIT $4`
		args = []any{tenant, req.GetConv(), req.GetAfter(), limit + 1}
	default:
		before := req.GetBefore()
		if before <= 0 {
			before = 1<<63 - 1
		}
		q = `SELECT ` + messageCols + ` FROM messages WHERE tenant = $1 AND conv = $2 AND seq < $3
			ORDER BY seq DESC LIMIT $4`
		args = []any{tenant, req.GetConv(), before, limit + 1}
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", req.GetConv(), err)
	}
	msgs, err := pgx.CollectRows(rows, scanMessage(tenant, req.GetConv()))
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", req.GetConv(), err)
	}
	reply := &fd.HistoryReply{}
	if len(msgs) > limit {
		reply.More = true
		msgs = msgs[:limit]
	}
	if req.GetAfter() <= 0 {
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	reply.Messages = msgs
	return reply, nil
}

// conversationsSQL pages a user's conversations newest first: one range scan of
// conversation_participants_user, then each conversation by its key and its message count
// and last seq from a range of messages' key. Ties on opened_at are broken by conversation
// id, as the index orders them.
const conversationsSQL = `
	WITH p AS (
		SELECT conv, opened_at FROM conversation_participants
		WHERE tenant = $1 AND user_id = $2 AND opened_at < $3
		ORDER BY opened_at DESC, conv LIMIT $4
	)
	SELECT c.id, c.state, c.customer_id, c.customer_name, c.agent_id, c.agent_name, p.opened_at, c.closed_at,
		COALESCE(m.last_seq, 0), COALESCE(m.n, 0)
	FROM p JOIN conversations c ON c.tenant = $1 AND c.id = p.conv
	LEFT JOIN LATERAL (
		SELECT max(seq) AS last_seq, count(*) AS n FROM messages WHERE tenant = $1 AND conv = p.conv
	) m ON true
	ORDER BY p.opened_at DESC, p.conv`

// Conversations lists the conversations a user took part in, newest first, opened before
// req.Before when set: as the customer, as any agent it was assigned or transferred to (not
// only the last), or as someone who wrote in it. A conversation is listed once the record
// holds one of its events (it has no opened_at before).
func (s *Store) Conversations(ctx context.Context, tenant string, req *fd.ConversationsRequest) (*fd.ConversationsReply, error) {
	limit := capLimit(req.GetLimit(), DefaultConversationsLimit, MaxConversationsLimit)
	before := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if ts := req.GetBefore(); ts != nil && ts.IsValid() && ts.AsTime().Unix() > 0 {
		before = ts.AsTime()
	}
	rows, err := s.pool.Query(ctx, conversationsSQL, tenant, req.GetUser(), before, limit)
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", req.GetUser(), err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*fd.ConversationRecord, error) {
		var (
			id, state, cid, cname, aid, aname string
			opened, closed                    *time.Time
			last, n                           int64
		)
		if err := row.Scan(&id, &state, &cid, &cname, &aid, &aname, &opened, &closed, &last, &n); err != nil {
			return nil, err
		}
		r := &fd.ConversationRecord{Conv: id, State: state, LastSeq: last, MessageCount: n}
		if cid != "" {
			r.Customer = &fd.Participant{Id: cid, Role: "customer", Name: cname}
		}
		if aid != "" {
			r.Agent = &fd.Participant{Id: aid, Role: "agent", Name: aname}
		}
		if opened != nil {
			r.OpenedAt = timestamppb.New(*opened)
		}
		if closed != nil {
			r.ClosedAt = timestamppb.New(*closed)
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("conversations of %s: %w", req.GetUser(), err)
	}
	return &fd.ConversationsReply{Conversations: recs}, nil
}

// The unread queries pick at most $3 conversations x and count, for each, the messages after
// the user's read position that someone else sent: one probe of read_positions' key and one
// range of messages' key per conversation (unreadCountSQL). unreadListedSQL picks the
// conversations an UnreadRequest names ($4). unreadAllSQL picks those the user takes part in
// (conversation_participants: the customer, every agent it was assigned or transferred to,
// everyone who wrote in it) or has read, that the record holds as not closed: both ranges of
// the user's keys joined with conversations_open, which stays small however long the
// history (migration 0005).
const (
	unreadCountSQL = ` LIMIT $3)
	SELECT x.conv, (
		SELECT count(*) FROM messages m
		WHERE m.tenant = $1 AND m.conv = x.conv AND m.sender_id <> $2 AND m.seq > COALESCE((
			SELECT r.seq FROM read_positions r WHERE r.tenant = $1 AND r.user_id = $2 AND r.conv = x.conv), 0)
	)
	FROM x`
	unreadListedSQL = `WITH x AS (SELECT DISTINCT unnest($4::text[]) AS conv` + unreadCountSQL
	unreadAllSQL    = `WITH x AS (
		SELECT p.conv FROM conversation_participants p
			JOIN conversations c ON c.tenant = $1 AND c.id = p.conv AND c.state <> 'closed'
			WHERE p.tenant = $1 AND p.user_id = $2
		UNION
		SELECT r.conv FROM read_positions r
			JOIN conversations c ON c.tenant = $1 AND c.id = r.conv AND c.state <> 'closed'
			WHERE r.tenant = $1 AND r.user_id = $2` + unreadCountSQL
)

// Unread counts, per conversation, the messages after the user's read position that someone
// else sent. Without req.Convs it counts the conversations the user takes part in that are
// not closed: as the customer, as any agent it was assigned or transferred to (not only the
// current one), as someone who wrote in it, or wherever they have a read position; a
// conversation is counted once the record holds one of its events. With req.Convs it counts
// those conversations, whoever asks: the caller decides who may see them.
func (s *Store) Unread(ctx context.Context, tenant string, req *fd.UnreadRequest) (*fd.UnreadReply, error) {
	user := req.GetUser()
	convs := req.GetConvs()
	if len(convs) > MaxUnreadConversations {
		convs = convs[:MaxUnreadConversations]
	}
	q, args := unreadAllSQL, []any{tenant, user, MaxUnreadConversations}
	if len(convs) > 0 {
		q, args = unreadListedSQL, append(args, convs)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("unread of %s: %w", user, err)
	}
	out := map[string]int64{}
	var (
		conv string
		n    int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&conv, &n}, func() error {
		out[conv] = n
		return nil
	}); err != nil {
		return nil, fmt.Errorf("unread of %s: %w", user, err)
	}
	return &fd.UnreadReply{Unread: out}, nil
}

// SnippetWidth is the length, in characters, of a search hit's snippet.
const SnippetWidth = 80

// Search finds messages of a tenant matching every term of the query, best first.
func (s *Store) Search(ctx context.Context, tenant string, req *fd.SearchRequest) (*fd.SearchReply, error) {
	if Filtered(req) {
		return s.searchFiltered(ctx, tenant, req) // search_filtered.go
	}
	terms := SearchTerms(req.GetQuery())
	if len(terms) == 0 {
		return &fd.SearchReply{}, nil
	}
	limit := capLimit(req.GetLimit(), DefaultSearchLimit, MaxSearchLimit)
	rows, err := s.pool.Query(ctx, `
		SELECT conv, seq, text, ts_rank(search, q) AS rank
		FROM messages, to_tsquery('simple', $2) q
		WHERE tenant = $1 AND search @@ q
		ORDER BY rank DESC, created_at DESC LIMIT $3`, tenant, TSQuery(terms), limit)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*fd.SearchHit, error) {
		var (
			h    fd.SearchHit
			text string
			rank float32
		)
		if err := row.Scan(&h.Conv, &h.Seq, &text, &rank); err != nil {
			return nil, err
		}
		h.Snippet = Snippet(text, terms, SnippetWidth)
		h.Rank = float64(rank)
		return &h, nil
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return &fd.SearchReply{Hits: hits}, nil
}
