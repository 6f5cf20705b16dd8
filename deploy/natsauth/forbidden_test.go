package natsauth_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// forbidden is one operation a user must not be able to perform: subject is the subject the
// server refuses (and reports in its permissions violation), call performs it the way a
// client library would.
type forbidden struct {
	name    string
	subject string
	call    func(ctx context.Context, c *client) error
}

const api = "$JS.API."

// updateStream rewrites a stream's configuration with change, starting from the stored one
// (which every service may read): the attack of issue 13, MaxMsgs=1 on FD_MESSAGES.
func updateStream(stream string, change func(*jetstream.StreamConfig)) func(context.Context, *client) error {
	return func(ctx context.Context, c *client) error {
		s, err := c.js.Stream(ctx, stream)
		if err != nil {
			return fmt.Errorf("info: %w", err)
		}
		cfg := s.CachedInfo().Config
		change(&cfg)
		_, err = c.js.UpdateStream(ctx, cfg)
		return err
	}
}

func request(subject, body string) func(context.Context, *client) error {
	return func(ctx context.Context, c *client) error {
		_, err := c.nc.RequestWithContext(ctx, subject, []byte(body))
		return err
	}
}

// busRewrites are the stream and bucket management operations no service may perform: each
// would let a compromised service drop or expire data it does not own.
func busRewrites() []forbidden {
	kvTenants, kvConvs := "KV_"+subjects.BucketTenants, "KV_"+subjects.BucketConversations
	objAttachments := "OBJ_" + subjects.ObjectAttachments
	return []forbidden{
		{"shrink FD_MESSAGES to one message", api + "STREAM.UPDATE." + subjects.StreamMessages,
			updateStream(subjects.StreamMessages, func(c *jetstream.StreamConfig) { c.MaxMsgs = 1 })},
		{"expire FD_EVENTS after a second", api + "STREAM.UPDATE." + subjects.StreamEvents,
			updateStream(subjects.StreamEvents, func(c *jetstream.StreamConfig) { c.MaxAge = time.Second })},
		{"expire every tenant after a second", api + "STREAM.UPDATE." + kvTenants,
			func(ctx context.Context, c *client) error {
				_, err := c.js.UpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: subjects.BucketTenants, TTL: time.Second, History: 5})
				return err
			}},
		{"shrink the attachment store", api + "STREAM.UPDATE." + objAttachments,
			// Raw: services other than the gateway may not even read the store's configuration.
			request(api+"STREAM.UPDATE."+objAttachments, `{"name":"`+objAttachments+`","subjects":["$O.`+
				subjects.ObjectAttachments+`.C.>","$O.`+subjects.ObjectAttachments+`.M.>"],"max_bytes":1}`)},
		{"create or update FD_MESSAGES", api + "STREAM.CREATE." + subjects.StreamMessages,
			request(api+"STREAM.CREATE."+subjects.StreamMessages, `{"name":"`+subjects.StreamMessages+`","subjects":["fd.v1.msg.>"],"max_msgs":1}`)},
		{"create a stream capturing commands", api + "STREAM.CREATE.ROGUE",
			func(ctx context.Context, c *client) error {
				_, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: "ROGUE", Subjects: []string{"rogue.>"}})
				return err
			}},
		{"delete FD_MESSAGES", api + "STREAM.DELETE." + subjects.StreamMessages,
			func(ctx context.Context, c *client) error { return c.js.DeleteStream(ctx, subjects.StreamMessages) }},
		{"delete the conversations bucket", api + "STREAM.DELETE." + kvConvs,
			func(ctx context.Context, c *client) error {
				return c.js.DeleteKeyValue(ctx, subjects.BucketConversations)
			}},
		{"purge FD_MESSAGES", api + "STREAM.PURGE." + subjects.StreamMessages,
			request(api+"STREAM.PURGE."+subjects.StreamMessages, `{}`)},
		{"purge the tenants bucket", api + "STREAM.PURGE." + kvTenants, request(api+"STREAM.PURGE."+kvTenants, `{}`)},
		{"purge the attachment store", api + "STREAM.PURGE." + objAttachments, request(api+"STREAM.PURGE."+objAttachments, `{}`)},
		{"delete a stored message", api + "STREAM.MSG.DELETE." + subjects.StreamMessages,
			func(ctx context.Context, c *client) error {
				s, err := c.js.Stream(ctx, subjects.StreamMessages)
				if err != nil {
					return err
				}
				return s.DeleteMsg(ctx, 1)
			}},
	}
}

