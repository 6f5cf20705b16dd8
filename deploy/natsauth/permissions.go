// Package natsauth derives each Frontdesk service's least-privilege NATS permissions from the
// subject catalogue (proto/subjects) and generates the NATS security configuration for a
// deployment: an operator, a system account and a FRONTDESK account (JWTs for the server's
// memory resolver) and one user per service whose JWT carries its permissions, written as a
// .creds file the Helm chart mounts.
//
// Permissions follow proto/README.md: a service may publish what the catalogue lists it as
// publisher of and subscribe to what it consumes, use the JetStream API only for the streams,
// buckets and consumers it works with, and never touch another service's durable consumer or
// dead-letter subject. Subjects are built with the catalogue's own functions and "*" for every
// id, so a change of subject layout in proto/ changes the permissions with it.
//
// Provisioning: streams, KV buckets and the object store are created and updated by a user of
// their own, Provisioner (the chart's provisioning Job, `dispatcher provision`), which may do
// nothing else. Services may only look the assets up (stream info) and then do their traffic:
// no service may create, update, delete or purge a stream or bucket, so a compromised service
// cannot shrink a stream's limits (MaxMsgs, MaxAge) to drop what it holds. Durable consumers are
// the exception that belongs to traffic: a service creates and updates its own, by name.
//
// Platform consumers (a platform team's analytics, CRM sync, moderation; consumers.go) get a
// user of their own that reads the streams it is given through its own durables and nothing
// else.
package natsauth

