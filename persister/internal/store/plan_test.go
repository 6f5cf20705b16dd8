package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A user's conversations are one range scan of conversation_participants_user, however
// many conversations the tenant has, not a scan of the table and a sort.
func TestConversationsUsesParticipantIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	// 200 agents with 100 conversations each.
	for _, q := range []string{
		`INSERT INTO conversations (tenant, id, opened_at)
			SELECT 'acme', 'c' || i, now() - i * interval '1 minute' FROM generate_series(1, 20000) i`,
		`INSERT INTO conversation_participants (tenant, conv, user_id, opened_at)
			SELECT 'acme', 'c' || i, 'agent' || (i % 200), now() - i * interval '1 minute' FROM generate_series(1, 20000) i`,
		`ANALYZE conversations`,
		`ANALYZE conversation_participants`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	text := explain(ctx, t, pool, conversationsSQL, "acme", "agent7", time.Now(), 20)
	if !strings.Contains(text, "conversation_participants_user") || strings.Contains(text, "Seq Scan on conversation_participants") {
		t.Fatalf("plan does not range-scan conversation_participants_user:\n%s", text)
	}
}

// Unread counts are found through indexes whatever the user's history: the user's ranges of
// conversation_participants_user and read_positions' key joined with conversations_open,
// then one probe of read_positions and one range of messages per conversation counted; no
// table is scanned.
func TestUnreadUsesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	// Two tenants of 20,000 conversations, 200 of them open, and 200 agents with 100 each who
	// read them all; in acme a veteran who took part in and read 2,000 (ten times as many as
	// are open); five messages per conversation.
	for _, q := range []string{
		`INSERT INTO conversations (tenant, id, state, opened_at)
			SELECT t, 'c' || i, CASE WHEN i % 100 = 0 THEN 'assigned' ELSE 'closed' END, now() - i * interval '1 minute'
			FROM generate_series(1, 20000) i, unnest(ARRAY['acme', 'other']) t`,
		`INSERT INTO conversation_participants (tenant, conv, user_id, opened_at)
			SELECT t, 'c' || i, 'agent' || (i % 200), now() - i * interval '1 minute'
			FROM generate_series(1, 20000) i, unnest(ARRAY['acme', 'other']) t`,
		`INSERT INTO conversation_participants (tenant, conv, user_id, opened_at)
			SELECT 'acme', 'c' || i, 'veteran', now() - i * interval '1 minute' FROM generate_series(1, 20000, 10) i`,
		`INSERT INTO read_positions (tenant, user_id, conv, seq)
			SELECT tenant, user_id, conv, 7 FROM conversation_participants`,
		`INSERT INTO messages (tenant, conv, seq, id, sender_id, created_at)
			SELECT 'acme', 'c' || (s / 5), s, 'm' || s, 'cust', now() FROM generate_series(5, 100004) s`,
		`ANALYZE conversations`,
		`ANALYZE conversation_participants`,
		`ANALYZE read_positions`,
		`ANALYZE messages`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		sql  string
		args []any
		want []string // indexes the plan must use
	}{
		{"all, short history", unreadAllSQL, []any{"acme", "agent7", MaxUnreadConversations},
			[]string{"conversation_participants_user", "conversations_open", "read_positions_pkey", "messages_pkey"}},
		{"all, long history", unreadAllSQL, []any{"acme", "veteran", MaxUnreadConversations},
			[]string{"conversation_participants_user", "conversations_open", "read_positions_pkey", "messages_pkey"}},
		{"listed", unreadListedSQL, []any{"acme", "agent7", MaxUnreadConversations, []string{"c7", "c207", "c407"}},
			[]string{"read_positions_pkey", "messages_pkey"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := explain(ctx, t, pool, tt.sql, tt.args...)
			if strings.Contains(text, "Seq Scan") {
				t.Fatalf("plan scans a table:\n%s", text)
			}
			for _, idx := range tt.want {
				if !strings.Contains(text, idx) {
					t.Fatalf("plan does not use %s:\n%s", idx, text)
				}
			}
		})
	}
}

// explain returns Postgres's plan for sql with args, one line per plan node.
func explain(ctx context.Context, t *testing.T, pool *pgxpool.Pool, sql string, args ...any) string {
	t.Helper()
	rows, err := pool.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
