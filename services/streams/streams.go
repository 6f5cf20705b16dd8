// Package streams declares Frontdesk's JetStream topology (streams, KV buckets, object stores)
// from the names in proto/subjects, and provisions it idempotently.
//
// Provisioning is a deploy step, run with an identity of its own (the chart's provisioning
// Job, the local runner, a test): Provision creates or updates the topology. Services never
// create or change a stream: they may not (deploy/natsauth gives them no stream management
// rights, so a compromised service cannot shrink a stream's limits and drop what it holds) and
// they do not need to. At start each one waits for the assets it uses with Await, which only
// looks them up and says which are missing until a provisioner has run.
package streams

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Defaults of Options.
const (
	DefaultMessagesMaxAge  = 30 * 24 * time.Hour
	DefaultDuplicateWindow = 10 * time.Minute
	// CommandsMaxAge bounds FD_COMMANDS: a command older than a week is history, not work.
	CommandsMaxAge = 7 * 24 * time.Hour
	// DeadLettersMaxAge bounds FD_DEADLETTERS.
	DeadLettersMaxAge = 30 * 24 * time.Hour
)

// Options tune the declared topology.
type Options struct {
	// Replicas of every stream and bucket, 1 to 5 (0 means 1).
	Replicas int
	// MessagesMaxAge bounds FD_MESSAGES and FD_EVENTS (0: DefaultMessagesMaxAge). Postgres
	// keeps the record beyond it.
	MessagesMaxAge time.Duration
	// DuplicateWindow is how long a Nats-Msg-Id is remembered for deduplication
	// (0: DefaultDuplicateWindow). It must cover the longest client retry.
	DuplicateWindow time.Duration
	// StorageBytes is the JetStream storage the whole topology may use, per replica
	// (0: DefaultStorageBytes); each asset gets its share of it (Shares). See limits.go for
	// what a full asset does.
	StorageBytes int64
	// MaxBytes overrides an asset's share, by stream, bucket or object store name.
	MaxBytes map[string]int64
}

// Topology is the set of JetStream assets Frontdesk uses.
type Topology struct {
	// Streams are the streams, by config.
	Streams []jetstream.StreamConfig
	// KV are the key-value buckets.
	KV []jetstream.KeyValueConfig
	// Objects are the object stores.
	Objects []jetstream.ObjectStoreConfig
}

