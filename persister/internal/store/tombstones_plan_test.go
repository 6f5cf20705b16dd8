package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// The erase guards of the write paths probe the tombstones' primary keys: a small batch costs
// a few index probes however many customers were erased, never a scan of the tombstones.
func TestTombstoneChecksUseKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := MigratedPool(t)
	for _, q := range []string{
		`INSERT INTO erased_conversations (tenant, conv) SELECT 'acme', 'x' || i FROM generate_series(1, 20000) i`,
		`INSERT INTO erased_contacts (tenant, user_id) SELECT 'acme', 'x' || i FROM generate_series(1, 20000) i`,
		`ANALYZE erased_conversations`,
		`ANALYZE erased_contacts`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	rows := make([]MessageRow, 8)
	for i := range rows {
		rows[i] = MessageRow{Seq: int64(i + 1), Msg: &fd.Message{Id: fmt.Sprint("m", i), Tenant: "acme", Conv: fmt.Sprint("c", i%2),
			From: &fd.Participant{Id: "u1", Role: "customer"}, Text: "hi", CreatedAt: timestamppb.New(time.Now())}}
	}
	for _, tc := range []struct {
		name string
		sql  string
		args []any
		want []string
	}{
		{"messages", insertArrayMessagesAndFactsSQL, messageArrays(rows), []string{"erased_conversations_pkey", "erased_contacts_pkey"}},
		{"senders", upsertUsersSQL, []any{[]string{"acme"}, []string{"u1"}, []string{"customer"}, []string{""}, []time.Time{time.Now()}, []string{"c1"}},
			[]string{"erased_contacts_pkey", "erased_conversations_pkey"}},
		{"participants", insertParticipantsSQL, []any{[]string{"acme"}, []string{"c1"}, []string{"u1"}}, []string{"erased_conversations_pkey"}},
		{"guard", erasedConvsSQL, []any{[]string{"acme", "acme"}, []string{"c1", "c2"}}, []string{"erased_conversations_pkey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := explain(ctx, t, pool, tc.sql, tc.args...)
			for _, idx := range tc.want {
				if !strings.Contains(text, idx) {
					t.Errorf("plan does not probe %s:\n%s", idx, text)
				}
			}
			if strings.Contains(text, "Seq Scan on erased_") {
				t.Errorf("plan scans the tombstones:\n%s", text)
			}
		})
	}
}