// without drops the named rows.
func without(fs []forbidden, names ...string) []forbidden {
	return slices.DeleteFunc(fs, func(f forbidden) bool { return slices.Contains(names, f.name) })
}

// foreignConsumers are the API calls on another service's durable consumer.
func foreignConsumers(owner string) []forbidden {
	var out []forbidden
	for _, d := range natsauth.Durables[owner] {
		out = append(out,
			forbidden{"update " + owner + "'s durable " + d.Durable,
				api + "CONSUMER.CREATE." + d.Stream + "." + d.Durable + "." + subjects.AllMessages(),
				func(ctx context.Context, c *client) error {
					_, err := c.js.CreateOrUpdateConsumer(ctx, d.Stream, jetstream.ConsumerConfig{
						Durable: d.Durable, FilterSubject: subjects.AllMessages(), AckPolicy: jetstream.AckExplicitPolicy,
					})
					return err
				}},
			forbidden{"delete " + owner + "'s durable " + d.Durable, api + "CONSUMER.DELETE." + d.Stream + "." + d.Durable,
				func(ctx context.Context, c *client) error { return c.js.DeleteConsumer(ctx, d.Stream, d.Durable) }},
		)
	}
	return out
}

func publish(subject string) forbidden {
	return forbidden{"publish " + subject, subject, func(_ context.Context, c *client) error {
		// A core publish has no reply: the refusal is only the server's violation report.
		if err := c.nc.Publish(subject, []byte("forged")); err != nil {
			return err
		}
		return fmt.Errorf("published")
	}}
}

