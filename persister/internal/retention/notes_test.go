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

// Contacts follow the tenant's retention in either mode, like notes: a contact neither seen
// nor changed within it is deleted; a customer seen since, or a tenant keeping everything,
// keeps theirs.
func TestContactsRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st := migratedStore(ctx, t)
	eachAgedRow(25, func(seq int64, tenant string, at time.Time) {
		c := &fd.Contact{Id: fmt.Sprint("k", seq), Name: "Ann", Email: "ann@example.com"}
		if err := st.ContactSeen(ctx, tenant, c, "https://shop.example/", at); err != nil {
			t.Fatal(err)
		}
		// The row's updated_at is the write's; age it with the sighting.
		if _, err := pool.Exec(ctx, `UPDATE contacts SET updated_at = $3 WHERE tenant = $1 AND id = $2`, tenant, c.GetId(), at); err != nil {
			t.Fatal(err)
		}
	})
	for _, tenant := range tenantsUnderTest { // the record knows its tenants from their messages
		if err := st.SyncTenant(ctx, tenant, tenant, 0, store.RetentionDelete); err != nil {
			t.Fatal(err)
		}
	}
	r := retention.New(st, retentionSettings, retention.Options{BatchSize: 10, MaxBatches: 3}, nil, testkit.Logger(t))
	if _, err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"deleter": 1, "anonymizer": 1, "keeper": 25, "unconfigured": 25}
	for _, tenant := range tenantsUnderTest {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE tenant = $1`, tenant).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want[tenant] {
			t.Errorf("%s keeps %d contacts, want %d", tenant, n, want[tenant])
		}
	}
}