import (
	"fmt"
	"slices"
	"sort"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Service names, as used for users, credentials files, Helm values and dead-letter subjects.
const (
	Gateway    = "gateway"
	Dispatcher = "dispatcher"
	Persister  = "persister"
	AIBridge   = "aibridge"
)

// Services lists every service that gets a NATS user, in a stable order.
var Services = []string{Gateway, Dispatcher, Persister, AIBridge}

// Provisioner is the user that creates and updates the JetStream topology (streams.Provision)
// before the services start; it has no other right. It is not a service: nothing long-running
// holds its credentials.
const Provisioner = "provisioner"

// Rules is an allow list and a deny list of subjects; deny wins.
type Rules struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// Permissions is one user's publish and subscribe rules.
type Permissions struct {
	Publish   Rules `json:"publish"`
	Subscribe Rules `json:"subscribe"`
	// AllowResponses lets the user publish one reply to the reply subject of each request it
	// received (request/reply responders), without a blanket publish right on _INBOX.>.
	AllowResponses bool `json:"allow_responses,omitempty"`
	// Uses names the streams, KV buckets and object stores the service looks up at start
	// (streams.Await) and works with (the names streams.Topology.Only takes). For the
	// Provisioner, the assets it creates and updates.
	Uses []string `json:"uses"`
}

// Consumer names a durable consumer on a stream.
type Consumer struct {
	Stream  string
	Durable string
}

// Durables are the durable consumers each service owns (names from persister/app and
// aibridge/internal/bot). Another service is denied every API call on them. The dispatcher
// has none: it reads FD_COMMANDS with ordered consumers per tenant partition.
var Durables = map[string][]Consumer{
	Persister: {
		{subjects.StreamMessages, subjects.DurablePersisterMessages},
		{subjects.StreamEvents, subjects.DurablePersisterEvents},
		{subjects.StreamEvents, subjects.DurablePersisterOccupancy},
		{subjects.StreamReads, subjects.DurablePersisterReads},
	},
	AIBridge: {
		{subjects.StreamMessages, subjects.DurableAIBridge},
	},
}

// Options adjust the derived permissions.
type Options struct {
	// TenantSeeder is the service that seeds the tenants bucket from the tenants YAML file
	// (FRONTDESK_TENANTS_FILE); only it may write fd_tenants. Default: dispatcher.
	TenantSeeder string
}

func (o Options) seeder() string {
	if o.TenantSeeder == "" {
		return Dispatcher
	}
	return o.TenantSeeder
}

// builder accumulates one service's rules.
type builder struct {
	pub, sub  []string
	denyPub   []string
	denySub   []string
	responses bool
	uses      []string // asset names (streams.Topology.Only) this service looks up
}

func (b *builder) publish(s ...string)   { b.pub = append(b.pub, s...) }
func (b *builder) subscribe(s ...string) { b.sub = append(b.sub, s...) }

// use grants looking up a stream, bucket or object store the service works with (its info,
// which is also how a client binds to it), never changing it. asset is the stream, bucket or
// object store name; stream the name of the stream behind it.
func (b *builder) use(asset, stream string) {
	b.uses = append(b.uses, asset)
	b.publish(streamInfo(stream))
}

// kvRead grants reading and watching a bucket (Get, Keys, Watch).
func (b *builder) kvRead(bucket string) {
	s := subjects.KVStream(bucket)
	b.use(bucket, s)
	b.publish(directGet(s)...)
	b.publish(ephemeralConsumers(s)...)
}

// kvWrite grants Put, Create, Update and Delete of keys matching key in bucket.
func (b *builder) kvWrite(bucket, key string) {
	b.kvRead(bucket)
	b.publish(subjects.KVPut(bucket, key))
}

// For returns the permissions of service (one of Services, Provisioner or Retention).
func For(service string, opts Options) (Permissions, error) {
	if service == Provisioner {
		return provisioner(), nil
	}
	if service == Retention {
		return retention(), nil
	}
	b := &builder{}
	const any = "*"
	b.subscribe(inbox)
	b.publish(accountInfo()...)
	// Every service watches tenant settings; one seeds them.
	b.kvRead(subjects.BucketTenants)
	if service == opts.seeder() {
		b.kvWrite(subjects.BucketTenants, any)
	}

	switch service {
	case Gateway:
		// No events and no User frames: those are the dispatcher's decisions and notices, and
		// a gateway's credentials must not be able to forge them. The `opened` event comes
		// from the dispatcher on the gateway's `open` command; a customer's other sessions
		// learn of a conversation they opened from the session's announcement on Session.
		b.publish(
			subjects.Messages(any, any),
			subjects.Live(any, any),
			subjects.Reads(any, any, any),
			subjects.Session(any, any),
			subjects.Presence(any, any),
			subjects.ConvCommands(any, any),
			subjects.AgentCommands(any, any),
			subjects.HistoryQuery(any),
			subjects.ConversationsQuery(any),
			subjects.UnreadQuery(any),
			subjects.SearchQuery(any),
			subjects.ReportQuery(any),
			subjects.CannedQuery(any),
			subjects.ContactQuery(any),
			subjects.Assist(any, any),
			subjects.Erase(any), // a supervisor's POST /v1/erase, answered by the persister
		)
		b.subscribe(
			// Conversations are followed on the stream's republished copies; the stored
			// subjects are only read through ordered consumers (sync, gap fills).
			subjects.Deliver(any, any),
			subjects.Events(any, any),
			subjects.Live(any, any),
			subjects.Reads(any, any, any),
			subjects.User(any, any),
			subjects.Session(any, any),
			subjects.Overview(any),
		)
		for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamCommands, subjects.StreamReads} {
			b.use(s, s)
		}
		// Sync and gap fills read a conversation with a short-lived ordered consumer; read
		// positions are looked up by subject.
		b.publish(ephemeralConsumers(subjects.StreamMessages)...)
		// A conversation's last stored sequence (welcome's last_seq, where live delivery of
		// a newly followed conversation starts, the end of a sync or gap fill).
		b.publish(directGet(subjects.StreamMessages)...)
		b.publish(directGet(subjects.StreamReads)...)
		b.kvWrite(subjects.BucketConversations, subjects.ConversationKey(any, any))
		b.kvWrite(subjects.BucketParticipants, subjects.ParticipantKey(any, any, any))
		b.kvWrite(subjects.BucketOpen, subjects.OpenKey(any, any))
		// Tenants' storage quota counts (services/quota).
		b.kvWrite(subjects.BucketQuotas, ">")
		// Attachments are written and read, never deleted by the gateway: object deletes purge
		// the stream, and a purge right cannot be limited to one object's chunks.
		o := subjects.ObjectStream(subjects.ObjectAttachments)
		b.use(subjects.ObjectAttachments, o)
		b.publish("$O." + subjects.ObjectAttachments + ".>")
		b.publish(directGet(o)...)
		b.publish(ephemeralConsumers(o)...)

	case Dispatcher:
		b.publish(
			subjects.Messages(any, any), // system notices
			subjects.Events(any, any),
			subjects.AgentStatus(any, any), // agents' time available, away and occupancy
			subjects.User(any, any),
			subjects.Overview(any),
			subjects.Route(any), // request to a platform team's router
			subjects.DeadLetters(Dispatcher),
		)
		b.subscribe(subjects.AllPresence())
		// Each owned tenant's deliveries: customers' last messages for the board, human replies
		// stopping service-level clocks.
		b.subscribe(subjects.Deliver(any, any))
		for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamCommands, subjects.StreamDeadLetters} {
			b.use(s, s)
		}
		// Each owned tenant partition reads its commands with an ordered consumer; a new owner
		// rebuilds a conversation from its last event.
		b.publish(ephemeralConsumers(subjects.StreamCommands)...)
		b.publish(directGet(subjects.StreamEvents)...)
		// ... and counts the ratings of the tenant's day from its events (the board's CSAT).
		b.publish(ephemeralConsumers(subjects.StreamEvents)...)
		b.kvWrite(subjects.BucketConversations, subjects.ConversationKey(any, any))
		b.kvWrite(subjects.BucketParticipants, subjects.ParticipantKey(any, any, any))
		b.kvWrite(subjects.BucketOpen, subjects.OpenKey(any, any)) // deletes on close
		b.kvWrite(subjects.BucketDispatcher, ">")

	case Persister:
		b.publish(subjects.DeadLetters(Persister))
		b.responses = true
		for _, kind := range []string{"history", "conversations", "unread", "search", "report", "canned", "contact"} {
			b.subscribe(subjects.AllQueries(kind))
		}
		b.subscribe(subjects.AllErase())
		for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamReads, subjects.StreamDeadLetters,
			subjects.StreamCommands} {
			b.use(s, s)
		}
		// Retention and erasure remove data with the Retention identity (purge.go), on a
		// connection of their own: this one may only look the assets up (streams.Await).
		for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamReads, subjects.StreamCommands,
			subjects.StreamNotes} {
			b.use(s, s)
		}
		for _, k := range []string{subjects.BucketConversations, subjects.BucketParticipants, subjects.BucketOpen, subjects.BucketQuotas} {
			b.use(k, subjects.KVStream(k))
		}
		b.use(subjects.ObjectAttachments, subjects.ObjectStream(subjects.ObjectAttachments))

	case AIBridge:
		b.publish(
			subjects.Messages(any, any), // final bot replies
			subjects.Live(any, any),     // streamed partial text
			subjects.ConvCommands(any, any),
			subjects.DeadLetters(AIBridge),
		)
		b.responses = true
		b.subscribe(subjects.AllAssist())
		for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamCommands, subjects.StreamDeadLetters} {
			b.use(s, s)
		}
		b.kvRead(subjects.BucketConversations)
		// The conversation history for the model prompt is read by sequence and subject.
		b.publish(directGet(subjects.StreamMessages)...)
		// Voice messages are read, never written, for speech-to-text.
		o := subjects.ObjectStream(subjects.ObjectAttachments)
		b.use(subjects.ObjectAttachments, o)
		b.publish(directGet(o)...)
		b.publish(ephemeralConsumers(o)...)

	default:
		return Permissions{}, fmt.Errorf("natsauth: unknown service %q", service)
	}

	workspace(service, b) // workspace.go
	for _, c := range Durables[service] {
		b.publish(durable(c.Stream, c.Durable)...)
		// Dead-lettering: the max-deliveries advisory names the stream sequence, which is
		// then read back to be copied to the dead-letter stream.
		b.subscribe(maxDeliveriesAdvisory(c.Stream, c.Durable))
		b.publish(directGet(c.Stream)...)
	}
	// Wildcard consumer grants (ephemeral consumers) would reach other services' durables on
	// the same stream: deny those by name.
	for _, other := range Services {
		if other == service {
			continue
		}
		for _, c := range Durables[other] {
			if slices.Contains(Durables[service], c) {
				continue
			}
			b.denyPub = append(b.denyPub, foreignDurable(c.Stream, c.Durable)...)
		}
	}
	return Permissions{
		Publish:        Rules{Allow: uniq(b.pub), Deny: uniq(b.denyPub)},
		Subscribe:      Rules{Allow: uniq(b.sub), Deny: uniq(b.denySub)},
		AllowResponses: b.responses,
		Uses:           uniq(b.uses),
	}, nil
}

