package natsauth_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestConsumerPermissions issues a platform consumer (natsauth -consumer
// analytics:FD_EVENTS,FD_MESSAGES) and shows, with its real credentials against a server running
// the generated accounts, that it reads both streams through its own durables and that the
// server refuses everything else it might try: publishing data, touching the services'
// durables or other durable names, reading streams it was not given, changing streams or
// buckets.
func TestConsumerPermissions(t *testing.T) {
	pc, err := natsauth.ParseConsumer("analytics:" + subjects.StreamEvents + "," + subjects.StreamMessages)
	must(t, "parse", err)
	e := startWith(t, natsauth.Config{Consumers: []natsauth.PlatformConsumer{pc}})
	const tn, cv, usr = "acme", "c_1", "u1"
	user := pc.UserName()
	if user != "consumer-analytics" || pc.Durable(subjects.StreamEvents) != "analytics-events" {
		t.Fatalf("user %q, durable %q", user, pc.Durable(subjects.StreamEvents))
	}
	c := connect(t, e.url, user, e.bundle.Creds[user])

	t.Run("reads its streams through its durables", func(t *testing.T) {
		bindOwn(t, e, c)
		consumeDurable(t, e, c, subjects.StreamEvents, pc.Durable(subjects.StreamEvents), subjects.Events(tn, cv))
		consumeDurable(t, e, c, subjects.StreamMessages, pc.Durable(subjects.StreamMessages), subjects.Messages(tn, cv))
		c.clean(t)
	})

	createConsumer := func(stream, name string) func(context.Context, *client) error {
		return func(ctx context.Context, c *client) error {
			_, err := c.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
				Durable: name, AckPolicy: jetstream.AckExplicitPolicy})
			return err
		}
	}
	persisterEvents := "$JS.API.CONSUMER.MSG.NEXT." + subjects.StreamEvents + "." + subjects.DurablePersisterEvents
	ops := slices.Concat(busRewrites(), foreignConsumers(natsauth.Persister), foreignConsumers(natsauth.AIBridge),
		[]forbidden{
			publish(subjects.Messages(tn, cv)),
			publish(subjects.Events(tn, cv)),
			publish(subjects.ConvCommands(tn, cv)),
			publish(subjects.Reads(tn, cv, usr)),
			publish(subjects.User(tn, usr)),
			publish(subjects.DeadLetters(user)),
			publish("$KV." + subjects.BucketTenants + "." + tn),
			publish("$KV." + subjects.BucketConversations + "." + subjects.ConversationKey(tn, cv)),
			publish("$O." + subjects.ObjectAttachments + ".M.x"),
			{"pull from the persister's events durable", persisterEvents, request(persisterEvents, `{"batch":1}`)},
			{"create a durable under another name", api + "CONSUMER.CREATE." + subjects.StreamEvents + ".reports",
				createConsumer(subjects.StreamEvents, "reports")},
			{"create its durable on a stream it was not given",
				api + "CONSUMER.CREATE." + subjects.StreamCommands + "." + pc.Durable(subjects.StreamCommands),
				createConsumer(subjects.StreamCommands, pc.Durable(subjects.StreamCommands))},
			{"read a stream it was not given", api + "DIRECT.GET." + subjects.StreamCommands,
				request(api+"DIRECT.GET."+subjects.StreamCommands, `{"seq":1}`)},
			{"delete its own durable", api + "CONSUMER.DELETE." + subjects.StreamEvents + "." + pc.Durable(subjects.StreamEvents),
				func(ctx context.Context, c *client) error {
					return c.js.DeleteConsumer(ctx, subjects.StreamEvents, pc.Durable(subjects.StreamEvents))
				}},
			{"open the tenants bucket", api + "STREAM.INFO.KV_" + subjects.BucketTenants,
				func(ctx context.Context, c *client) error {
					_, err := c.js.KeyValue(ctx, subjects.BucketTenants)
					return err
				}},
		})
	for _, op := range ops {
		t.Run("cannot "+op.name, func(t *testing.T) {
			jsDenied(t, c, op.subject, func(ctx context.Context) error { return op.call(ctx, c) })
		})
	}
	t.Run("cannot subscribe to live traffic", func(t *testing.T) {
		cannotSubscribe(t, c, subjects.Messages(tn, cv))
		cannotSubscribe(t, c, subjects.Deliver(tn, cv))
		cannotSubscribe(t, c, subjects.Events(tn, cv))
	})

	// The services' durable the attacks aimed at is untouched and the streams keep their limits.
	ctx := ctxWith(t, allowedWait)
	for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents} {
		st, err := e.admin.js.Stream(ctx, s)
		must(t, "admin "+s, err)
		if cfg := st.CachedInfo().Config; cfg.MaxMsgs != -1 || cfg.MaxAge == 0 {
			t.Errorf("%s after the attempts: MaxMsgs %d, MaxAge %v", s, cfg.MaxMsgs, cfg.MaxAge)
		}
	}
	if _, err := e.admin.js.Consumer(ctx, subjects.StreamEvents, pc.Durable(subjects.StreamEvents)); err != nil {
		t.Errorf("its own durable is gone: %v", err)
	}
}

// TestParseConsumer: the -consumer value is checked before any user is issued.
func TestParseConsumer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, err string
		streams       []string
	}{
		{"two streams", "analytics:FD_EVENTS,FD_MESSAGES", "", []string{subjects.StreamEvents, subjects.StreamMessages}},
		{"dead letters", "alerts:FD_DEADLETTERS", "", []string{subjects.StreamDeadLetters}},
		{"no streams", "analytics", "want name:STREAM", nil},
		{"empty stream list", "analytics:", "want name:STREAM", nil},
		{"a bucket is not a feed", "analytics:KV_fd_tenants", "not one of", nil},
		{"unknown stream", "analytics:FD_NOPE", "not one of", nil},
		{"stream twice", "analytics:FD_EVENTS,FD_EVENTS", "twice", nil},
		{"a service's name", natsauth.Persister + ":FD_EVENTS", "reserved", nil},
		{"the aibridge's durable", subjects.DurableAIBridge + ":FD_MESSAGES", "reserved", nil},
		{"the admin", natsauth.Admin + ":FD_EVENTS", "reserved", nil},
		{"uppercase", "Analytics:FD_EVENTS", "lowercase", nil},
		{"a dot would split the subject", "a.b:FD_EVENTS", "lowercase", nil},
		{"a wildcard", "a*:FD_EVENTS", "lowercase", nil},
		{"empty name", ":FD_EVENTS", "lowercase", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := natsauth.ParseConsumer(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseConsumer(%q) = %v, want an error containing %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(c.Streams, tc.streams) {
				t.Fatalf("ParseConsumer(%q) = %+v, %v", tc.in, c, err)
			}
		})
	}
	pc, err := natsauth.ParseConsumer("analytics:FD_EVENTS")
	must(t, "parse", err)
	if _, err := natsauth.Generate(natsauth.Config{Consumers: []natsauth.PlatformConsumer{pc, pc}}); err == nil {
		t.Fatal("the same consumer twice was issued")
	}
	b, err := natsauth.Generate(natsauth.Config{Consumers: []natsauth.PlatformConsumer{pc}})
	must(t, "generate", err)
	if len(b.Creds[pc.UserName()]) == 0 {
		t.Fatal("no credentials for the consumer")
	}
	if strings.Contains(string(b.ChartValues), pc.UserName()) {
		t.Fatal("the consumer's credentials are in the Frontdesk chart values: no pod of the chart uses them")
	}
}
