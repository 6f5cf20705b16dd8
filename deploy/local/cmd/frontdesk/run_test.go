package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/pgrun"
	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/wsclient"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of run and reads of the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	reToken  = regexp.MustCompile(`/agent#token=(\S+)`)
	reSecret = regexp.MustCompile(`Development secret[^\n]*\n\s+(\S+)`)
)

// TestRunTwice is `make run` on a fresh machine, twice: the first run creates the NATS store,
// the Postgres cluster and the secret under the data directory, serves the widget, issues
// visitor tokens and accepts the printed agent token; Ctrl-C stops everything; the second run
// reuses all of it (same secret, the cluster comes back).
func TestRunTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	if _, err := pgrun.FindBin(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	// Postgres runs as another user when we are root: the data directory must be reachable.
	base := testkit.ReachableTempDir(t)
	data := filepath.Join(base, ".data")
	tenants := filepath.Join("..", "..", "demo", "tenants.yaml")
	noEnv := func(string) string { return "" }

	var secrets []string
	for round := range 2 {
		port := freePort(t)
		args := []string{"frontdesk", "-data", data, "-tenants", tenants, "-nats-port", "-1", "-pg-port", "-1",
			"-ops-port", "0", "-listen", "127.0.0.1:" + strconv.Itoa(port), "-log-level", "warn"}
		ctx, cancel := context.WithCancel(context.Background())
		out := &syncBuffer{}
		errc := make(chan error, 1)
		go func() { errc <- run(ctx, args, noEnv, out) }()

		testkit.CheckFor(t, 2*time.Minute, 100*time.Millisecond, func() error {
			select {
			case err := <-errc:
				t.Fatalf("round %d: run returned before ready: %v", round, err)
			default:
			}
			if !strings.Contains(out.String(), "Frontdesk is running") {
				return errNotYet
			}
			return nil
		})
		banner := out.String()
		tok := reToken.FindStringSubmatch(banner)
		sec := reSecret.FindStringSubmatch(banner)
		if tok == nil || sec == nil {
			t.Fatalf("banner lacks the agent token or secret:\n%s", banner)
		}
		secrets = append(secrets, sec[1])
		if !strings.Contains(banner, "http://localhost:"+strconv.Itoa(port)+"/agent") {
			t.Errorf("banner lacks the console URL:\n%s", banner)
		}

		web := "http://127.0.0.1:" + strconv.Itoa(port)
		resp, err := http.Get(web + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /: %s", resp.Status)
		}
		rctx, rcancel := context.WithTimeout(ctx, 30*time.Second)
		if _, _, err := wsclient.Visitor(rctx, web, "demo", "Visitor"); err != nil {
			t.Errorf("visitor token: %v", err)
		}
		agent, err := wsclient.Dial(rctx, web, tok[1], nil)
		if err != nil {
			t.Fatalf("agent token from the banner: %v", err)
		}
		if agent.Welcome.GetRole() != frames.RoleAgent || agent.Welcome.GetTenant() != "demo" {
			t.Errorf("agent welcome: %v", agent.Welcome)
		}
		agent.Close()
		rcancel()

		cancel() // Ctrl-C
		select {
		case err := <-errc:
			if err != nil {
				t.Fatalf("round %d: run: %v", round, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("round %d: run did not stop within 60s", round)
		}
		// Everything is down: the gateway port is free again.
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err != nil {
			t.Errorf("gateway port still taken after stop: %v", err)
		} else {
			_ = ln.Close()
		}
	}
	if secrets[0] != secrets[1] {
		t.Errorf("secret changed between runs: %s then %s", secrets[0], secrets[1])
	}
	for _, sub := range []string{"nats", "postgres/data/PG_VERSION", "jwt-secret"} {
		if _, err := os.Stat(filepath.Join(data, sub)); err != nil {
			t.Errorf("data directory: %v", err)
		}
	}
}

type notYet struct{}

func (notYet) Error() string { return "not yet" }

var errNotYet error = notYet{}

func TestPublicBase(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, listen, want string }{
		{"all interfaces", ":8080", "http://localhost:8080"},
		{"loopback", "127.0.0.1:9000", "http://localhost:9000"},
		{"named host", "example.test:80", "http://example.test:80"},
		{"unparseable", "nonsense", "http://localhost:8080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := publicBase(tt.listen); got != tt.want {
				t.Errorf("publicBase(%q) = %q, want %q", tt.listen, got, tt.want)
			}
		})
	}
}

func TestPrefixWriter(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := &prefixWriter{mu: &sync.Mutex{}, w: &out, prefix: "gw| "}
	for _, s := range []string{"one\ntw", "o\n", "three"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String(), "gw| one\ngw| two\n"; got != want {
		t.Errorf("got %q, want %q (a partial line waits for its end)", got, want)
	}
}
