package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// Small batches are written from arrays in one pipelined implicit transaction, large ones
// through COPY and the staging table; both must keep the same guarantees: a batch lands once,
// the report facts count each message once, senders, participants and the search index are
// recorded, and a refused batch leaves nothing behind (the ingest isolates bad rows by
// splitting on that).
func TestWriteMessagesBothPaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rows int
	}{
		{name: "one row from arrays", rows: 1},
		{name: "largest batch from arrays", rows: store.ArrayBatchMax},
		{name: "smallest batch through the staging table", rows: store.ArrayBatchMax + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, pool := newStore(t)
			ctx := context.Background()
			now := time.Now().Truncate(time.Microsecond)
			var rows []store.MessageRow
			for i := range tc.rows {
				conv := fmt.Sprintf("c%d", i%7)
				r := msg("acme", conv, int64(i+1), fmt.Sprintf("u%d", i%7), fmt.Sprintf("word%d shared", i), now.Add(time.Duration(i)*time.Millisecond))
				if i%3 == 1 {
					r.Msg.From.Id, r.Msg.From.Role = "agent1", "agent"
				}
				rows = append(rows, r)
			}

			// Refused by the messages' insert, and by the senders' upsert that follows it in
			// the same transaction (which must take the inserted messages back with it).
			for _, spoil := range []func(r *store.MessageRow){
				func(r *store.MessageRow) { r.Msg.Id = "m_" + randomHex(t, 6000) },
				func(r *store.MessageRow) { r.Msg.From.Id = randomHex(t, 6000) },
			} {
				bad := append([]store.MessageRow(nil), rows...)
				bad[len(bad)-1] = msg("acme", "c0", int64(len(rows)+1), "u0", "bad", now)
				spoil(&bad[len(bad)-1])
				var pe *pgconn.PgError
				if _, err := st.WriteMessages(ctx, bad); !errors.As(err, &pe) || pe.Code != "54000" {
					t.Fatalf("refused batch: %v, want SQLSTATE 54000", err)
				}
			}
			counts := func() (msgs, facts, users, parts, indexed int) {
				t.Helper()
				err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM messages),
					(SELECT coalesce(sum(messages), 0) FROM report_conversations),
					(SELECT count(*) FROM users WHERE id <> ''),
					(SELECT count(*) FROM conversation_participants),
					(SELECT count(*) FROM messages WHERE search @@ to_tsquery('simple', 'shared'))`).Scan(&msgs, &facts, &users, &parts, &indexed)
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if m, f, u, p, _ := counts(); m+f+u+p != 0 {
				t.Fatalf("after a refused batch: %d messages, %d in facts, %d users, %d participants", m, f, u, p)
			}

			for pass, want := range []store.WriteResult{{Inserted: int64(tc.rows)}, {Duplicates: int64(tc.rows)}} {
				res, err := st.WriteMessages(ctx, rows)
				if err != nil {
					t.Fatal(err)
				}
				if res != want {
					t.Fatalf("write %d: %+v, want %+v", pass+1, res, want)
				}
			}
			m, f, u, p, idx := counts()
			if m != tc.rows || f != tc.rows || idx != tc.rows {
				t.Fatalf("%d messages, %d in facts, %d found by search, want %d each", m, f, idx, tc.rows)
			}
			if wantUsers := len(distinctSenders(rows)); u != wantUsers || p < 1 {
				t.Fatalf("%d users (want %d), %d participants", u, wantUsers, p)
			}
		})
	}
}

func distinctSenders(rows []store.MessageRow) map[string]bool {
	out := map[string]bool{}
	for _, r := range rows {
		out[r.Msg.From.Id] = true
	}
	return out
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
