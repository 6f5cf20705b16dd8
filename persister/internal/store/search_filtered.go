package store

// Workspace search: the full-text search of Search with the console's filters (label, last
// agent, state, opening time) and, for agents, only the conversations they took part in
// (conversation_participants). Without a query it lists the conversations the filters keep,
// newest first.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// searchFilters are SQL conditions on conversations c (LEFT JOINed: a message may be stored
// before the events of its conversation; such a message passes when no filter is set) and on
// the participant $3; $3 to $8 are user, label, agent, state, from and to, $10 the conversation.
const searchFilters = `
	AND ($3 = '' OR EXISTS (SELECT 1 FROM conversation_participants p
		WHERE p.tenant = $1 AND p.conv = c.id AND p.user_id = $3))
	AND ($4 = '' OR c.tags @> ARRAY[$4]::text[])
	AND ($5 = '' OR c.agent_id = $5)
	AND ($6 = '' OR c.state = $6)
	AND ($7::timestamptz IS NULL OR c.opened_at >= $7)
	AND ($8::timestamptz IS NULL OR c.opened_at < $8)
	AND ($10 = '' OR c.id = $10)`

// searchMessagesSQL finds matching messages ($2 is the tsquery, $9 the limit).
const searchMessagesSQL = `SELECT m.conv, m.seq, m.text, ts_rank(m.search, q) AS rank, m.created_at,
	coalesce(c.state, ''), coalesce(c.customer_id, ''), coalesce(c.customer_name, ''),
	coalesce(c.agent_id, ''), coalesce(c.agent_name, ''), c.opened_at, coalesce(c.tags, '{}')
FROM messages m CROSS JOIN to_tsquery('simple', $2) q
LEFT JOIN conversations c ON c.tenant = m.tenant AND c.id = m.conv
WHERE m.tenant = $1 AND m.search @@ q` + searchFilters + `
ORDER BY rank DESC, m.created_at DESC LIMIT $9`

// searchConversationsSQL lists the conversations the filters keep ($2 unused but typed, so
// both statements take the same arguments).
const searchConversationsSQL = `SELECT c.id, 0::bigint, c.summary, 0::real, c.opened_at,
	c.state, c.customer_id, c.customer_name, c.agent_id, c.agent_name, c.opened_at, c.tags
FROM conversations c
WHERE c.tenant = $1 AND $2::text IS NOT NULL` + searchFilters + `
ORDER BY c.opened_at DESC NULLS LAST LIMIT $9`

// Filtered reports whether req asks more than the supervisors' plain text search.
func Filtered(req *fd.SearchRequest) bool {
	return req.GetUser() != "" || req.GetLabel() != "" || req.GetAgent() != "" || req.GetState() != "" ||
		req.GetFrom() != nil || req.GetTo() != nil || req.GetConv() != ""
}

// searchFiltered answers a filtered search.
func (s *Store) searchFiltered(ctx context.Context, tenant string, req *fd.SearchRequest) (*fd.SearchReply, error) {
	terms := SearchTerms(req.GetQuery())
	limit := capLimit(req.GetLimit(), DefaultSearchLimit, MaxSearchLimit)
	var from, to *time.Time
	if ts := req.GetFrom(); ts != nil {
		t := ts.AsTime()
		from = &t
	}
	if ts := req.GetTo(); ts != nil {
		t := ts.AsTime()
		to = &t
	}
	sql, query := searchConversationsSQL, ""
	if len(terms) > 0 {
		sql, query = searchMessagesSQL, TSQuery(terms)
	}
	rows, err := s.pool.Query(ctx, sql, tenant, query, req.GetUser(), req.GetLabel(), req.GetAgent(), req.GetState(),
		from, to, limit, req.GetConv())
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*fd.SearchHit, error) {
		var (
			h                                        fd.SearchHit
			text, custID, custName, agentID, agentNm string
			rank                                     float32
			at, opened                               *time.Time
		)
		if err := row.Scan(&h.Conv, &h.Seq, &text, &rank, &at, &h.State, &custID, &custName, &agentID, &agentNm,
			&opened, &h.Labels); err != nil {
			return nil, err
		}
		if len(terms) > 0 {
			h.Snippet = Snippet(text, terms, SnippetWidth)
		} else {
			h.Snippet = text
		}
		h.Rank = float64(rank)
		if custID != "" {
			h.Customer = &fd.Participant{Id: custID, Name: custName}
		}
		if agentID != "" {
			h.Agent = &fd.Participant{Id: agentID, Name: agentNm}
		}
		if opened != nil {
			h.OpenedAt = timestamppb.New(*opened)
		}
		if at != nil && h.Seq > 0 {
			h.At = timestamppb.New(*at)
		}
		return &h, nil
	})
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return &fd.SearchReply{Hits: hits}, nil
}