// provisioner may create and update every declared stream, bucket and object store (and read
// their info), and nothing else: no data, no delete or purge.
func provisioner() Permissions {
	b := &builder{}
	b.subscribe(inbox)
	b.publish(accountInfo()...)
	for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamCommands,
		subjects.StreamReads, subjects.StreamDeadLetters, subjects.StreamNotes} {
		b.uses = append(b.uses, s)
		b.publish(streamProvision(s)...)
	}
	for _, k := range []string{subjects.BucketTenants, subjects.BucketConversations, subjects.BucketParticipants,
		subjects.BucketOpen, subjects.BucketDispatcher, subjects.BucketQuotas} {
		b.uses = append(b.uses, k)
		b.publish(streamProvision(subjects.KVStream(k))...)
	}
	b.uses = append(b.uses, subjects.ObjectAttachments)
	b.publish(streamProvision(subjects.ObjectStream(subjects.ObjectAttachments))...)
	return Permissions{
		Publish:   Rules{Allow: uniq(b.pub)},
		Subscribe: Rules{Allow: uniq(b.sub)},
		Uses:      uniq(b.uses),
	}
}

// All returns the permissions of every service and of the Provisioner.
func All(opts Options) (map[string]Permissions, error) {
	out := make(map[string]Permissions, len(Services)+1)
	for _, s := range append(slices.Clone(Services), Provisioner, Retention) {
		p, err := For(s, opts)
		if err != nil {
			return nil, err
		}
		out[s] = p
	}
	return out, nil
}

// uniq sorts and deduplicates subjects so generated files are stable.
func uniq(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	sort.Strings(out)
	return slices.Compact(out)
}
