package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"

	"github.com/frontdesk-chat/frontdesk/deploy/local/internal/stack"
)

// waitingCustomer opens a queued conversation as the gateway does (conversation,
// participation and open keys, then the open command) and stores a message in it.
func waitingCustomer(t *testing.T, js jetstream.JetStream, user, conv string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	me := &fd.Participant{Id: user, Role: frames.RoleCustomer, Name: "Name of " + user}
	now := timestamppb.Now()
	c, _ := proto.Marshal(&fd.Conversation{Tenant: "acme", Conv: conv, State: frames.StateQueued, Customer: me, OpenedAt: now, QueuedAt: now})
	p, _ := proto.Marshal(me)
	for _, kv := range []struct {
		bucket, key string
		val         []byte
	}{
		{subjects.BucketConversations, subjects.ConversationKey("acme", conv), c},
		{subjects.BucketParticipants, subjects.ParticipantKey("acme", user, conv), p},
		{subjects.BucketOpen, subjects.OpenKey("acme", user), []byte(conv)},
	} {
		b, err := js.KeyValue(ctx, kv.bucket)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Create(ctx, kv.key, kv.val); err != nil {
			t.Fatal(err)
		}
	}
	pub(t, js, subjects.Messages("acme", conv), "m-"+conv, &fd.Message{Id: "m-" + conv, Tenant: "acme", Conv: conv, From: me,
		Kind: "text", Text: "hello from " + user, CreatedAt: now})
	pub(t, js, subjects.ConvCommands("acme", conv), "open-"+conv, &fd.Command{Id: "open-" + conv, Tenant: "acme", Conv: conv,
		Type: frames.CommandOpen, Actor: me, Customer: me})
}

func pub(t *testing.T, js jetstream.JetStream, subject, id string, m proto.Message) {
	t.Helper()
	b, _ := proto.Marshal(m)
	if _, err := js.Publish(context.Background(), subject, b, jetstream.WithMsgID(id)); err != nil {
		t.Fatal(err)
	}
}

// deadLetter stores a dead-letter copy of a message once on subject.
func deadLetter(t *testing.T, js jetstream.JetStream, subject, text string) {
	t.Helper()
	pub(t, js, subjects.DeadLetters("aibridge"), "dl-"+subject, &fd.DeadLetter{Service: "aibridge", Stream: subjects.StreamMessages,
		Subject: subject, Reason: "model failed", Data: []byte(text), At: timestamppb.Now()})
}

// deadLetterSubjects lists the original subjects of the dead letters stored.
func deadLetterSubjects(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, subjects.StreamDeadLetters)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		dl := &fd.DeadLetter{}
		if err := proto.Unmarshal(m.Data, dl); err != nil {
			t.Fatal(err)
		}
		out = append(out, dl.GetSubject())
	}
	slices.Sort(out)
	return out
}

