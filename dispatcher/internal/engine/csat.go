package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// The board's ratings of the day (csatDay) live in the actor's memory; a replica taking a
// tenant over (or a restarted one) rebuilds them from the tenant's events stored in FD_EVENTS
// since the start of the tenant's day, before it applies any command.
//
// Why the events stream and not a query to the persister: the rated events are what this
// service published, in the order it applied the ratings, and the stream holds every one of
// them the moment it is acknowledged, while the persister copies them in batches (a rating
// made just before the takeover may not be in Postgres yet) and is a service the dispatcher
// does not otherwise need to take a tenant over. A rating the previous owner committed but
// had not published yet (it died in between, or the event waited in its outbox) is counted
// too: the rating marks its event as owed in the conversation's record (rating.go), and the
// takeover's repairs, which run before this read, publish it (rebuild.go). One published
// twice counts once (per conversation, as live). The cost is one read of the tenant's events
// of the day (about ten per conversation), filtered by the server.

// foldCsat tallies the ratings among events: the rated events given today (in loc), each
// conversation once, for the agent the event names (previous_agent: who held the
// conversation when it closed) or, for events published before they named one, the agent of
// the conversation's closed event read before it.
func foldCsat(events []*fd.ConversationEvent, now time.Time, loc *time.Location) csatDay {
	var d csatDay
	d.roll(now, loc)
	closedBy := map[string]string{}
	for _, ev := range events {
		switch ev.GetType() {
		case frames.EventClosed:
			if a := ev.GetPreviousAgent().GetId(); a != "" {
				closedBy[ev.GetConv()] = a
			}
		case frames.EventRated:
			agent := ev.GetPreviousAgent().GetId()
			if agent == "" {
				agent = closedBy[ev.GetConv()]
			}
			d.add(ev.GetConv(), agent, ev.GetRating(), now, loc)
		}
	}
	return d
}

// dayStart is the start of now's day in loc.
func dayStart(now time.Time, loc *time.Location) time.Time {
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// rebuildCsat sets the day's ratings from the tenant's events stored since the start of its
// day (rebuild calls it; see the comment at the top of this file).
func (t *tenant) rebuildCsat(ctx context.Context, now time.Time) error {
	loc := zone(t.cfg)
	events, err := t.eventsSince(ctx, dayStart(now, loc))
	if err != nil {
		return fmt.Errorf("ratings of the day: %w", err)
	}
	t.csat = foldCsat(events, now, loc)
	return nil
}

// eventsSince reads the tenant's conversation events stored at or after since, up to the last
// one stored when it starts, keeping only closes and ratings (all foldCsat needs).
func (t *tenant) eventsSince(ctx context.Context, since time.Time) ([]*fd.ConversationEvent, error) {
	// A short-lived consumer that is never acknowledged, deleted once read (or by the server
	// when this replica dies first).
	cons, err := t.e.js.CreateConsumer(ctx, subjects.StreamEvents, jetstream.ConsumerConfig{
		FilterSubject: subjects.TenantEvents(t.id),
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since,
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, err
	}
	info := cons.CachedInfo()
	defer func() { _ = t.e.js.DeleteConsumer(context.WithoutCancel(ctx), subjects.StreamEvents, info.Name) }()
	var out []*fd.ConversationEvent
	for pending := info.NumPending; pending > 0; {
		batch, err := cons.Fetch(int(min(pending, 1000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, err
			}
			pending = meta.NumPending
			ev := &fd.ConversationEvent{}
			if proto.Unmarshal(msg.Data(), ev) != nil {
				continue
			}
			if ev.GetType() == frames.EventRated || ev.GetType() == frames.EventClosed {
				if ev.GetConv() == "" {
					ev.Conv = subjectConv(msg.Subject())
				}
				out = append(out, ev)
			}
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if got == 0 {
			return nil, fmt.Errorf("events stream: %d events pending but none delivered", pending)
		}
	}
	return out, nil
}

// subjectConv is the conversation of an events subject ("" when it names none).
func subjectConv(subject string) string {
	p, _ := subjects.Parse(subject)
	return p.Conv
}
