// Over 600 lines on purpose: TestServicePermissions is the one matrix of what each NATS
// identity may and may not publish, subscribe and consume, against a real server; split by
// identity it would no longer show the permission model in one place.

package natsauth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// Timeouts of the checks. An allowed JetStream call answers in milliseconds; a denied one never
// answers (the server drops it and reports a permissions violation), so denied calls get a
// short deadline and the test waits for the violation instead.
const (
	allowedWait = 5 * time.Second
	deniedWait  = 300 * time.Millisecond
)

// client is one service's connection, recording the permission violations the server reports.
type client struct {
	name string
	nc   *nats.Conn
	js   jetstream.JetStream

	mu         sync.Mutex
	violations []string
}

func connect(t *testing.T, url, name string, creds []byte) *client {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &client{name: name}
	nc, err := nats.Connect(url, nats.Name(name), nats.UserCredentials(path),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.violations = append(c.violations, err.Error())
		}))
	if err != nil {
		t.Fatalf("connect %s: %v", name, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// clean fails the test if the server reported any violation so far.
func (c *client) clean(t *testing.T) {
	t.Helper()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.violations) > 0 {
		t.Fatalf("%s: unexpected permission violations: %q", c.name, c.violations)
	}
}

// violated waits for a violation naming subject.
func (c *client) violated(t *testing.T, kind, subject string) {
	t.Helper()
	want := fmt.Sprintf("Permissions Violation for %s to %q", kind, subject)
	testkit.CheckFor(t, 3*time.Second, 10*time.Millisecond, func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, v := range c.violations {
			if strings.Contains(v, want) {
				return nil
			}
		}
		return fmt.Errorf("%s: no %q among %q", c.name, want, c.violations)
	})
}

// env is a server running the generated security configuration, with an admin connection.
type env struct {
	url    string
	bundle *natsauth.Bundle
	admin  *client
}

func start(t *testing.T) *env {
	t.Helper()
	return startWith(t, natsauth.Config{})
}

// startWith is start with the users cfg generates (platform consumers).
func startWith(t *testing.T, cfg natsauth.Config) *env {
	t.Helper()
	b, err := natsauth.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Load the snippet the way nats-server does, so the test covers the file operators deploy.
	conf := filepath.Join(t.TempDir(), "nats-auth.conf")
	if err := os.WriteFile(conf, b.ServerConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	parsed, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("generated config does not load: %v\n%s", err, b.ServerConfig)
	}
	n := testkit.RunNATSWith(t, func(o *server.Options) {
		base := *o
		*o = *parsed
		o.Host, o.Port, o.NoLog, o.NoSigs = base.Host, base.Port, base.NoLog, base.NoSigs
		o.JetStream, o.StoreDir = true, base.StoreDir
		o.JetStreamMaxMemory, o.JetStreamMaxStore = base.JetStreamMaxMemory, base.JetStreamMaxStore
	})
	e := &env{url: n.URL(), bundle: b}
	e.admin = connect(t, e.url, natsauth.Admin, b.Creds[natsauth.Admin])
	// The topology is provisioned the way a deployment does it: by the provisioning user,
	// before any service connects.
	prov := connect(t, e.url, natsauth.Provisioner, b.Creds[natsauth.Provisioner])
	if got, want := b.Permissions[natsauth.Provisioner].Uses, streams.Declared(streams.Options{}).Names(); !sameSet(got, want) {
		t.Fatalf("provisioner manages %q, the declared topology is %q", got, want)
	}
	must(t, "provisioner provisions the topology", streams.Provision(ctxWith(t, allowedWait), prov.js, streams.Declared(streams.Options{Replicas: 1})))
	// Provisioning is idempotent: a second run (the next release's Job) updates in place.
	must(t, "provisioner provisions again", streams.Provision(ctxWith(t, allowedWait), prov.js, streams.Declared(streams.Options{Replicas: 1})))
	prov.clean(t)
	return e
}

