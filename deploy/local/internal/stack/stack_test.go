package stack

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestSeedDemo seeds the demo tenants file into a real JetStream server and reads the tenant
// back: knowledge paths are absolute and point at the demo knowledge base.
func TestSeedDemo(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := Provision(ctx, nc, 1); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join("..", "..", "demo", "tenants.yaml")
	if _, err := Seed(ctx, nc, file); err != nil {
		t.Fatal(err)
	}
	// Seeding twice is a no-op.
	if _, err := Seed(ctx, nc, file); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if e.Revision() != 1 {
		t.Errorf("revision %d after seeding twice, want 1", e.Revision())
	}
	demo, err := tenants.Unmarshal(e.Value())
	if err != nil {
		t.Fatal(err)
	}
	if !demo.GetAnonymousVisitors() || !demo.GetBot().GetEnabled() {
		t.Errorf("demo: anonymous %v, bot %v", demo.GetAnonymousVisitors(), demo.GetBot().GetEnabled())
	}
	var queues []string
	for _, q := range demo.GetQueues() {
		queues = append(queues, q.GetName())
	}
	if !slices.Contains(queues, "general") {
		t.Errorf("queues %v lack general", queues)
	}
	paths := demo.GetBot().GetKnowledge().GetPaths()
	if len(paths) == 0 {
		t.Fatal("no knowledge paths")
	}
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			t.Errorf("knowledge path %q is relative", p)
		}
		if _, err := os.Stat(filepath.Join(p, "en", "shipping.md")); err != nil {
			t.Errorf("knowledge path %q: %v", p, err)
		}
	}
}

// TestSecret covers the three sources of the JWT secret.
func TestSecret(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "sub", "jwt-secret")
	none := func(string) string { return "" }

	s1, created, err := Secret(none, file)
	if err != nil || !created || len(s1) != 64 {
		t.Fatalf("first: %q %v %v", s1, created, err)
	}
	s2, created, err := Secret(none, file)
	if err != nil || created || s2 != s1 {
		t.Fatalf("second: %q %v %v, want %q reused", s2, created, err, s1)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode: %v %v", fi.Mode(), err)
	}
	env := func(k string) string {
		if k == EnvJWTSecret {
			return "from-env"
		}
		return ""
	}
	if s, _, _ := Secret(env, file); s != "from-env" {
		t.Fatalf("env secret: %q", s)
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	s := Settings{NATSURL: "nats://127.0.0.1:1", DatabaseURL: "postgres://x/y", JWTSecret: "k",
		Extra: map[string][]string{Gateway: {"FRONTDESK_GATEWAY_LISTEN=:1"}}}
	tests := []struct {
		name, svc, key, want string
	}{
		{"nats url", Dispatcher, "FRONTDESK_NATS_URL", "nats://127.0.0.1:1"},
		{"ops default", AIBridge, "FRONTDESK_OPS_ADDR", "127.0.0.1:9093"},
		{"database only for the persister", Persister, "FRONTDESK_DATABASE_URL", "postgres://x/y"},
		{"no database elsewhere", Gateway, "FRONTDESK_DATABASE_URL", ""},
		{"secret", Gateway, EnvSecret, "k"},
		{"extra wins", Gateway, "FRONTDESK_GATEWAY_LISTEN", ":1"},
		{"debug endpoints off unless asked", Gateway, "FRONTDESK_OPS_DEBUG", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Getenv(s.Env(tt.svc))(tt.key); got != tt.want {
				t.Errorf("%s of %s = %q, want %q", tt.key, tt.svc, got, tt.want)
			}
		})
	}
	d := s
	d.OpsDebug = true
	for _, svc := range Names() {
		if got := Getenv(d.Env(svc))("FRONTDESK_OPS_DEBUG"); got != "true" {
			t.Errorf("OpsDebug: FRONTDESK_OPS_DEBUG of %s = %q, want true", svc, got)
		}
	}
}
