package main

import (
	"context"
	"fmt"
	"reflect"
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
)

// event is one event the test publishes: rev is the conversation's KV revision (which, with the
// type, makes the catalogue's event id), at the seconds after a fixed start.
type event struct {
	tenant, conv, typ, state string
	rev                      uint64
	at                       int
}

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func (e event) proto() *fd.ConversationEvent {
	if e.typ == frames.EventContactLabeled {
		// A contact's event (conv is then the contact): its own subject and id, no conversation.
		return &fd.ConversationEvent{
			Id:     subjects.ContactEventID(e.tenant, e.conv, int64(e.rev), e.typ),
			Tenant: e.tenant, Type: e.typ, Revision: e.rev, Customer: &fd.Participant{Id: e.conv, Role: frames.RoleCustomer},
			Label: "vip", At: timestamppb.New(start.Add(time.Duration(e.at) * time.Second)),
		}
	}
	return &fd.ConversationEvent{
		// The catalogue's event id: <tenant>.<conv>.<kv revision>.<type>.
		Id:     subjects.EventID(e.tenant, e.conv, e.rev, e.typ),
		Tenant: e.tenant, Conv: e.conv, Type: e.typ, State: e.state, Revision: e.rev,
		At: timestamppb.New(start.Add(time.Duration(e.at) * time.Second)),
	}
}

// lifecycle is one conversation opened, queued, assigned after 30 s and closed.
func lifecycle(tenant, conv string) []event {
	return []event{
		{tenant, conv, frames.EventOpened, frames.StateQueued, 1, 0},
		{tenant, conv, frames.EventQueued, frames.StateQueued, 2, 5},
		{tenant, conv, frames.EventAssigned, frames.StateAssigned, 3, 35},
		{tenant, conv, frames.EventClosed, frames.StateClosed, 4, 300},
	}
}

// waited is a conversation queued at 0 and assigned after secs.
func waited(tenant, conv string, secs int) []event {
	return []event{
		{tenant, conv, frames.EventQueued, frames.StateQueued, 1, 0},
		{tenant, conv, frames.EventAssigned, frames.StateAssigned, 2, secs},
	}
}

func concat(ls ...[]event) []event {
	var out []event
	for _, l := range ls {
		out = append(out, l...)
	}
	return out
}

var lifecycleFigures = Figures{Opened: 1, Queued: 1, Assigned: 1, Closed: 1, Waits: 1, MedianWaitMS: 30_000}