func ctxWith(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// canPublish shows c may publish on subject: the admin sees the message.
func canPublish(t *testing.T, e *env, c *client, subject string) {
	t.Helper()
	sub, err := e.admin.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := e.admin.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := c.nc.Publish(subject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(allowedWait); err != nil {
		t.Fatalf("%s publish %s: not delivered: %v", c.name, subject, err)
	}
}

// cannotPublish shows the server refuses c's publish on subject.
func cannotPublish(t *testing.T, c *client, subject string) {
	t.Helper()
	if err := c.nc.Publish(subject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	c.violated(t, "Publish", subject)
}

// canSubscribe shows c receives what the admin publishes on subject.
func canSubscribe(t *testing.T, e *env, c *client, subject, concrete string) {
	t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.nc.Publish(concrete, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(allowedWait); err != nil {
		t.Fatalf("%s subscribe %s: nothing received: %v", c.name, subject, err)
	}
}

// cannotSubscribe shows the server refuses c's subscription.
func cannotSubscribe(t *testing.T, c *client, subject string) {
	t.Helper()
	sub, err := c.nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	c.violated(t, "Subscription", subject)
}

// jsDenied runs a JetStream call that must not be answered and waits for the violation on
// the API subject.
func jsDenied(t *testing.T, c *client, subject string, call func(ctx context.Context) error) {
	t.Helper()
	if err := call(ctxWith(t, deniedWait)); err == nil {
		t.Fatalf("%s: call on %s succeeded, want refused", c.name, subject)
	}
	c.violated(t, "Publish", subject)
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// consumeDurable shows c can create its durable on stream, fetch what the admin stored on
// subject and ack it.
func consumeDurable(t *testing.T, e *env, c *client, stream, durable, subject string) {
	t.Helper()
	ctx := ctxWith(t, allowedWait)
	cons, err := c.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: subject,
		MaxDeliver: 5, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	must(t, c.name+" create durable "+durable+" on "+stream, err)
	_, err = e.admin.js.Publish(ctx, subject, []byte("x"))
	must(t, "admin publish "+subject, err)
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(allowedWait))
	must(t, c.name+" fetch "+stream, err)
	n := 0
	for m := range batch.Messages() {
		must(t, c.name+" ack "+stream, m.DoubleAck(ctx))
		n++
	}
	if n != 1 || batch.Error() != nil {
		t.Fatalf("%s fetch %s: %d messages, %v", c.name, stream, n, batch.Error())
	}
	_, err = cons.Info(ctx)
	must(t, c.name+" consumer info", err)
}

// bindOwn shows c can look up (streams.Check, what services do at start) everything its
// permissions say it uses.
func bindOwn(t *testing.T, e *env, c *client) {
	t.Helper()
	own := e.bundle.Permissions[c.name].Uses
	topo := streams.Declared(streams.Options{Replicas: 1}).Only(own...)
	if got := topo.Names(); !sameSet(got, own) {
		t.Fatalf("%s uses %q, declared among them: %q", c.name, own, got)
	}
	must(t, c.name+" look up "+strings.Join(own, ","), streams.Check(ctxWith(t, allowedWait), c.js, topo))
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// watchTenants shows c can read and watch tenant settings, as every service does.
func watchTenants(t *testing.T, e *env, c *client) {
	t.Helper()
	ctx := ctxWith(t, allowedWait)
	admin, err := e.admin.js.KeyValue(ctx, subjects.BucketTenants)
	must(t, "admin tenants", err)
	_, err = admin.Put(ctx, "acme", []byte(`{"id":"acme"}`))
	must(t, "admin seed tenant", err)
	kv, err := c.js.KeyValue(ctx, subjects.BucketTenants)
	must(t, c.name+" open tenants", err)
	_, err = kv.Get(ctx, "acme")
	must(t, c.name+" get tenant", err)
	w, err := kv.WatchAll(ctx)
	must(t, c.name+" watch tenants", err)
	defer w.Stop()
	select {
	case u := <-w.Updates():
		if u == nil || u.Key() != "acme" {
			t.Fatalf("%s watch: first update %v", c.name, u)
		}
	case <-time.After(allowedWait):
		t.Fatalf("%s watch: no update", c.name)
	}
}

func TestServicePermissions(t *testing.T) {
	e := start(t)
	const tn, cv, usr = "acme", "c_1", "u1"
	c := map[string]*client{}
	for _, s := range natsauth.Services {
		c[s] = connect(t, e.url, s, e.bundle.Creds[s])
	}
	gw, disp, pers, ai := c[natsauth.Gateway], c[natsauth.Dispatcher], c[natsauth.Persister], c[natsauth.AIBridge]

	t.Run("every service looks up its assets and watches tenants", func(t *testing.T) {
		for _, s := range natsauth.Services {
			bindOwn(t, e, c[s])
			watchTenants(t, e, c[s])
			c[s].clean(t)
		}
	})

	t.Run("gateway can", func(t *testing.T) {
		for _, s := range []string{
			subjects.Messages(tn, cv), subjects.Live(tn, cv),
			subjects.Reads(tn, cv, usr), subjects.Session(tn, usr), subjects.Presence(tn, usr),
			subjects.ConvCommands(tn, cv), subjects.AgentCommands(tn, usr), subjects.Assist(tn, cv),
		} {
			canPublish(t, e, gw, s)
		}
		for _, s := range [][2]string{
			{subjects.Deliver(tn, "*"), subjects.Deliver(tn, cv)},
			{subjects.Events(tn, cv), subjects.Events(tn, cv)},
			{subjects.Live(tn, "*"), subjects.Live(tn, cv)},
			{subjects.ConvReads(tn, cv), subjects.Reads(tn, cv, usr)},
			{subjects.User(tn, usr), subjects.User(tn, usr)},
			{subjects.Session(tn, usr), subjects.Session(tn, usr)},
			{subjects.Overview(tn), subjects.Overview(tn)},
		} {
			canSubscribe(t, e, gw, s[0], s[1])
		}
		ctx := ctxWith(t, allowedWait)
		// Publish with dedup and get the stored sequence back; a retry gets the same one.
		ack, err := gw.js.Publish(ctx, subjects.Messages(tn, cv), []byte("hi"),
			jetstream.WithMsgID(subjects.DedupID(tn, usr, "m1")))
		must(t, "gateway publish message", err)
		dup, err := gw.js.Publish(ctx, subjects.Messages(tn, cv), []byte("hi"),
			jetstream.WithMsgID(subjects.DedupID(tn, usr, "m1")))
		must(t, "gateway republish", err)
		if !dup.Duplicate || dup.Sequence != ack.Sequence {
			t.Fatalf("dedup: %+v vs %+v", dup, ack)
		}
		// Sync: replay a conversation with an ordered consumer.
		oc, err := gw.js.OrderedConsumer(ctx, subjects.StreamMessages, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subjects.Messages(tn, cv)}, DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		must(t, "gateway ordered consumer", err)
		m, err := oc.Next(jetstream.FetchMaxWait(allowedWait))
		must(t, "gateway replay", err)
		if m.Subject() != subjects.Messages(tn, cv) {
			t.Fatalf("replayed %s", m.Subject())
		}
		// The hub follows a conversation on its deliver subject, where the stream republishes
		// each stored message with its sequence.
		live, err := gw.nc.SubscribeSync(subjects.Deliver(tn, cv))
		must(t, "gateway deliver subscription", err)
		must(t, "flush", gw.nc.Flush())
		stored, err := e.admin.js.Publish(ctx, subjects.Messages(tn, cv), []byte("live"))
		must(t, "admin publish", err)
		m2, err := live.NextMsg(allowedWait)
		must(t, "gateway deliver", err)
		if m2.Header.Get(jetstream.SequenceHeader) != fmt.Sprint(stored.Sequence) {
			t.Fatalf("republished with headers %v, want sequence %d", m2.Header, stored.Sequence)
		}
		must(t, "unsubscribe", live.Unsubscribe())
		// Read receipts: store a position, look it up by subject.
		_, err = gw.js.Publish(ctx, subjects.Reads(tn, cv, usr), []byte("7"))
		must(t, "gateway publish read", err)
		reads, err := gw.js.Stream(ctx, subjects.StreamReads)
		must(t, "gateway reads stream", err)
		_, err = reads.GetLastMsgForSubject(ctx, subjects.Reads(tn, cv, usr))
		must(t, "gateway read position", err)
		// Commands are stored for the dispatcher.
		_, err = gw.js.Publish(ctx, subjects.ConvCommands(tn, cv), []byte("open"), jetstream.WithMsgID("cmd1"))
		must(t, "gateway command", err)
		// KV: open a conversation.
		open, err := gw.js.KeyValue(ctx, subjects.BucketOpen)
		must(t, "gateway open bucket", err)
		_, err = open.Create(ctx, subjects.OpenKey(tn, usr), []byte(cv))
		must(t, "gateway open create", err)
		convs, err := gw.js.KeyValue(ctx, subjects.BucketConversations)
		must(t, "gateway conversations", err)
		_, err = convs.Create(ctx, subjects.ConversationKey(tn, cv), []byte("bot"))
		must(t, "gateway conversation create", err)
		_, err = convs.Get(ctx, subjects.ConversationKey(tn, cv))
		must(t, "gateway conversation get", err)
		parts, err := gw.js.KeyValue(ctx, subjects.BucketParticipants)
		must(t, "gateway participants", err)
		_, err = parts.Put(ctx, subjects.ParticipantKey(tn, usr, cv), []byte("customer"))
		must(t, "gateway participant put", err)
		keys, err := parts.ListKeysFiltered(ctx, subjects.ParticipantFilter(tn, usr))
		must(t, "gateway participant list", err)
		var listed []string
		for k := range keys.Keys() {
			listed = append(listed, k)
		}
		if !slices.Equal(listed, []string{subjects.ParticipantKey(tn, usr, cv)}) {
			t.Fatalf("participant keys %q", listed)
		}
		// Attachments.
		obs, err := gw.js.ObjectStore(ctx, subjects.ObjectAttachments)
		must(t, "gateway attachments", err)
		_, err = obs.PutBytes(ctx, "att1", []byte("file"))
		must(t, "gateway attachment put", err)
		data, err := obs.GetBytes(ctx, "att1")
		must(t, "gateway attachment get", err)
		if string(data) != "file" {
			t.Fatalf("attachment %q", data)
		}
		gw.clean(t)
	})

	t.Run("the account holds more than 1,000 consumers on FD_MESSAGES", func(t *testing.T) {
		// Gateways follow conversations without consumers, but sync and gap fills create
		// ordered consumers, many at once after a reconnect: the server's default cap of
		// 1,000 per stream must not apply to the account.
		ctx := ctxWith(t, time.Minute)
		for i := range 1100 {
			_, err := gw.js.CreateConsumer(ctx, subjects.StreamMessages, jetstream.ConsumerConfig{
				FilterSubject: subjects.Messages(tn, fmt.Sprintf("c%d", i)), AckPolicy: jetstream.AckNonePolicy,
				MemoryStorage: true, InactiveThreshold: time.Minute,
			})
			must(t, fmt.Sprintf("consumer %d", i), err)
		}
		gw.clean(t)
	})

	t.Run("persister answers the gateway's queries", func(t *testing.T) {
		for _, q := range []struct{ kind, subject string }{
			{"history", subjects.HistoryQuery(tn)},
			{"conversations", subjects.ConversationsQuery(tn)},
			{"unread", subjects.UnreadQuery(tn)},
			{"search", subjects.SearchQuery(tn)},
			{"report", subjects.ReportQuery(tn)},
		} {
			sub, err := pers.nc.QueueSubscribe(subjects.AllQueries(q.kind), "persister", func(m *nats.Msg) {
				_ = m.Respond([]byte("reply"))
			})
			must(t, "persister subscribe "+q.kind, err)
			must(t, "flush", pers.nc.Flush())
			r, err := gw.nc.Request(q.subject, []byte("req"), allowedWait)
			must(t, "gateway query "+q.kind, err)
			if string(r.Data) != "reply" {
				t.Fatalf("reply %q", r.Data)
			}
			must(t, "unsubscribe", sub.Unsubscribe())
		}
		pers.clean(t)
		gw.clean(t)
	})

	t.Run("aibridge answers the gateway's assist requests", func(t *testing.T) {
		sub, err := ai.nc.QueueSubscribe(subjects.AllAssist(), "aibridge", func(m *nats.Msg) {
			_ = m.Respond([]byte("suggestion"))
		})
		must(t, "aibridge subscribe assist", err)
		defer sub.Unsubscribe()
		must(t, "flush", ai.nc.Flush())
		r, err := gw.nc.Request(subjects.Assist(tn, cv), []byte("req"), allowedWait)
		must(t, "gateway assist", err)
		if string(r.Data) != "suggestion" {
			t.Fatalf("reply %q", r.Data)
		}
		ai.clean(t)
	})

	t.Run("persister can", func(t *testing.T) {
		for _, d := range natsauth.Durables[natsauth.Persister] {
			subject := map[string]string{
				subjects.StreamMessages: subjects.AllMessages(),
				subjects.StreamEvents:   subjects.AllEvents(),
				subjects.StreamReads:    subjects.AllReads(),
				subjects.StreamNotes:    subjects.AllNotes(),
			}[d.Stream]
			consumeDurable(t, e, pers, d.Stream, d.Durable, subject)
		}
		ctx := ctxWith(t, allowedWait)
		_, err := pers.js.Publish(ctx, subjects.DeadLetters(natsauth.Persister), []byte("dl"))
		must(t, "persister dead-letter", err)
		// A contact's label change, stored once however often it is published.
		id := subjects.ContactEventID(tn, usr, 1, "contact_labeled")
		ack, err := pers.js.Publish(ctx, subjects.ContactEvents(tn, usr), []byte("labeled"), jetstream.WithMsgID(id))
		must(t, "persister contact event", err)
		dup, err := pers.js.Publish(ctx, subjects.ContactEvents(tn, usr), []byte("labeled"), jetstream.WithMsgID(id))
		must(t, "persister contact event again", err)
		if !dup.Duplicate || dup.Sequence != ack.Sequence {
			t.Fatalf("contact event dedup: %+v vs %+v", dup, ack)
		}
		s, err := pers.js.Stream(ctx, subjects.StreamMessages)
		must(t, "persister messages stream", err)
		_, err = s.GetMsg(ctx, 1)
		must(t, "persister get message by sequence (dead-lettering)", err)
		pers.clean(t)
	})

	t.Run("dispatcher can", func(t *testing.T) {
		for _, s := range []string{
			subjects.Messages(tn, cv), subjects.Events(tn, cv), subjects.User(tn, usr),
			subjects.Overview(tn), subjects.Route(tn), subjects.DeadLetters(natsauth.Dispatcher),
			subjects.AgentStatus(tn, usr),
		} {
			canPublish(t, e, disp, s)
		}
		canSubscribe(t, e, disp, subjects.AllPresence(), subjects.Presence(tn, usr))
		// Each tenant actor follows its own tenant's deliveries.
		canSubscribe(t, e, disp, subjects.Deliver(tn, "*"), subjects.Deliver(tn, cv))
		ctx := ctxWith(t, allowedWait)
		// A partition owner reads a tenant's commands with an ordered consumer.
		cmds, err := disp.js.OrderedConsumer(ctx, subjects.StreamCommands, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subjects.ConvCommands(tn, "*"), subjects.AgentCommands(tn, "*")},
			DeliverPolicy:  jetstream.DeliverAllPolicy,
		})
		must(t, "dispatcher commands consumer", err)
		_, err = cmds.Next(jetstream.FetchMaxWait(allowedWait))
		must(t, "dispatcher next command", err)
		_, err = disp.js.Publish(ctx, subjects.Events(tn, cv), []byte("queued"))
		must(t, "dispatcher event", err)
		events, err := disp.js.Stream(ctx, subjects.StreamEvents)
		must(t, "dispatcher events stream", err)
		_, err = events.GetLastMsgForSubject(ctx, subjects.Events(tn, cv))
		must(t, "dispatcher last event", err)
		// A new owner reads the tenant's events of the day (the board's ratings) with a
		// short-lived consumer, then deletes it.
		since := time.Now().Add(-time.Hour)
		day, err := disp.js.CreateConsumer(ctx, subjects.StreamEvents, jetstream.ConsumerConfig{
			FilterSubject: subjects.TenantEvents(tn), DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
			AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
		})
		must(t, "dispatcher events of the day", err)
		_, err = day.Next(jetstream.FetchMaxWait(allowedWait))
		must(t, "dispatcher read an event of the day", err)
		must(t, "dispatcher delete its consumer", disp.js.DeleteConsumer(ctx, subjects.StreamEvents, day.CachedInfo().Name))
		convs, err := disp.js.KeyValue(ctx, subjects.BucketConversations)
		must(t, "dispatcher conversations", err)
		entry, err := convs.Get(ctx, subjects.ConversationKey(tn, cv))
		must(t, "dispatcher conversation get", err)
		_, err = convs.Update(ctx, subjects.ConversationKey(tn, cv), []byte("queued"), entry.Revision())
		must(t, "dispatcher conversation update", err)
		parts, err := disp.js.KeyValue(ctx, subjects.BucketParticipants)
		must(t, "dispatcher participants", err)
		_, err = parts.Put(ctx, subjects.ParticipantKey(tn, "agent1", cv), []byte("agent"))
		must(t, "dispatcher participant put", err)
		must(t, "dispatcher participant delete", parts.Delete(ctx, subjects.ParticipantKey(tn, "agent1", cv)))
		open, err := disp.js.KeyValue(ctx, subjects.BucketOpen)
		must(t, "dispatcher open", err)
		must(t, "dispatcher open delete", open.Delete(ctx, subjects.OpenKey(tn, usr)))
		state, err := disp.js.KeyValue(ctx, subjects.BucketDispatcher)
		must(t, "dispatcher state", err)
		_, err = state.Put(ctx, "lease.p0", []byte("me"))
		must(t, "dispatcher state put", err)
		// The dispatcher seeds tenants by default.
		tenants, err := disp.js.KeyValue(ctx, subjects.BucketTenants)
		must(t, "dispatcher tenants", err)
		_, err = tenants.Put(ctx, "globex", []byte(`{"id":"globex"}`))
		must(t, "dispatcher seed tenant", err)
		disp.clean(t)
	})

	t.Run("aibridge can", func(t *testing.T) {
		for _, s := range []string{
			subjects.Messages(tn, cv), subjects.Live(tn, cv), subjects.ConvCommands(tn, cv),
			subjects.DeadLetters(natsauth.AIBridge),
		} {
			canPublish(t, e, ai, s)
		}
		for _, d := range natsauth.Durables[natsauth.AIBridge] {
			consumeDurable(t, e, ai, d.Stream, d.Durable, subjects.AllMessages())
		}
		ctx := ctxWith(t, allowedWait)
		// Prompt history: messages of one conversation by sequence.
		msgs, err := ai.js.Stream(ctx, subjects.StreamMessages)
		must(t, "aibridge messages stream", err)
		_, err = msgs.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subjects.Messages(tn, cv)))
		must(t, "aibridge history", err)
		_, err = ai.js.Publish(ctx, subjects.Messages(tn, cv), []byte("bot reply"), jetstream.WithMsgID("bot/m1"))
		must(t, "aibridge bot reply", err)
		_, err = ai.js.Publish(ctx, subjects.ConvCommands(tn, cv), []byte("handoff"), jetstream.WithMsgID("cmd2"))
		must(t, "aibridge handoff", err)
		convs, err := ai.js.KeyValue(ctx, subjects.BucketConversations)
		must(t, "aibridge conversations", err)
		_, err = convs.Get(ctx, subjects.ConversationKey(tn, cv))
		must(t, "aibridge conversation get (fencing)", err)
		ai.clean(t)
	})

	persDurable := natsauth.Durables[natsauth.Persister][0]
	if persDurable.Stream != subjects.StreamMessages {
		t.Fatalf("first persister durable is on %s", persDurable.Stream)
	}
	next := "$JS.API.CONSUMER.MSG.NEXT." + persDurable.Stream + "." + persDurable.Durable
	createDurable := func(c *client) {
		jsDenied(t, c, "$JS.API.CONSUMER.CREATE."+persDurable.Stream+"."+persDurable.Durable+"."+subjects.AllMessages(),
			func(ctx context.Context) error {
				_, err := c.js.CreateOrUpdateConsumer(ctx, persDurable.Stream, jetstream.ConsumerConfig{
					Durable: persDurable.Durable, FilterSubject: subjects.AllMessages(), AckPolicy: jetstream.AckExplicitPolicy,
				})
				return err
			})
	}
	fetchForeign := func(c *client) {
		// Bind to the persister's durable without creating it (the admin's handle), then pull.
		cons, err := c.js.Consumer(ctxWith(t, deniedWait), persDurable.Stream, persDurable.Durable)
		if err == nil {
			_, err = cons.Fetch(1, jetstream.FetchMaxWait(deniedWait))
			if err == nil {
				t.Fatalf("%s fetched from the persister's durable", c.name)
			}
		}
		// Either the info or the pull was refused; the pull request is refused regardless.
		if err := c.nc.PublishRequest(next, c.nc.NewInbox(), []byte(`{"batch":1}`)); err != nil {
			t.Fatal(err)
		}
		c.violated(t, "Publish", next)
	}

	t.Run("aibridge cannot", func(t *testing.T) {
		cannotPublish(t, ai, subjects.Events(tn, cv)) // dispatcher decisions
		cannotPublish(t, ai, subjects.User(tn, usr))  // dispatcher's frames to users
		cannotPublish(t, ai, subjects.Overview(tn))   // dispatcher's overview
		cannotPublish(t, ai, subjects.AgentCommands(tn, usr))
		cannotPublish(t, ai, subjects.DeadLetters(natsauth.Persister))
		cannotPublish(t, ai, subjects.HistoryQuery(tn))
		cannotPublish(t, ai, "$KV."+subjects.BucketConversations+"."+subjects.ConversationKey(tn, cv))
		cannotSubscribe(t, ai, subjects.AllQueries("history"))
		createDurable(ai)
		fetchForeign(ai)
	})

	t.Run("gateway cannot", func(t *testing.T) {
		cannotPublish(t, gw, subjects.DeadLetters(natsauth.Gateway))
		cannotPublish(t, gw, subjects.DeadLetters(natsauth.Persister))
		cannotPublish(t, gw, subjects.Route(tn))
		cannotPublish(t, gw, subjects.Overview(tn))
		cannotPublish(t, gw, "$KV."+subjects.BucketDispatcher+".lease")
		cannotSubscribe(t, gw, subjects.Messages(tn, cv)) // followed on Deliver, read through consumers
		cannotSubscribe(t, gw, subjects.AllPresence())
		cannotSubscribe(t, gw, subjects.AllQueries("history")) // impersonate the persister
		cannotSubscribe(t, gw, subjects.AllAssist())
		createDurable(gw)
		fetchForeign(gw)
		jsDenied(t, gw, "$JS.API.STREAM.DELETE."+subjects.StreamMessages, func(ctx context.Context) error {
			return gw.js.DeleteStream(ctx, subjects.StreamMessages)
		})
		purge := "$JS.API.STREAM.PURGE." + subjects.StreamMessages
		jsDenied(t, gw, purge, func(ctx context.Context) error {
			_, err := gw.nc.RequestWithContext(ctx, purge, []byte(`{}`))
			return err
		})
	})

	t.Run("persister cannot", func(t *testing.T) {
		cannotPublish(t, pers, subjects.Messages(tn, cv)) // forge messages
		cannotPublish(t, pers, subjects.Events(tn, cv))
		cannotPublish(t, pers, subjects.ConvCommands(tn, cv))
		cannotPublish(t, pers, subjects.DeadLetters(natsauth.Dispatcher))
		cannotSubscribe(t, pers, subjects.User(tn, usr))
		jsDenied(t, pers, "$JS.API.STREAM.DELETE."+subjects.StreamMessages, func(ctx context.Context) error {
			return pers.js.DeleteStream(ctx, subjects.StreamMessages)
		})
		aiDurable := natsauth.Durables[natsauth.AIBridge][0]
		n := "$JS.API.CONSUMER.MSG.NEXT." + aiDurable.Stream + "." + aiDurable.Durable
		if err := pers.nc.PublishRequest(n, pers.nc.NewInbox(), []byte(`{"batch":1}`)); err != nil {
			t.Fatal(err)
		}
		pers.violated(t, "Publish", n)
	})

	t.Run("dispatcher cannot", func(t *testing.T) {
		cannotPublish(t, disp, subjects.Live(tn, cv))
		cannotPublish(t, disp, subjects.ConvCommands(tn, cv))
		cannotPublish(t, disp, subjects.Session(tn, usr))
		cannotPublish(t, disp, subjects.DeadLetters(natsauth.Persister))
		cannotSubscribe(t, disp, subjects.Messages(tn, cv))
		cannotPublish(t, disp, "$O."+subjects.ObjectAttachments+".M.x")
		fetchForeign(disp)
	})

	t.Run("a seeder other than the dispatcher", func(t *testing.T) {
		p, err := natsauth.For(natsauth.Gateway, natsauth.Options{TenantSeeder: natsauth.Gateway})
		must(t, "for", err)
		if !slices.Contains(p.Publish.Allow, "$KV."+subjects.BucketTenants+".*") {
			t.Fatalf("gateway as seeder cannot write tenants: %q", p.Publish.Allow)
		}
		d, err := natsauth.For(natsauth.Dispatcher, natsauth.Options{TenantSeeder: natsauth.Gateway})
		must(t, "for", err)
		if slices.Contains(d.Publish.Allow, "$KV."+subjects.BucketTenants+".*") {
			t.Fatal("dispatcher still writes tenants")
		}
	})
}

func TestGenerateReusesSeeds(t *testing.T) {
	t.Parallel()
	a, err := natsauth.Generate(natsauth.Config{})
	must(t, "generate", err)
	b, err := natsauth.Generate(natsauth.Config{Seeds: a.Seeds, Now: time.Unix(1, 0)})
	must(t, "regenerate", err)
	c, err := natsauth.Generate(natsauth.Config{Seeds: a.Seeds, Now: time.Unix(1, 0)})
	must(t, "regenerate", err)
	// The JWT library stamps each token with the wall-clock second it was signed, so the
	// configs' bytes may differ; what servers already running depend on is the identities.
	if ia, ib := identities(t, a.ServerConfig), identities(t, b.ServerConfig); !slices.Equal(ia, ib) {
		t.Fatalf("same seeds gave different identities:\n%q\n%q", ia, ib)
	}
	if ib, ic := identities(t, b.ServerConfig), identities(t, c.ServerConfig); !slices.Equal(ib, ic) {
		t.Fatalf("same seeds gave different identities:\n%q\n%q", ib, ic)
	}
	if string(b.Creds[natsauth.Gateway]) == string(c.Creds[natsauth.Gateway]) {
		t.Fatal("users were not re-issued")
	}
	if !strings.Contains(string(a.NATSChartValues), "sync_interval: always") {
		t.Fatalf("nats values lack sync_interval: %s", a.NATSChartValues)
	}
	if _, err := natsauth.For("nope", natsauth.Options{}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown service: %v", err)
	}
}

// identities lists the public keys a generated server config commits to: the operator (from
// its JWT), the system account and every preloaded account.
func identities(t *testing.T, cfg []byte) []string {
	t.Helper()
	var ids []string
	for _, line := range strings.Split(string(cfg), "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch {
		case key == "operator":
			oc, err := jwt.DecodeOperatorClaims(val)
			must(t, "decode operator", err)
			ids = append(ids, "operator="+oc.Subject)
		case key == "system_account":
			ids = append(ids, "system="+val)
		case strings.HasPrefix(key, "A") && len(key) == 56:
			ac, err := jwt.DecodeAccountClaims(val)
			must(t, "decode account", err)
			if ac.Subject != key {
				t.Fatalf("preloaded account %s carries a JWT for %s", key, ac.Subject)
			}
			ids = append(ids, "account="+key)
		}
	}
	if len(ids) != 4 {
		t.Fatalf("server config names %d identities, want 4: %q", len(ids), ids)
	}
	return ids
}
