package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestVersion(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"persister", "--version"}, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "persister ") {
		t.Fatalf("version output %q", out.String())
	}
}

// `persister migrate` is the Helm hook job: it applies the schema and exits.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	url := testkit.Database(t)
	env := map[string]string{"FRONTDESK_DATABASE_URL": url, "FRONTDESK_LOG_LEVEL": "warn"}
	for range 2 { // the second run finds nothing to do
		if err := run(context.Background(), []string{"persister", "migrate"}, func(k string) string { return env[k] }, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("schema_migrations: %d, %v", n, err)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	t.Parallel()
	err := run(context.Background(), []string{"persister", "migrate"}, func(string) string { return "" }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "database.url") {
		t.Fatalf("err = %v", err)
	}
}
