package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
)

// A user's conversations are one range scan of conversation_participants_user, however
// many conversations the tenant has, not a scan of the table and a sort.
func TestConversationsUsesParticipantIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrate.Apply(ctx, pool, testkit.Logger(t)); err != nil {
		t.Fatal(err)
	}
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
	rows, err := pool.Query(ctx, "EXPLAIN "+conversationsSQL, "acme", "agent7", time.Now(), 20)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "conversation_participants_user") || strings.Contains(text, "Seq Scan on conversation_participants") {
		t.Fatalf("plan does not range-scan conversation_participants_user:\n%s", text)
	}
}
