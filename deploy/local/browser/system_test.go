package browser_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	gateway "github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	persister "github.com/frontdesk-chat/frontdesk/persister/app"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

const secret = "browser-test-development-secret-0123456789"

// gatewayKeys is the gateway's own key set (visitor tokens, console sessions).
var gatewayKeys = func() string {
	b, err := token.GenerateKeys(nil)
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// system is a running Frontdesk.
type system struct {
	URL     string             // the gateway, e.g. http://127.0.0.1:41234
	tenants jetstream.KeyValue // the tenants bucket: tests change settings live through it
}

// modelKeyEnv names the environment variable the tenant's model API key is read from.
const modelKeyEnv = "BROWSER_TEST_MODEL_KEY"

// botReply is what the fake model answers to everything.
const botReply = "Orders ship within 2 business days, and delivery in Europe takes 3 to 5 days. Anything else I can help with?"

// demoTenant is the tenant the pages use: anonymous visitors, the bot on (answering from a fake
// OpenAI-compatible model at modelURL), pages on loopback.
func demoTenant(modelURL string) *fd.Tenant {
	return &fd.Tenant{
		Id: "demo", Name: "Demo", AnonymousVisitors: true,
		AllowedOrigins: []string{"127.0.0.1:*", "localhost:*"},
		Queues:         []*fd.Queue{{Name: "general"}},
		Routing:        &fd.Routing{Policy: "least_busy"},
		Bot: &fd.Bot{Enabled: true, Greeting: "Hi! Ask me anything.",
			Model: &fd.Model{Endpoint: modelURL, Name: "fake-model", ApiKeyEnv: modelKeyEnv, TimeoutS: 20},
			Knowledge: &fd.KnowledgeBase{Articles: []*fd.Article{{
				Id: "shipping", Title: "Shipping times", Questions: []string{"How long does shipping take?", "When will my order arrive?"},
				Answer: "Orders ship within 2 business days. Delivery takes 3 to 5 days in Europe.",
			}}}},
	}
}

// options tune a started system for what a test looks at.
type options struct {
	// presenceTTL is the dispatcher's presence TTL (its default when zero). A dispatcher tells
	// customers that no agent is available only once it has run this long, having heard every
	// agent's heartbeat by then; tests of that notice shorten it rather than wait 30 s.
	presenceTTL time.Duration
	// ssoSecretsDir is the gateway's directory of tenants' SSO client secrets.
	ssoSecretsDir string
	// mailRelay is the SMTP relay (host:port, plain) the persister mails transcripts through.
	mailRelay string
}

// startSystem starts NATS, Postgres and the services with the demo tenant and the extra ones,
// and returns when the gateway serves.
func startSystem(t *testing.T, extra ...*fd.Tenant) *system {
	t.Helper()
	return startSystemWith(t, options{}, extra...)
}

// startSystemWith is startSystem with options.
func startSystemWith(t *testing.T, opts options, extra ...*fd.Tenant) *system {
	t.Helper()
	n := testkit.RunNATS(t)
	_, js := testkit.Connect(t, n.URL())
	testkit.Provision(t, js)
	ctx, cancel := context.WithCancel(context.Background())
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	modelURL := fakeModel(t, botReply, 150*time.Millisecond)
	if err := tenants.Seed(ctx, kv, append([]*fd.Tenant{demoTenant(modelURL)}, extra...)); err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	done := make(chan error, 8)
	running := 0
	t.Cleanup(func() {
		cancel()
		for range running {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("service stopped: %v", err)
			}
		}
	})

	pc := persister.DefaultConfig()
	pc.NATS.URL = n.URL()
	pc.Ops.Addr = "127.0.0.1:0"
	pc.Database.URL = testkit.Database(t)
	pc.Shutdown.Timeout = 5 * time.Second
	if opts.mailRelay != "" {
		pc.Persister.Mail.Addr, pc.Persister.Mail.TLS, pc.Persister.Mail.Poll = opts.mailRelay, "none", 200*time.Millisecond
	}
	ps, err := persister.New(ctx, pc, log.Named("persister"))
	if err != nil {
		t.Fatalf("persister: %v", err)
	}
	running++
	go func() { done <- ps.Run(ctx) }()

	startOthers(ctx, t, opts, n.URL(), log, done, &running)

	gc := gateway.DefaultConfig()
	gc.NATS.URL = n.URL()
	gc.Ops.Addr = "127.0.0.1:0"
	gc.Gateway.Listen = "127.0.0.1:0"
	gc.Gateway.SigningKeys = gatewayKeys
	gc.Gateway.DevSecret = secret
	gc.Gateway.DevTenants = []string{"*"}
	gc.Gateway.SSOSecretsDir = opts.ssoSecretsDir
	gc.Shutdown.Timeout = 5 * time.Second
	gs, err := gateway.New(ctx, gc, log.Named("gateway"))
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	running++
	go func() { done <- gs.Run(ctx) }()
	s := &system{URL: "http://" + gs.Addr(), tenants: kv}
	testkit.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		res, err := http.Get(s.URL + "/widget.js")
		if err != nil {
			return err
		}
		res.Body.Close()
		return nil
	})
	return s
}

// agentToken signs an agent token for the demo tenant.
func agentToken(t *testing.T, id, name string) string {
	t.Helper()
	tok, err := token.Sign([]byte(secret), token.Claims{Subject: id, Tenant: "demo", Role: "agent", Name: name, MaxChats: 3}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
