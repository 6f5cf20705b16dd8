package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The workspace's queries read through their indexes on a tenant with a long history: the
// label filter through conversations_tags, a caller's canned responses through
// canned_responses_shortcut, a contact's conversations through conversations_customer.
func TestWorkspaceQueriesUseIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	for _, q := range []string{
		`INSERT INTO conversations (tenant, id, state, customer_id, agent_id, opened_at, tags)
			SELECT t, 'c' || i, 'closed', 'u' || (i % 5000), 'a' || (i % 50), now() - i * interval '1 minute',
				CASE WHEN i % 1000 = 0 THEN ARRAY['vip'] ELSE ARRAY['general'] END
			FROM generate_series(1, 20000) i, unnest(ARRAY['acme', 'other']) t`,
		`INSERT INTO canned_responses (tenant, id, owner, shortcut, text)
			SELECT t, 'cr' || i, CASE WHEN i % 10 = 0 THEN '' ELSE 'a' || (i % 200) END, 's' || i, 'x'
			FROM generate_series(1, 20000) i, unnest(ARRAY['acme', 'other']) t`,
		`ANALYZE conversations`,
		`ANALYZE canned_responses`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var none *time.Time
	tests := []struct {
		name string
		sql  string
		args []any
		want string
	}{
		{"label filter", searchConversationsSQL, []any{"acme", "", "", "vip", "", "", none, none, 20, ""}, "conversations_tags"},
		{"canned list", listCannedSQL, []any{"acme", "a7", 600}, "canned_responses_shortcut"},
		{"contact conversations", contactConversationsSQL, []any{"acme", "u7", 20}, "conversations_customer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := explain(ctx, t, pool, tt.sql, tt.args...)
			if !strings.Contains(text, tt.want) || strings.Contains(text, "Seq Scan on "+strings.Split(tt.want, "_")[0]) {
				t.Fatalf("plan does not use %s:\n%s", tt.want, text)
			}
		})
	}
}
