package migrate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
)

func TestMain(m *testing.M) { testkit.Main(m) }

func TestEmbeddedMigrations(t *testing.T) {
	t.Parallel()
	migs, err := migrate.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(migs) == 0 || migs[0].Version != 1 {
		t.Fatalf("migrations = %v", migs)
	}
	for i := 1; i < len(migs); i++ {
		if migs[i].Version <= migs[i-1].Version {
			t.Fatalf("versions out of order: %d after %d", migs[i].Version, migs[i-1].Version)
		}
	}
}

// Many replicas start at once on an empty database: every one must come up, and each
// migration must be applied exactly once.
func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	url := testkit.Database(t)
	ctx := context.Background()
	const replicas = 4
	results := make([]migrate.Result, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A pool per replica: separate sessions, as separate processes would have.
			pool, err := pgxpool.New(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer pool.Close()
			results[i], errs[i] = migrate.Apply(ctx, pool, testkit.Logger(t))
		}()
	}
	wg.Wait()
	migs, _ := migrate.All()
	applied := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if results[i].Current != migs[len(migs)-1].Version {
			t.Fatalf("replica %d at version %d", i, results[i].Current)
		}
		applied += len(results[i].Applied)
	}
	if applied != len(migs) {
		t.Fatalf("%d migrations applied in total, want %d (each once)", applied, len(migs))
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(migs) {
		t.Fatalf("schema_migrations has %d rows, want %d", rows, len(migs))
	}
	// Running again is a no-op.
	res, err := migrate.Apply(ctx, pool, nil)
	if err != nil || len(res.Applied) != 0 {
		t.Fatalf("re-apply: %v, %v", res, err)
	}
}

// The original 0001 is pinned: it was applied by released builds, so its content must never
// change again (a54e5ea and 44b0dfb edited it; those changes are 0002 and 0003 now).
func TestReleasedMigrationsUnchanged(t *testing.T) {
	t.Parallel()
	released := map[string]string{
		"0001_init.sql": "438fbe48dbe1e0cd5d1c2750237e343d03a2e5e5e5f14e3aa8c1703fc97ed5d4",
	}
	migs, err := migrate.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		if want, ok := released[m.Name]; ok && m.Checksum() != want {
			t.Errorf("%s was edited after release (sha256 %s, released %s): put the change in a new migration", m.Name, m.Checksum(), want)
		}
	}
}

// An applied migration whose file changed stops Apply before anything runs, naming the file;
// one applied before checksums were recorded gets its checksum recorded.
func TestChangedMigrationRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	migs := []migrate.Migration{
		{Version: 1, Name: "0001_a.sql", SQL: "CREATE TABLE a (id int)"},
		{Version: 2, Name: "0002_b.sql", SQL: "CREATE TABLE b (id int)"},
	}
	if _, err := migrate.ApplyThese(ctx, pool, nil, migs); err != nil {
		t.Fatal(err)
	}

	edited := []migrate.Migration{migs[0], migs[1], {Version: 3, Name: "0003_c.sql", SQL: "CREATE TABLE c (id int)"}}
	edited[1].SQL = "CREATE TABLE b (id int, more text)"
	_, err = migrate.ApplyThese(ctx, pool, nil, edited)
	if !errors.Is(err, migrate.ErrChanged) || !strings.Contains(err.Error(), "0002_b.sql") {
		t.Fatalf("apply with an edited 0002: %v, want ErrChanged naming 0002_b.sql", err)
	}
	var c bool
	if err := pool.QueryRow(ctx, "SELECT to_regclass('c') IS NOT NULL").Scan(&c); err != nil || c {
		t.Fatalf("0003 ran although 0002 was edited (%v)", err)
	}

	// A database from before checksums: the column is empty; Apply records the checksum
	// (trusting what was applied) and then catches an edit.
	if _, err := pool.Exec(ctx, "UPDATE schema_migrations SET checksum = NULL"); err != nil {
		t.Fatal(err)
	}
	res, err := migrate.ApplyThese(ctx, pool, nil, append(migs[:2:2], edited[2]))
	if err != nil || !slices.Equal(res.Applied, []int{3}) {
		t.Fatalf("apply after NULL checksums: %v, %v", res, err)
	}
	var missing int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations WHERE checksum IS NULL").Scan(&missing); err != nil || missing != 0 {
		t.Fatalf("%d checksums not recorded (%v)", missing, err)
	}
	if _, err := migrate.ApplyThese(ctx, pool, nil, edited); !errors.Is(err, migrate.ErrChanged) {
		t.Fatalf("edit after backfill: %v, want ErrChanged", err)
	}
}
