package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/retention"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// Private notes follow the tenant's retention, in either mode: past it they are deleted;
// a tenant without retention, or not configured, keeps them.
func TestNotesRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st := migratedStore(ctx, t)
	var rows []store.NoteRow
	eachAgedRow(25, func(seq int64, tenant string, at time.Time) {
		rows = append(rows, store.NoteRow{Seq: seq, Msg: &fd.Message{Id: fmt.Sprint("n", seq), Tenant: tenant, Conv: "c1",
			Text: "staff only", From: &fd.Participant{Id: "a1", Role: "agent"}, CreatedAt: timestamppb.New(at)}})
	})
	if _, err := st.WriteNotes(ctx, rows); err != nil {
		t.Fatal(err)
	}
	r := retention.New(st, retentionSettings, retention.Options{BatchSize: 10, MaxBatches: 3}, nil, testkit.Logger(t))
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"deleter": 1, "anonymizer": 1, "keeper": 25, "unconfigured": 25}
	for _, tenant := range tenantsUnderTest {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM notes WHERE tenant = $1`, tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want[tenant] {
			t.Errorf("%s keeps %d notes, want %d", tenant, n, want[tenant])
		}
	}
}