// queueWatch follows the dispatcher's overview of acme's queue.
func queueWatch(t *testing.T, nc *nats.Conn) func(n int32) {
	t.Helper()
	seen := make(chan int32, 1024)
	sub, err := nc.Subscribe(subjects.Overview("acme"), func(m *nats.Msg) {
		f := &fd.ServerFrame{}
		if proto.Unmarshal(m.Data, f) == nil && f.QueueLength != nil {
			select {
			case seen <- f.GetQueueLength():
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func(n int32) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for {
			select {
			case got := <-seen:
				if got == n {
					return
				}
			case <-deadline:
				t.Fatalf("the dispatcher's queue never had %d conversations", n)
			}
		}
	}
}

// An erase reaches what is in flight and what failed: the dispatcher closes the customer's
// waiting conversation (reason erased) and forgets it (the queue shrinks), the dead-letter
// copies of the customer's data are deleted, and an erased event in the events stream names the
// customer and their conversations (and is not recorded in Postgres). Another customer's
// conversation and dead letters, and a dead letter of another tenant with the same
// conversation id, are untouched; erasing twice removes nothing more; an erase interrupted
// before the dispatcher could close anything is finished by the next retention run.
func TestEraseInFlightAndDeadLetters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the four services as processes")
	}
	t.Parallel()
	srv := testkit.RunNATS(t)
	nc, js := testkit.Connect(t, srv.URL())
	queue := queueWatch(t, nc)
	sys := StartSystem(t, SystemOptions{
		NATSURL: srv.URL(),
		Tenants: []*fd.Tenant{tenantLike(t, "acme", func(tn *fd.Tenant) { tn.Bot = nil })},
		// Retention runs often: it resumes the unfinished erase at the end.
		Extra: map[string][]string{stack.Persister: {"FRONTDESK_PERSISTER_RETENTION_INTERVAL=300ms"}},
	})
	ctx := context.Background()
	pool := sys.DB

	closed := make(chan *fd.ConversationEvent, 16)
	sub, err := nc.Subscribe(subjects.Events("acme", "c-ann"), func(m *nats.Msg) {
		ev := &fd.ConversationEvent{}
		if proto.Unmarshal(m.Data, ev) == nil && ev.GetType() == frames.EventClosed {
			closed <- ev
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	waitingCustomer(t, js, "ann", "c-ann")
	waitingCustomer(t, js, "bob", "c-bob")
	queue(2)
	deadLetter(t, js, subjects.Messages("acme", "c-ann"), "ann's card number")
	deadLetter(t, js, subjects.Reads("acme", "c-ann", "ann"), "ann's read")
	deadLetter(t, js, subjects.Messages("acme", "c-bob"), "bob's text")
	deadLetter(t, js, subjects.Messages("globex", "c-ann"), "another tenant's c-ann")

	rep := erase(t, nc, &fd.EraseRequest{Tenant: "acme", User: "ann", RequestedBy: "sup-1"})
	if rep.Error != "" {
		t.Fatalf("erase: %v", rep)
	}
	if rep.Counts["dispatcher.closed"] != 1 || rep.Counts["stream."+subjects.StreamDeadLetters] != 2 {
		t.Errorf("erase counts %v, want 1 conversation closed by the dispatcher and 2 dead letters", rep.Counts)
	}
	select {
	case ev := <-closed:
		if ev.GetReason() != frames.ReasonErased {
			t.Errorf("c-ann closed with reason %q, want %q", ev.GetReason(), frames.ReasonErased)
		}
	case <-time.After(30 * time.Second):
		t.Error("the dispatcher never closed c-ann")
	}
	queue(1) // bob's only: ann's left no entry behind
	want := []string{subjects.Messages("acme", "c-bob"), subjects.Messages("globex", "c-ann")}
	slices.Sort(want)
	if got := deadLetterSubjects(t, js); !slices.Equal(got, want) {
		t.Errorf("dead letters left %v, want %v", got, want)
	}
	kv, _ := js.KeyValue(ctx, subjects.BucketConversations)
	if h, err := kv.History(ctx, subjects.ConversationKey("acme", "c-ann")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("c-ann's key left: %d revisions (%v)", len(h), err)
	}
	if e, err := kv.Get(ctx, subjects.ConversationKey("acme", "c-bob")); err != nil {
		t.Errorf("bob's conversation: %v", err)
	} else if c := (&fd.Conversation{}); proto.Unmarshal(e.Value(), c) != nil || c.GetState() != frames.StateQueued {
		t.Errorf("bob's conversation is %q, want queued", c.GetState())
	}

	ev := erasedEvent(t, js, rep.Id)
	if ev.GetType() != frames.EventErased || ev.GetCustomer().GetId() != "ann" || !slices.Equal(ev.GetErasedConvs(), []string{"c-ann"}) ||
		ev.GetErasure() != rep.Id {
		t.Errorf("erased event %v, want ann's with c-ann", ev)
	}
	// The persister has read past the event and keeps no row of it.
	testkit.CheckFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		c, err := js.Consumer(ctx, subjects.StreamEvents, subjects.DurablePersisterEvents)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.AckFloor.Stream < ev.seq {
			return fmt.Errorf("persister acked events up to %d, the erased event is %d", info.AckFloor.Stream, ev.seq)
		}
		return nil
	})
	var rows int
	if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events WHERE tenant = 'acme' AND (customer_id = 'ann' OR conv = $1))
		+ (SELECT count(*) FROM conversations WHERE tenant = 'acme' AND (customer_id = 'ann' OR id = $1))`, rep.Id).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows of ann in Postgres after the erase", rows)
	}

	again := erase(t, nc, &fd.EraseRequest{Tenant: "acme", User: "ann", RequestedBy: "sup-2"})
	var removed int64
	for _, n := range again.Counts {
		removed += n
	}
	if again.Error != "" || removed != 0 {
		t.Errorf("second erase: %v, want nothing removed", again)
	}
	if got := deadLetterSubjects(t, js); !slices.Equal(got, want) {
		t.Errorf("dead letters after the second erase %v, want %v", got, want)
	}

	// An erase recorded and never carried out (a persister killed before its first eraser):
	// the retention run resumes it, the dispatcher included.
	waitingCustomer(t, js, "cid", "c-cid")
	queue(2)
	deadLetter(t, js, subjects.Messages("acme", "c-cid"), "cid's text")
	if _, err := pool.Exec(ctx, `INSERT INTO erasures (id, tenant, user_id, requested_by, attempts, convs)
		VALUES ('er_crashed', 'acme', 'cid', 'sup-1', 1, '{c-cid}')`); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 2*time.Minute, 100*time.Millisecond, func() error {
		var done bool
		if err := pool.QueryRow(ctx, `SELECT finished_at IS NOT NULL FROM erasures WHERE id = 'er_crashed'`).Scan(&done); err != nil || !done {
			return fmt.Errorf("unfinished erase not resumed yet (%v)", err)
		}
		return nil
	})
	queue(1)
	if got := deadLetterSubjects(t, js); !slices.Equal(got, want) {
		t.Errorf("dead letters after the resumed erase %v, want %v", got, want)
	}
	if ev := erasedEvent(t, js, "er_crashed"); ev.GetCustomer().GetId() != "cid" {
		t.Errorf("resumed erase's event %v, want cid's", ev)
	}
}

type storedEvent struct {
	*fd.ConversationEvent
	seq uint64
}

// erasedEvent reads the erased event of an erase from the events stream.
func erasedEvent(t *testing.T, js jetstream.JetStream, erasure string) storedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, subjects.StreamEvents)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, subjects.Erased("acme", erasure))
	if err != nil {
		t.Fatalf("erased event of %s: %v", erasure, err)
	}
	ev := &fd.ConversationEvent{}
	if err := proto.Unmarshal(m.Data, ev); err != nil {
		t.Fatal(err)
	}
	return storedEvent{ev, m.Sequence}
}

// erase asks for an erase with the gateway's patience (an erase waits for the dispatcher and
// the persister, and purges four streams per conversation).
func erase(t *testing.T, nc *nats.Conn, req *fd.EraseRequest) *fd.EraseReply {
	t.Helper()
	return testkit.Request(t, nc, subjects.Erase(req.GetTenant()), req, &fd.EraseReply{}, 2*time.Minute)
}
