package streams_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

func TestDeclared(t *testing.T) {
	t.Parallel()
	top := streams.Declared(streams.Options{Replicas: 3})
	byName := map[string]jetstream.StreamConfig{}
	for _, s := range top.Streams {
		byName[s.Name] = s
		if s.Replicas != 3 || s.Storage != jetstream.FileStorage || s.Retention != jetstream.LimitsPolicy || s.Description == "" {
			t.Errorf("stream %s: %+v", s.Name, s)
		}
	}
	tests := []struct {
		name     string
		subjects []string
		maxAge   time.Duration
	}{
		{subjects.StreamMessages, []string{subjects.AllMessages()}, streams.DefaultMessagesMaxAge},
		{subjects.StreamEvents, []string{subjects.AllEvents(), subjects.AllAgentStatus()}, streams.DefaultMessagesMaxAge},
		{subjects.StreamCommands, []string{subjects.AllCommands()}, 7 * 24 * time.Hour},
		{subjects.StreamReads, []string{subjects.AllReads()}, streams.DefaultMessagesMaxAge},
		{subjects.StreamDeadLetters, []string{subjects.AllDeadLetters()}, 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		s, ok := byName[tt.name]
		if !ok {
			t.Errorf("stream %s not declared", tt.name)
			continue
		}
		if !slices.Equal(s.Subjects, tt.subjects) || s.MaxAge != tt.maxAge || s.Duplicates != streams.DefaultDuplicateWindow {
			t.Errorf("stream %s: subjects %v max age %s dup %s", tt.name, s.Subjects, s.MaxAge, s.Duplicates)
		}
	}
	if byName[subjects.StreamReads].MaxMsgsPerSubject != 1 {
		t.Error("FD_READS must keep one message per subject")
	}
	wantKV := map[string]uint8{
		subjects.BucketTenants: 5, subjects.BucketConversations: 5, subjects.BucketParticipants: 1,
		subjects.BucketOpen: 1, subjects.BucketDispatcher: 1, subjects.BucketQuotas: 1,
	}
	if len(top.KV) != len(wantKV) {
		t.Errorf("%d buckets, want %d", len(top.KV), len(wantKV))
	}
	for _, kv := range top.KV {
		if h, ok := wantKV[kv.Bucket]; !ok || kv.History != h || kv.Replicas != 3 || kv.Storage != jetstream.FileStorage {
			t.Errorf("bucket %+v", kv)
		}
	}
	if len(top.Objects) != 1 || top.Objects[0].Bucket != subjects.ObjectAttachments || top.Objects[0].Replicas != 3 {
		t.Errorf("objects %+v", top.Objects)
	}

	only := top.Only(subjects.StreamMessages, subjects.BucketOpen)
	if len(only.Streams) != 1 || len(only.KV) != 1 || len(only.Objects) != 0 {
		t.Errorf("Only = %+v", only)
	}
}

func TestProvisionIdempotentAndUpdates(t *testing.T) {
	t.Parallel()
	ns := testkit.RunNATS(t)
	_, js := testkit.Connect(t, ns.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	top := streams.Declared(streams.Options{Replicas: 1})
	for i := range 2 {
		if err := streams.Provision(ctx, js, top); err != nil {
			t.Fatalf("provision #%d: %v", i+1, err)
		}
	}
	for _, cfg := range top.Streams {
		s, err := js.Stream(ctx, cfg.Name)
		if err != nil {
			t.Fatalf("stream %s: %v", cfg.Name, err)
		}
		got := s.CachedInfo().Config
		if !slices.Equal(got.Subjects, cfg.Subjects) || got.MaxAge != cfg.MaxAge || got.Duplicates != cfg.Duplicates ||
			(cfg.MaxMsgsPerSubject > 0 && got.MaxMsgsPerSubject != cfg.MaxMsgsPerSubject) {
			t.Errorf("stream %s config %+v, want %+v", cfg.Name, got, cfg)
		}
	}
	for _, cfg := range top.KV {
		kv, err := js.KeyValue(ctx, cfg.Bucket)
		if err != nil {
			t.Fatalf("bucket %s: %v", cfg.Bucket, err)
		}
		st, err := kv.Status(ctx)
		if err != nil || st.History() != int64(cfg.History) {
			t.Errorf("bucket %s: status %v err %v", cfg.Bucket, st, err)
		}
	}
	if _, err := js.ObjectStore(ctx, subjects.ObjectAttachments); err != nil {
		t.Errorf("object store: %v", err)
	}
	// A bucket refuses roll-ups: one write with "Nats-Rollup: all" would drop every other key.
	tenants, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"acme", "globex"} {
		if _, err := tenants.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, cfg := range top.KV {
		s, err := js.Stream(ctx, "KV_"+cfg.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if s.CachedInfo().Config.AllowRollup {
			t.Errorf("bucket %s allows roll-ups", cfg.Bucket)
		}
	}
	rollup := nats.NewMsg("$KV." + subjects.BucketTenants + ".evil")
	rollup.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupAll)
	if _, err := js.PublishMsg(ctx, rollup); err == nil {
		t.Error("a roll-up on the tenants bucket was accepted")
	}
	if keys, err := tenants.Keys(ctx); err != nil || len(keys) != 2 {
		t.Errorf("tenants after a roll-up attempt: %q %v", keys, err)
	}

	// Data survives re-provisioning.
	if _, err := js.Publish(ctx, subjects.Messages("demo", "c1"), []byte("hi")); err != nil {
		t.Fatal(err)
	}
	// A changed declaration is applied to the existing stream.
	changed := streams.Declared(streams.Options{Replicas: 1, MessagesMaxAge: 48 * time.Hour, DuplicateWindow: time.Minute})
	if err := streams.Provision(ctx, js, changed); err != nil {
		t.Fatalf("provision changed: %v", err)
	}
	s, err := js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if info.Config.MaxAge != 48*time.Hour || info.Config.Duplicates != time.Minute {
		t.Errorf("update not applied: max age %s dup %s", info.Config.MaxAge, info.Config.Duplicates)
	}
	if info.State.Msgs != 1 {
		t.Errorf("messages after update = %d, want 1", info.State.Msgs)
	}
}

// TestMessagesRepublishedWithSequence checks the delivery path gateways rely on: a message
// stored on the messages stream arrives on its deliver subject with its stream sequence and the
// previous sequence of the same conversation.
func TestMessagesRepublishedWithSequence(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	testkit.Provision(t, js)
	sub, err := nc.SubscribeSync(subjects.Deliver("acme", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var seqs []uint64
	for _, conv := range []string{"c1", "c2", "c1"} {
		ack, err := js.Publish(ctx, subjects.Messages("acme", conv), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if conv == "c1" {
			seqs = append(seqs, ack.Sequence)
		}
	}
	wantLast := []string{"0", strconv.FormatUint(seqs[0], 10)}
	for i, seq := range seqs {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Header.Get("Nats-Sequence"); got != strconv.FormatUint(seq, 10) {
			t.Fatalf("message %d: Nats-Sequence %q, want %d", i, got, seq)
		}
		if got := m.Header.Get("Nats-Last-Sequence"); got != wantLast[i] {
			t.Fatalf("message %d: Nats-Last-Sequence %q, want %s", i, got, wantLast[i])
		}
	}
}

// TestAwaitWaitsForTheProvisioner is the start-up policy of every service: it looks its assets
// up, creates nothing, says which are missing until a provisioner has run, then goes on.
func TestAwaitWaitsForTheProvisioner(t *testing.T) {
	t.Parallel()
	srv := testkit.RunNATS(t)
	_, js := testkit.Connect(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	top := streams.Declared(streams.Options{Replicas: 1})
	uses := top.Only(subjects.StreamMessages, subjects.BucketOpen, subjects.ObjectAttachments)

	err := streams.Check(ctx, js, uses)
	if !errors.Is(err, streams.ErrNotProvisioned) {
		t.Fatalf("Check on an empty server: %v, want ErrNotProvisioned", err)
	}
	for _, name := range uses.Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("Check error %q does not name %s", err, name)
		}
	}

	core, logs := observer.New(zap.WarnLevel)
	done := make(chan error, 1)
	go func() { done <- streams.Await(ctx, js, uses, zap.New(core)) }()
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		for _, e := range logs.All() {
			if strings.Contains(fmt.Sprint(e.ContextMap()["error"]), subjects.ObjectAttachments) {
				return nil
			}
		}
		return fmt.Errorf("no warning naming the missing assets: %v", logs.All())
	})
	select {
	case err := <-done:
		t.Fatalf("Await returned before provisioning: %v", err)
	default:
	}
	// Await created nothing.
	if _, err := js.Stream(ctx, subjects.StreamMessages); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream after Await: %v, want not found", err)
	}
	if err := streams.Provision(ctx, js, top); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Await: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Await did not return after provisioning")
	}

	// A service stopped while waiting gets the context's error, with what its last check found.
	// Stopped once a check has seen the stream missing (its warning), not after a fixed time:
	// on a loaded machine a deadline could cut the first lookup, which then has found nothing.
	none := streams.Topology{Streams: []jetstream.StreamConfig{{Name: "FD_NOPE"}}}
	stopped, stop := context.WithCancel(ctx)
	defer stop()
	core, logs = observer.New(zap.WarnLevel)
	go func() { done <- streams.Await(stopped, js, none, zap.New(core)) }()
	testkit.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if logs.Len() == 0 {
			return errors.New("no warning yet")
		}
		return nil
	})
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, streams.ErrNotProvisioned) {
		t.Fatalf("Await stopped while waiting: %v", err)
	}
}