// TestConsumeEvents runs the example against a real JetStream server with the declared
// topology: it publishes each case's events on the events stream and waits until the figures,
// the duplicates skipped and the durable's state (everything acked) are the expected ones.
func TestConsumeEvents(t *testing.T) {
	cases := []struct {
		name   string
		events []event
		// republish: indexes of events stored a second time under another Nats-Msg-Id, as when
		// the dispatcher republishes a decision after the stream's duplicate window.
		republish []int
		// crashAfter: a first replica of the durable applies this many deliveries, then dies
		// before acking them (it naks them, so the server redelivers at once).
		crashAfter int
		// garbage publishes a payload that is not a ConversationEvent.
		garbage        bool
		want           map[string]Figures
		wantDuplicates int64
	}{
		{
			name:   "one conversation from opened to closed",
			events: lifecycle("acme", "c_1"),
			want:   map[string]Figures{"acme": lifecycleFigures},
		},
		{
			name: "median wait per tenant",
			events: concat(waited("acme", "c_1", 10), waited("acme", "c_2", 90), waited("acme", "c_3", 20),
				waited("globex", "c_4", 4), waited("globex", "c_5", 8)),
			want: map[string]Figures{
				"acme":   {Queued: 3, Assigned: 3, Waits: 3, MedianWaitMS: 20_000},
				"globex": {Queued: 2, Assigned: 2, Waits: 2, MedianWaitMS: 6_000},
			},
		},
		{
			name: "requeues and transfers to a queue wait again, a transfer to an agent does not",
			events: []event{
				{"acme", "c_1", frames.EventQueued, frames.StateQueued, 1, 0},
				{"acme", "c_1", frames.EventAssigned, frames.StateAssigned, 2, 10},
				{"acme", "c_1", frames.EventRequeued, frames.StateQueued, 3, 100},
				{"acme", "c_1", frames.EventAssigned, frames.StateAssigned, 4, 130},
				{"acme", "c_1", frames.EventTransferred, frames.StateQueued, 5, 200},
				{"acme", "c_1", frames.EventAssigned, frames.StateAssigned, 6, 250},
				{"acme", "c_1", frames.EventTransferred, frames.StateAssigned, 7, 260},
				{"acme", "c_1", frames.EventClosed, frames.StateClosed, 8, 400},
			},
			want: map[string]Figures{"acme": {Queued: 1, Assigned: 3, Requeued: 1, Transferred: 2, Closed: 1,
				Waits: 3, MedianWaitMS: 30_000}},
		},
		{
			name: "closed while waiting is abandoned",
			events: []event{
				{"acme", "c_1", frames.EventOpened, frames.StateQueued, 1, 0},
				{"acme", "c_1", frames.EventQueued, frames.StateQueued, 2, 0},
				{"acme", "c_1", frames.EventMessageLeft, frames.StateQueued, 2, 30},
				{"acme", "c_1", frames.EventClosed, frames.StateClosed, 3, 60},
			},
			want: map[string]Figures{"acme": {Opened: 1, Queued: 1, MessagesLeft: 1, Closed: 1, Abandoned: 1}},
		},
		{
			name:           "redelivered after a replica applied them and died before acking",
			events:         concat(lifecycle("acme", "c_1"), lifecycle("globex", "c_2")),
			crashAfter:     3,
			want:           map[string]Figures{"acme": lifecycleFigures, "globex": lifecycleFigures},
			wantDuplicates: 3,
		},
		{
			name: "contacts' label changes beside conversations, one stored twice",
			events: concat(lifecycle("acme", "c_1"), []event{
				{"acme", "v_ann", frames.EventContactLabeled, "", 1, 10},
				{"acme", "v_ann", frames.EventContactLabeled, "", 2, 20},
				{"globex", "v_bob", frames.EventContactLabeled, "", 1, 30},
			}),
			republish: []int{5},
			want: map[string]Figures{"acme": func() Figures { f := lifecycleFigures; f.ContactLabelChanges = 2; return f }(),
				"globex": {ContactLabelChanges: 1}},
			wantDuplicates: 1,
		},
		{
			name:           "an event stored twice is counted once",
			events:         lifecycle("acme", "c_1"),
			republish:      []int{1, 2},
			want:           map[string]Figures{"acme": lifecycleFigures},
			wantDuplicates: 2,
		},
		{
			name: "unknown event types and undecodable payloads change nothing",
			events: concat(lifecycle("acme", "c_1"),
				[]event{{"acme", "c_1", "some_future_type", frames.StateClosed, 5, 310}}),
			garbage: true,
			want:    map[string]Figures{"acme": lifecycleFigures},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := testkit.RunNATS(t)
			nc, js := testkit.Connect(t, srv.URL())
			testkit.Provision(t, js)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()

			publish := func(e event, msgID string) {
				t.Helper()
				data, err := proto.Marshal(e.proto())
				if err != nil {
					t.Fatal(err)
				}
				m := nats.NewMsg(subjects.Events(e.tenant, e.conv))
				if e.typ == frames.EventContactLabeled {
					m.Subject = subjects.ContactEvents(e.tenant, e.conv)
				}
				m.Data = data
				m.Header.Set(nats.MsgIdHdr, msgID)
				if _, err := js.PublishMsg(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			for i, e := range tc.events {
				publish(e, e.proto().GetId())
				if tc.garbage && i == 0 {
					if err := nc.Publish(subjects.Events(e.tenant, e.conv), []byte("\xff not protobuf")); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, i := range tc.republish {
				publish(tc.events[i], tc.events[i].proto().GetId()+"/again")
			}

			const durable = "analytics-events"
			stats := NewStats()
			if tc.crashAfter > 0 {
				crashed(ctx, t, js, durable, stats, tc.crashAfter)
			}
			cctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- Consume(cctx, js, durable, stats) }()
			want := Snapshot{Tenants: tc.want, Duplicates: tc.wantDuplicates}
			testkit.CheckFor(t, 20*time.Second, 20*time.Millisecond, func() error {
				if got := stats.Snapshot(); !reflect.DeepEqual(got, want) {
					return fmt.Errorf("snapshot %+v, want %+v", got, want)
				}
				cons, err := js.Consumer(ctx, subjects.StreamEvents, durable)
				if err != nil {
					return err
				}
				info, err := cons.Info(ctx)
				if err != nil {
					return err
				}
				if info.NumPending != 0 || info.NumAckPending != 0 {
					return fmt.Errorf("durable: %d pending, %d unacked", info.NumPending, info.NumAckPending)
				}
				return nil
			})
			stop()
			if err := <-done; err != context.Canceled {
				t.Fatalf("Consume returned %v", err)
			}
		})
	}
}

// crashed is a replica of the durable that applies n deliveries to stats and dies before
// acking them: the server redelivers them to the next replica.
func crashed(ctx context.Context, t *testing.T, js jetstream.JetStream, durable string, stats *Stats, n int) {
	t.Helper()
	cons, err := js.CreateOrUpdateConsumer(ctx, subjects.StreamEvents, ConsumerConfig(durable))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for m := range batch.Messages() {
		id, ev, ok := decode(m)
		if !ok {
			t.Fatalf("undecodable delivery %q", m.Data())
		}
		if !stats.Add(id, ev) {
			t.Fatalf("event %s applied twice by the first replica", id)
		}
		if err := m.Nak(); err != nil {
			t.Fatal(err)
		}
		got++
	}
	if got != n || batch.Error() != nil {
		t.Fatalf("first replica got %d deliveries, want %d: %v", got, n, batch.Error())
	}
}

// TestMedian covers the median on its own: odd and even counts, unsorted input, none.
func TestMedian(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{7 * s}, 7 * s},
		{"odd, unsorted", []time.Duration{9 * s, 1 * s, 4 * s}, 4 * s},
		{"even: mean of the middle two", []time.Duration{8 * s, 2 * s, 4 * s, 100 * s}, 6 * s},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); got != tc.want {
				t.Fatalf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}
