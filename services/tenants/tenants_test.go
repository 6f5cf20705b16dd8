package tenants_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

const seedYAML = `
tenants:
  - id: demo
    name: Demo Inc.
    allowed_origins: ["http://localhost:*", "https://*.demo.example"]
    anonymous_visitors: true
    limits: {max_frame_bytes: 32768, messages_per_second: 5}
    hours:
      time_zone: Europe/Paris
      windows:
        - {days: [mon, tue, wed, thu, fri], open: "09:00", close: "18:00"}
    queues:
      - {name: general}
      - {name: billing, skills: [billing], language: en}
    bot:
      greeting: Hello!
      knowledge:
        articles:
          - {id: a1, title: Refunds, questions: ["how do I get a refund?"], answer: Within 30 days.}
    attachments: {max_bytes: 1048576}
  - id: quiet
    name: Quiet
    bot: {enabled: false}
`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tenants.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	ts, err := tenants.LoadFile(writeFile(t, seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 {
		t.Fatalf("%d tenants", len(ts))
	}
	demo, quiet := ts[0], ts[1]
	if demo.GetId() != "demo" || len(demo.GetAllowedOrigins()) != 2 || !demo.GetAnonymousVisitors() ||
		demo.GetLimits().GetMaxFrameBytes() != 32768 || demo.GetQueues()[1].GetSkills()[0] != "billing" ||
		demo.GetAttachments().GetMaxBytes() != 1<<20 ||
		demo.GetBot().GetKnowledge().GetArticles()[0].GetAnswer() != "Within 30 days." {
		t.Errorf("demo = %v", demo)
	}
	if !tenants.BotEnabled(demo) {
		t.Error("a bot block without enabled means enabled")
	}
	if tenants.BotEnabled(quiet) {
		t.Error("enabled: false must stay false")
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error
	}{
		{name: "unknown field", yaml: "tenants:\n  - id: acme\n    colour: red\n", want: []string{`tenant "acme"`, "colour"}},
		{name: "unknown nested field", yaml: "tenants:\n  - id: acme\n    bot: {modle: {}}\n", want: []string{`tenant "acme"`, "modle"}},
		{name: "unknown top-level key", yaml: "tenant:\n  - id: acme\n", want: []string{"tenant"}},
		{name: "bad id", yaml: "tenants:\n  - id: acme.corp\n", want: []string{`"acme.corp"`, "id"}},
		{name: "missing id", yaml: "tenants:\n  - name: x\n", want: []string{"tenant #1", "id"}},
		{name: "duplicate id", yaml: "tenants:\n  - id: a\n  - id: a\n", want: []string{"duplicate"}},
		{name: "wrong type", yaml: "tenants:\n  - id: a\n    limits: {burst: lots}\n", want: []string{`tenant "a"`, "burst"}},
		{name: "bad policy", yaml: "tenants:\n  - id: a\n    routing: {policy: random}\n", want: []string{"routing.policy"}},
		{name: "bad zone", yaml: "tenants:\n  - id: a\n    hours: {time_zone: Mars/Base}\n", want: []string{"hours.time_zone"}},
		{name: "bad hours", yaml: "tenants:\n  - id: a\n    hours: {time_zone: UTC, windows: [{days: [mon], open: '18:00', close: '09:00'}]}\n", want: []string{"hours.windows[0].close"}},
		{name: "bad day", yaml: "tenants:\n  - id: a\n    hours: {time_zone: UTC, windows: [{days: [monday], open: '09:00', close: '17:00'}]}\n", want: []string{"days"}},
		{name: "bad queue", yaml: "tenants:\n  - id: a\n    queues: [{name: 'a b'}]\n", want: []string{"queues[0].name"}},
		{name: "negative limit", yaml: "tenants:\n  - id: a\n    limits: {burst: -1}\n", want: []string{"limits.burst"}},
		{name: "issuer without keys", yaml: "tenants:\n  - id: a\n    customer_issuers: [{issuer: x, audience: y}]\n", want: []string{"customer_issuers[0]", "exactly one"}},
		{name: "issuer with both key sets", yaml: "tenants:\n  - id: a\n    customer_issuers: [{issuer: x, audience: y, jwks_url: 'https://x/k', jwks: '{}'}]\n", want: []string{"exactly one"}},
		{name: "issuer without audience", yaml: "tenants:\n  - id: a\n    customer_issuers: [{issuer: x, jwks: '{}'}]\n", want: []string{"customer_issuers[0].audience"}},
		{name: "issuer over http", yaml: "tenants:\n  - id: a\n    customer_issuers: [{issuer: x, audience: y, jwks_url: 'http://keys.example/k'}]\n", want: []string{"jwks_url", "https"}},
		{name: "issuer lifetime", yaml: "tenants:\n  - id: a\n    customer_issuers: [{issuer: x, audience: y, jwks: '{}', max_lifetime_s: 9999999}]\n", want: []string{"max_lifetime_s"}},
		{name: "sso secret from any variable", yaml: "tenants:\n  - id: a\n    staff_sso: {issuer: 'https://idp', client_id: c, client_secret_env: FRONTDESK_GATEWAY_SIGNING_KEYS}\n", want: []string{"client_secret_env", "FRONTDESK_SSO_"}},
		{name: "sso secret file path", yaml: "tenants:\n  - id: a\n    staff_sso: {issuer: 'https://idp', client_id: c, client_secret_file: ../../etc/passwd}\n", want: []string{"client_secret_file"}},
		{name: "sso without client", yaml: "tenants:\n  - id: a\n    staff_sso: {issuer: 'https://idp'}\n", want: []string{"staff_sso.client_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tenants.LoadFile(writeFile(t, tt.yaml))
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := tenants.LoadFile(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("missing file: want error")
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	in := &frontdeskv1.Tenant{Id: "a", Limits: &frontdeskv1.Limits{Burst: 5}, Bot: &frontdeskv1.Bot{Enabled: true}}
	orig := proto.Clone(in)
	d := tenants.Defaults(in)
	if !proto.Equal(in, orig) {
		t.Fatal("Defaults modified its argument")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"burst kept", d.GetLimits().GetBurst(), int32(5)},
		{"max frame", d.GetLimits().GetMaxFrameBytes(), int32(65536)},
		{"rate", d.GetLimits().GetMessagesPerSecond(), 10.0},
		{"user rate", d.GetLimits().GetUserMessagesPerSecond(), 20.0},
		{"conns", d.GetLimits().GetMaxConnectionsPerUser(), int32(10)},
		{"grace", d.GetAgentOfflineGraceS(), int32(30)},
		{"policy", d.GetRouting().GetPolicy(), "least_busy"},
		{"offer timeout", d.GetRouting().GetOfferTimeoutS(), int32(20)},
		{"misses", d.GetRouting().GetMaxMissedOffers(), int32(3)},
		{"hook timeout", d.GetRouting().GetHookTimeoutMs(), int32(200)},
		{"handoff", d.GetBot().GetHandoffAfterFailures(), int32(2)},
		{"history", d.GetBot().GetHistoryTurns(), int32(10)},
		{"model timeout", d.GetBot().GetModel().GetTimeoutS(), int32(30)},
		{"concurrency", d.GetBot().GetModel().GetMaxConcurrency(), int32(8)},
		{"model reply bounded", d.GetBot().GetModel().GetMaxTokens(), int32(tenants.DefaultModelMaxTokens)},
		{"attachments", d.GetAttachments().GetMaxBytes(), int64(10 << 20)},
		{"queue", d.GetQueues()[0].GetName(), "default"},
		{"retention", d.GetRetention().GetMode(), "delete"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(d.GetAttachments().GetTypes()) == 0 {
		t.Error("no default attachment types")
	}
	if tenants.Defaults(&frontdeskv1.Tenant{Id: "b"}).GetBot() != nil {
		t.Error("no bot block must stay no bot")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	in := &frontdeskv1.Tenant{Id: "a", Bot: &frontdeskv1.Bot{Enabled: false, Greeting: "hi"}}
	b, err := tenants.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := tenants.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatalf("round trip changed the tenant: %v -> %v", in, out)
	}
	if _, err := tenants.Unmarshal([]byte(`{"id":"a","nope":1}`)); err == nil {
		t.Error("unknown field: want error")
	}
}

func setup(t *testing.T) (jetstream.KeyValue, context.Context) {
	t.Helper()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	top := streams.Declared(streams.Options{}).Only(subjects.BucketTenants)
	if err := streams.Provision(ctx, js, top); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	return kv, ctx
}

func TestSeedOnlyWritesChanges(t *testing.T) {
	t.Parallel()
	kv, ctx := setup(t)
	ts, err := tenants.LoadFile(writeFile(t, seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	revision := func(id string) uint64 {
		e, err := kv.Get(ctx, id)
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		return e.Revision()
	}
	if err := tenants.Seed(ctx, kv, ts); err != nil {
		t.Fatal(err)
	}
	r1 := revision("demo")
	if err := tenants.Seed(ctx, kv, ts); err != nil {
		t.Fatal(err)
	}
	if r2 := revision("demo"); r2 != r1 {
		t.Fatalf("unchanged seed wrote a new revision: %d -> %d", r1, r2)
	}
	changed := proto.Clone(ts[0]).(*frontdeskv1.Tenant)
	changed.Name = "Demo 2"
	if err := tenants.Seed(ctx, kv, []*frontdeskv1.Tenant{changed}); err != nil {
		t.Fatal(err)
	}
	if r3 := revision("demo"); r3 == r1 {
		t.Fatal("changed seed was not written")
	}
	e, _ := kv.Get(ctx, "demo")
	stored, err := tenants.Unmarshal(e.Value())
	if err != nil || stored.GetName() != "Demo 2" {
		t.Fatalf("stored %v, %v", stored, err)
	}
	// A deleted tenant is seeded again.
	if err := kv.Delete(ctx, "quiet"); err != nil {
		t.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, ts); err != nil {
		t.Fatal(err)
	}
	revision("quiet")
	if err := tenants.Seed(ctx, kv, []*frontdeskv1.Tenant{{Id: "bad id"}}); !errors.Is(err, tenants.ErrInvalid) {
		t.Fatalf("seeding an invalid tenant: err = %v", err)
	}
}

func TestWatchLiveUpdates(t *testing.T) {
	t.Parallel()
	kv, ctx := setup(t)
	ts, err := tenants.LoadFile(writeFile(t, seedYAML))
	if err != nil {
		t.Fatal(err)
	}
	if err := tenants.Seed(ctx, kv, ts[:1]); err != nil {
		t.Fatal(err)
	}

	wctx, stop := context.WithCancel(ctx)
	defer stop()
	store, err := tenants.Watch(wctx, kv, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		changes []string
	)
	store.OnChange(func(id string, tn *frontdeskv1.Tenant) {
		mu.Lock()
		defer mu.Unlock()
		changes = append(changes, fmt.Sprintf("%s:%v", id, tn != nil))
	})

	// Loaded before Watch returned, with defaults applied.
	demo, ok := store.Get("demo")
	if !ok || demo.GetLimits().GetMaxFrameBytes() != 32768 || demo.GetLimits().GetBurst() != tenants.DefaultBurst {
		t.Fatalf("demo = %v, %v", demo, ok)
	}
	if _, ok := store.Get("quiet"); ok {
		t.Fatal("quiet is not seeded yet")
	}
	if err := store.Ready()(ctx); err != nil {
		t.Fatal(err)
	}

	// A put appears live.
	if err := tenants.Seed(ctx, kv, ts); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, ok := store.Get("quiet"); !ok {
			return errors.New("quiet not visible")
		}
		return nil
	})
	// An edit appears live.
	edited := proto.Clone(ts[0]).(*frontdeskv1.Tenant)
	edited.Limits.Burst = 99
	b, _ := tenants.Marshal(edited)
	if _, err := kv.Put(ctx, "demo", b); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if d, _ := store.Get("demo"); d.GetLimits().GetBurst() != 99 {
			return fmt.Errorf("burst = %d", d.GetLimits().GetBurst())
		}
		return nil
	})
	// A broken value is ignored; the last good settings stay.
	if _, err := kv.Put(ctx, "demo", []byte(`{"id":"demo","limits":{"burst":"x"}}`)); err != nil {
		t.Fatal(err)
	}
	// A delete removes the tenant.
	if err := kv.Delete(ctx, "quiet"); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, ok := store.Get("quiet"); ok {
			return errors.New("quiet still visible")
		}
		return nil
	})
	if d, ok := store.Get("demo"); !ok || d.GetLimits().GetBurst() != 99 {
		t.Fatalf("broken value replaced good settings: %v", d)
	}
	mu.Lock()
	got := strings.Join(changes, " ")
	mu.Unlock()
	if got != "quiet:true demo:true quiet:false" {
		t.Errorf("changes = %q", got)
	}

	// Once the context ends the store says so.
	stop()
	select {
	case <-store.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("watcher did not stop")
	}
	if err := store.Ready()(ctx); err == nil {
		t.Fatal("Ready after stop: want error")
	}
}

// TestWatchSurvivesNATSRestart: the store must keep following the bucket across a NATS
// restart, since every service relies on it for live changes.
func TestWatchSurvivesNATSRestart(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	top := streams.Declared(streams.Options{}).Only(subjects.BucketTenants)
	if err := streams.Provision(ctx, js, top); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	store, err := tenants.Watch(ctx, kv, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ns.Restart(t)
	// The store's watcher notices the restart by its missed heartbeats and re-subscribes
	// where it left off: allow a few heartbeat periods.
	testkit.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		// A request sent while the server was still starting can go unanswered: give each
		// attempt its own deadline rather than the whole test's.
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := tenants.Seed(actx, kv, []*frontdeskv1.Tenant{{Id: "after"}}); err != nil {
			return err
		}
		if _, ok := store.Get("after"); !ok {
			return errors.New("tenant written after the restart not visible")
		}
		return nil
	})
	if err := store.Ready()(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSeedFile(t *testing.T) {
	t.Parallel()
	kv, ctx := setup(t)
	if err := tenants.SeedFile(ctx, kv, ""); err != nil {
		t.Fatalf("no file: %v", err)
	}
	if err := tenants.SeedFile(ctx, kv, writeFile(t, seedYAML)); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "demo"); err != nil {
		t.Fatalf("demo not seeded: %v", err)
	}
	if err := tenants.SeedFile(ctx, kv, writeFile(t, "tenants: [{id: \"bad.id\"}]\n")); !errors.Is(err, tenants.ErrFile) {
		t.Fatalf("a bad file seeded: %v, want tenants.ErrFile", err)
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	if _, err := tenants.Open(ctx, ctx, js, "", testkit.Logger(t)); err == nil || !strings.Contains(err.Error(), "tenants bucket") {
		t.Fatalf("open without the bucket: %v, want an error naming the bucket", err)
	}
	// The file is read first: a bad one is a configuration error even while the bucket is missing.
	if _, err := tenants.Open(ctx, ctx, js, writeFile(t, "tenants: [{id: \"bad.id\"}]\n"), testkit.Logger(t)); !errors.Is(err, tenants.ErrFile) {
		t.Fatalf("open a bad file without the bucket: %v, want tenants.ErrFile", err)
	}
	if err := streams.Provision(ctx, js, streams.Declared(streams.Options{}).Only(subjects.BucketTenants)); err != nil {
		t.Fatal(err)
	}
	if _, err := tenants.Open(ctx, ctx, js, writeFile(t, "tenants: [{id: \"bad.id\"}]\n"), testkit.Logger(t)); !errors.Is(err, tenants.ErrFile) {
		t.Fatalf("a bad file opened: %v, want tenants.ErrFile", err)
	}
	watchCtx, stop := context.WithCancel(ctx)
	store, err := tenants.Open(ctx, watchCtx, js, writeFile(t, seedYAML), testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Get("demo"); !ok {
		t.Fatal("demo not loaded from the seeded bucket")
	}
	stop()
	select {
	case <-store.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the watch outlived its context")
	}
}