// Declared returns the topology for opts. Each call returns fresh slices the caller may modify.
func Declared(opts Options) Topology {
	r := opts.Replicas
	if r <= 0 {
		r = 1
	}
	maxAge := opts.MessagesMaxAge
	if maxAge <= 0 {
		maxAge = DefaultMessagesMaxAge
	}
	dup := opts.DuplicateWindow
	if dup <= 0 {
		dup = DefaultDuplicateWindow
	}
	stream := func(name, subject, desc string, age time.Duration) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name:        name,
			Description: desc,
			Subjects:    []string{subject},
			Retention:   jetstream.LimitsPolicy,
			Storage:     jetstream.FileStorage,
			Replicas:    r,
			MaxAge:      age,
			// The window may not exceed MaxAge; every declared age is far above it.
			Duplicates: min(dup, age),
			MaxBytes:   opts.maxBytes(name),
			Discard:    discard(name),
		}
	}
	messages := stream(subjects.StreamMessages, subjects.AllMessages(),
		"Conversation messages (frontdesk.v1.Message); the stream sequence is the message seq.", maxAge)
	// Every stored message is republished on fd.v1.deliver.<t>.<c> with its sequence and the
	// previous sequence of its conversation in the headers, so gateways follow conversations
	// with cheap core subscriptions and still know each message's seq and spot gaps.
	messages.RePublish = &jetstream.RePublish{Source: subjects.AllMessages(), Destination: subjects.AllDeliver()}
	// Private notes have a stream of their own, republished where only staff sessions listen
	// (subjects/workspace.go says why).
	notes := stream(subjects.StreamNotes, subjects.AllNotes(),
		"Private notes of agents and supervisors (frontdesk.v1.Message); never delivered to customers.", maxAge)
	notes.RePublish = &jetstream.RePublish{Source: subjects.AllNotes(), Destination: subjects.AllNoteDeliver()}
	// Conversation events, and agents' status events on a subject tree of their own
	// (subjects/occupancy.go), sharing the stream's share of the storage.
	events := stream(subjects.StreamEvents, subjects.AllEvents(),
		"Conversation lifecycle events (frontdesk.v1.ConversationEvent) and agents' status events (frontdesk.v1.AgentStatusEvent).", maxAge)
	events.Subjects = append(events.Subjects, subjects.AllAgentStatus())
	reads := stream(subjects.StreamReads, subjects.AllReads(),
		"Latest read position per conversation and user (frontdesk.v1.ReadPosition).", maxAge)
	reads.MaxMsgsPerSubject = 1
	// Gateways look up read positions by subject; direct gets serve them from any replica.
	reads.AllowDirect = true

	kv := func(bucket, desc string, history uint8) jetstream.KeyValueConfig {
		return jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: desc,
			History:     history,
			Storage:     jetstream.FileStorage,
			Replicas:    r,
			MaxBytes:    opts.maxBytes(bucket),
		}
	}
	return Topology{
		Streams: []jetstream.StreamConfig{
			messages,
			events,
			stream(subjects.StreamCommands, subjects.AllCommands(),
				"Dispatcher commands (frontdesk.v1.Command).", CommandsMaxAge),
			reads,
			stream(subjects.StreamDeadLetters, subjects.AllDeadLetters(),
				"Messages consumers could not process (frontdesk.v1.DeadLetter).", DeadLettersMaxAge),
			notes,
		},
		KV: []jetstream.KeyValueConfig{
			kv(subjects.BucketTenants, "Tenant settings: key tenant id, value frontdesk.v1.Tenant as protojson.", 5),
			kv(subjects.BucketConversations, "Conversation state (frontdesk.v1.Conversation); the revision fences ownership.", 5),
			kv(subjects.BucketParticipants, "Participation index: tenant.user.conv -> frontdesk.v1.Participant.", 1),
			kv(subjects.BucketOpen, "A customer's open conversation: tenant.user -> conversation id.", 1),
			kv(subjects.BucketDispatcher, "Dispatcher working state (queues, agents, leases).", 1),
			kv(subjects.BucketQuotas, "Storage quota use per tenant: attachment bytes, messages per UTC day.", 1),
		},
		Objects: []jetstream.ObjectStoreConfig{{
			Bucket:      subjects.ObjectAttachments,
			Description: "Uploaded attachments, named by attachment id.",
			Storage:     jetstream.FileStorage,
			Replicas:    r,
			MaxBytes:    opts.maxBytes(subjects.ObjectAttachments),
		}},
	}
}

// Only returns the part of t whose stream, bucket or object store names are in names, for a
// service that provisions (or checks) just what it uses. Unknown names are ignored.
func (t Topology) Only(names ...string) Topology {
	var out Topology
	for _, s := range t.Streams {
		if slices.Contains(names, s.Name) {
			out.Streams = append(out.Streams, s)
		}
	}
	for _, k := range t.KV {
		if slices.Contains(names, k.Bucket) {
			out.KV = append(out.KV, k)
		}
	}
	for _, o := range t.Objects {
		if slices.Contains(names, o.Bucket) {
			out.Objects = append(out.Objects, o)
		}
	}
	return out
}