// TestForbiddenOperations tries, with each user's real generated credentials against a server
// running the generated accounts, every operation that user must not perform, and expects the
// server's permissions violation. Afterwards the data the attacks aimed at is all still there.
func TestForbiddenOperations(t *testing.T) {
	e := start(t)
	const tn, cv, usr = "acme", "c_1", "u1"
	ctx := ctxWith(t, time.Minute)
	// Data the attacks aim at, written by the admin.
	for i := range 5 {
		_, err := e.admin.js.Publish(ctx, subjects.Messages(tn, cv), fmt.Appendf(nil, "m%d", i))
		must(t, "admin publish", err)
	}
	tenants, err := e.admin.js.KeyValue(ctx, subjects.BucketTenants)
	must(t, "admin tenants", err)
	for _, id := range []string{"acme", "globex"} {
		_, err := tenants.Put(ctx, id, []byte(`{"id":"`+id+`"}`))
		must(t, "admin tenant", err)
	}
	obs, err := e.admin.js.ObjectStore(ctx, subjects.ObjectAttachments)
	must(t, "admin attachments", err)
	_, err = obs.PutBytes(ctx, "att1", []byte("file"))
	must(t, "admin attachment", err)

	byUser := map[string][]forbidden{
		natsauth.Gateway: slices.Concat(busRewrites(), foreignConsumers(natsauth.Persister), foreignConsumers(natsauth.AIBridge),
			[]forbidden{
				{"delete an attachment (purges its chunks)", api + "STREAM.PURGE.OBJ_" + subjects.ObjectAttachments,
					func(ctx context.Context, c *client) error {
						o, err := c.js.ObjectStore(ctx, subjects.ObjectAttachments)
						if err != nil {
							return err
						}
						if _, err := o.PutBytes(ctx, "att-gw", []byte("upload")); err != nil {
							return fmt.Errorf("upload (allowed): %w", err)
						}
						// The deletion mark is a write the gateway may make; the purge of the
						// object's data is refused, so the bytes stay.
						return o.Delete(ctx, "att-gw")
					}},
				publish(subjects.Overview(tn)),
				publish(subjects.Route(tn)),
				publish(subjects.DeadLetters(natsauth.Persister)),
				// Dispatcher events, stored or core, and notices to a user: forgeries.
				{"store a forged assigned event", subjects.Events(tn, cv),
					func(ctx context.Context, c *client) error {
						_, err := c.js.Publish(ctx, subjects.Events(tn, cv), []byte(`forged "assigned"`))
						return err
					}},
				publish(subjects.Events(tn, cv)),
				publish(subjects.Events("globex", "c_2")),
				publish(subjects.ContactEvents(tn, usr)), // the persister's, who writes contacts
				publish(subjects.User(tn, usr)),
				publish(subjects.User(tn, "someone-else")),
				publish("$KV." + subjects.BucketDispatcher + ".lease"),
				publish("$KV." + subjects.BucketTenants + "." + tn),
			}),
		natsauth.Dispatcher: slices.Concat(busRewrites(), foreignConsumers(natsauth.Persister), foreignConsumers(natsauth.AIBridge),
			[]forbidden{
				publish(subjects.Live(tn, cv)),
				publish(subjects.Session(tn, usr)),
				publish(subjects.ContactEvents(tn, usr)),
				publish("$O." + subjects.ObjectAttachments + ".M.x"),
			}),
		// The ingest identity removes nothing: retention and erasure purge with their own
		// (natsauth.Retention, purge.go).
		natsauth.Persister: slices.Concat(busRewrites(),
			foreignConsumers(natsauth.AIBridge),
			[]forbidden{
				publish(subjects.Messages(tn, cv)),
				// It announces contacts' changes, never a conversation's (a contact id in a
				// conversation's place included).
				publish(subjects.Events(tn, cv)),
				publish(subjects.Events(tn, usr)),
				publish(subjects.User(tn, usr)),
				publish("$KV." + subjects.BucketTenants + "." + tn),
			}),
		natsauth.AIBridge: slices.Concat(busRewrites(), foreignConsumers(natsauth.Persister),
			[]forbidden{
				publish(subjects.Events(tn, cv)),
				publish(subjects.ContactEvents(tn, usr)),
				publish(subjects.User(tn, usr)),
				publish(subjects.Overview(tn)),
				publish("$KV." + subjects.BucketConversations + "." + subjects.ConversationKey(tn, cv)),
			}),
		// Retention and erasure purge the data streams and the attachment store; every other
		// rewrite, the tenants bucket and the services' durables stay out of reach, and it
		// forges no message or notice.
		natsauth.Retention: slices.Concat(without(busRewrites(), "purge FD_MESSAGES", "purge the attachment store"),
			foreignConsumers(natsauth.Persister), foreignConsumers(natsauth.AIBridge),
			[]forbidden{
				publish(subjects.Messages(tn, cv)),
				publish(subjects.ContactEvents(tn, usr)),
				publish(subjects.User(tn, usr)),
				publish(subjects.DeadLetters(natsauth.Persister)),
				publish("$KV." + subjects.BucketTenants + "." + tn),
				publish("$KV." + subjects.BucketConversations + "." + subjects.ConversationKey(tn, cv)),
			}),
		// The provisioner shapes the topology and touches no data: it cannot drop, purge,
		// read or write anything.
		natsauth.Provisioner: {
			{"delete FD_MESSAGES", api + "STREAM.DELETE." + subjects.StreamMessages,
				func(ctx context.Context, c *client) error { return c.js.DeleteStream(ctx, subjects.StreamMessages) }},
			{"purge FD_MESSAGES", api + "STREAM.PURGE." + subjects.StreamMessages,
				request(api+"STREAM.PURGE."+subjects.StreamMessages, `{}`)},
			{"create a stream it does not declare", api + "STREAM.CREATE.ROGUE",
				func(ctx context.Context, c *client) error {
					_, err := c.js.CreateStream(ctx, jetstream.StreamConfig{Name: "ROGUE", Subjects: []string{"rogue.>"}})
					return err
				}},
			{"read a message", api + "DIRECT.GET." + subjects.StreamMessages,
				request(api+"DIRECT.GET."+subjects.StreamMessages, `{"seq":1}`)},
			{"read with a consumer", api + "CONSUMER.CREATE." + subjects.StreamMessages,
				request(api+"CONSUMER.CREATE."+subjects.StreamMessages, `{"stream_name":"FD_MESSAGES","config":{"ack_policy":"none"}}`)},
			publish(subjects.Messages(tn, cv)),
			publish("$KV." + subjects.BucketTenants + "." + tn),
		},
	}
	for _, user := range append(slices.Clone(natsauth.Services), natsauth.Provisioner, natsauth.Retention) {
		t.Run(user, func(t *testing.T) {
			c := connect(t, e.url, user, e.bundle.Creds[user])
			for _, op := range byUser[user] {
				t.Run(op.name, func(t *testing.T) {
					jsDenied(t, c, op.subject, func(ctx context.Context) error { return op.call(ctx, c) })
				})
			}
		})
	}

	// A user allowed to write keys may not wipe a bucket with a roll-up: the provisioner turns
	// roll-ups off on buckets (streams.Provision), so the server refuses the write.
	t.Run("bucket roll-ups", func(t *testing.T) {
		for _, r := range []struct{ user, bucket, key string }{
			{natsauth.Gateway, subjects.BucketConversations, subjects.ConversationKey(tn, "evil")},
			{natsauth.Gateway, subjects.BucketOpen, subjects.OpenKey(tn, "evil")},
			{natsauth.Dispatcher, subjects.BucketTenants, "evil"},
			{natsauth.Dispatcher, subjects.BucketDispatcher, "evil"},
		} {
			c := connect(t, e.url, r.user, e.bundle.Creds[r.user])
			m := nats.NewMsg("$KV." + r.bucket + "." + r.key)
			m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupAll)
			if _, err := c.js.PublishMsg(ctxWith(t, allowedWait), m); err == nil || !strings.Contains(err.Error(), "rollup") {
				t.Errorf("%s: roll-up on %s: %v, want refused", r.user, r.bucket, err)
			}
		}
	})

	// Nothing the attacks aimed at changed.
	msgs, err := e.admin.js.Stream(ctx, subjects.StreamMessages)
	must(t, "admin messages", err)
	info, err := msgs.Info(ctx)
	must(t, "admin messages info", err)
	if info.State.Msgs != 5 || info.Config.MaxMsgs != -1 {
		t.Errorf("FD_MESSAGES after the attacks: %d messages, MaxMsgs %d; want 5, unlimited", info.State.Msgs, info.Config.MaxMsgs)
	}
	events, err := e.admin.js.Stream(ctx, subjects.StreamEvents)
	must(t, "admin events", err)
	if info, err := events.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("FD_EVENTS after the attacks: %v %v; want no forged event stored", info, err)
	}
	keys, err := tenants.Keys(ctx)
	must(t, "admin tenant keys", err)
	if slices.Sort(keys); !slices.Equal(keys, []string{"acme", "globex"}) {
		t.Errorf("tenants after the attacks: %q", keys)
	}
	if ts, err := tenants.Status(ctx); err != nil || ts.TTL() != 0 {
		t.Errorf("tenants bucket TTL after the attacks: %v %v", ts, err)
	}
	if data, err := obs.GetBytes(ctx, "att1"); err != nil || string(data) != "file" {
		t.Errorf("attachment after the attacks: %q %v", data, err)
	}
	names := e.admin.js.StreamNames(ctx)
	for n := range names.Name() {
		if n == "ROGUE" {
			t.Error("a rogue stream was created")
		}
	}
}