// Provision creates every asset of t or updates it to the declared configuration. It is
// idempotent. Updates the server refuses (e.g. changing a stream's storage type) fail with
// the server's error naming the asset; nothing is deleted.
func Provision(ctx context.Context, js jetstream.JetStream, t Topology) error {
	for _, cfg := range t.Streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("provision stream %s: %w", cfg.Name, err)
		}
	}
	for _, cfg := range t.KV {
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("provision kv %s: %w", cfg.Bucket, err)
		}
		if err := refuseRollups(ctx, js, subjects.KVStream(cfg.Bucket)); err != nil {
			return fmt.Errorf("provision kv %s: %w", cfg.Bucket, err)
		}
	}
	for _, cfg := range t.Objects {
		if _, err := js.CreateOrUpdateObjectStore(ctx, cfg); err != nil {
			return fmt.Errorf("provision object store %s: %w", cfg.Bucket, err)
		}
	}
	return nil
}

// refuseRollups turns roll-ups off on a bucket's stream. nats.go creates buckets with roll-ups
// allowed, for its Purge; but then any client allowed to write one key could publish it with
// "Nats-Rollup: all" and the server would drop every other key of the bucket (every tenant,
// every conversation). No service purges keys, so buckets refuse roll-ups; purging stays an API
// call (STREAM.PURGE with a subject filter) for identities allowed it, which services are not.
// The object store keeps roll-ups: every object write needs them (see deploy/README.md).
func refuseRollups(ctx context.Context, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	cfg := s.CachedInfo().Config
	if !cfg.AllowRollup {
		return nil
	}
	cfg.AllowRollup = false
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("refuse roll-ups: %w", err)
	}
	return nil
}

// ErrNotProvisioned is wrapped by Check when an asset does not exist yet.
var ErrNotProvisioned = errors.New("not provisioned")

// Names lists the stream, bucket and object store names of t, in declaration order.
func (t Topology) Names() []string {
	var out []string
	for _, s := range t.Streams {
		out = append(out, s.Name)
	}
	for _, k := range t.KV {
		out = append(out, k.Bucket)
	}
	for _, o := range t.Objects {
		out = append(out, o.Bucket)
	}
	return out
}

// Check looks up every asset of t without creating or changing anything (a stream info request
// each, the one JetStream management call a service is allowed). It returns an error wrapping
// ErrNotProvisioned that names every missing asset, or the first other error (no connection,
// permission refused).
func Check(ctx context.Context, js jetstream.JetStream, t Topology) error {
	var missing []string
	look := func(name string, err error) error {
		switch {
		case err == nil:
			return nil
		case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrBucketNotFound):
			missing = append(missing, name)
			return nil
		default:
			return fmt.Errorf("look up %s: %w", name, err)
		}
	}
	for _, cfg := range t.Streams {
		_, err := js.Stream(ctx, cfg.Name)
		if err := look(cfg.Name, err); err != nil {
			return err
		}
	}
	for _, cfg := range t.KV {
		_, err := js.KeyValue(ctx, cfg.Bucket)
		if err := look(cfg.Bucket, err); err != nil {
			return err
		}
	}
	for _, cfg := range t.Objects {
		_, err := js.ObjectStore(ctx, cfg.Bucket)
		if err := look(cfg.Bucket, err); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s %w: run the provisioning step first (the chart's provisioning Job, or `go run ./deploy/local/cmd/frontdesk`)",
			strings.Join(missing, ", "), ErrNotProvisioned)
	}
	return nil
}

// Await calls Check until every asset of t exists or ctx ends, backing off from 100 ms to 5 s
// and logging what is missing, so a service started before the provisioning step waits for it
// instead of failing (or creating the assets itself).
func Await(ctx context.Context, js jetstream.JetStream, t Topology, log *zap.Logger) error {
	wait := 100 * time.Millisecond
	for {
		err := Check(ctx, js, t)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("await streams: %w", errors.Join(err, ctx.Err()))
		}
		log.Warn("waiting for the streams and buckets to be provisioned", zap.Error(err), zap.Duration("retry_in", wait))
		tm := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return fmt.Errorf("await streams: %w", errors.Join(err, ctx.Err()))
		case <-tm.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}
