package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// The board's ratings of the day (csatDay) live in the actor's memory; a replica taking a
// tenant over (or a restarted one) rebuilds them from the tenant's events stored in FD_EVENTS,
// before it applies any command.
//
// Why the events stream and not a query to the persister: the rated events are what this
// service published, in the order it applied the ratings, and the stream holds every one of
// them the moment it is acknowledged, while the persister copies them in batches (a rating
// made just before the takeover may not be in Postgres yet) and is a service the dispatcher
// does not otherwise need to take a tenant over. A rating the previous owner committed but
// had not published yet (it died in between, or the event waited in its outbox) is counted
// too: the rating marks its event as owed in the conversation's record (rating.go), and the
// takeover's repairs, which run before this read, publish it (rebuild.go). One published
// twice counts once (per conversation, as live).
//
// Why a checkpoint: reading the whole day's events of a busy tenant (200,000 events for
// 20,000 conversations) took about 37 s of a takeover on a loaded machine, nearly all of it
// in the server, which for a wildcard filter looks for the next matching message among every
// subject of the block at each message (BENCHMARKS.md, BenchmarkTakeoverCsatNATS). So the owner notes the day's counts in fd_dispatcher with
// the stream's last sequence when they change (and at least every csatCheckpointEvery), and a
// takeover starts from the note and reads only the events stored after it: a few seconds' or
// minutes' worth. Without a note of the day (the day's first takeover after an upgrade, a note
// of another day, an unreadable one) it reads the day's events as before.

// csatCheckpointEvery bounds the age of the checkpoint of a tenant whose counts do not change
// (no ratings, or none asked for), so its takeover's read stays short too.
const csatCheckpointEvery = time.Minute

// csatKey is the fd_dispatcher key of the tenant's checkpoint of the day's ratings.
func csatKey(tenant string) string { return "csat." + tenant }

// csatCheckpoint is the day's ratings as the owner tallied them, without the conversations
// counted (they would make it grow with the day): Seq orders it with the events, At with the
// ratings. Every rating given at or before At is in it, and every rating not in it has its
// event stored after Seq: the owner takes both on its actor, between two decisions.
type csatCheckpoint struct {
	Day    string            `json:"day"`
	At     time.Time         `json:"at"`
	Seq    uint64            `json:"seq"`
	Count  int               `json:"count"`
	Sum    int               `json:"sum"`
	Agents map[string][2]int `json:"agents,omitempty"`
}

// tally is the day's ratings the checkpoint holds, as a tally to go on from: ratings given at
// or before its time count as in it already (csatDay.add). The clocks of two owners must agree
// to better than a takeover takes (the lease's TTL) for a rating just after one to count.
func (cp csatCheckpoint) tally() csatDay {
	d := csatDay{day: cp.Day, total: csatSum{cp.Count, cp.Sum}, agents: map[string]csatSum{}, counted: map[string]bool{},
		base: cp.At}
	for a, s := range cp.Agents {
		d.agents[a] = csatSum{s[0], s[1]}
	}
	return d
}

// checkpoint is d as a checkpoint taken at at, with the stream's last sequence seq.
func (d *csatDay) checkpoint(at time.Time, seq uint64) csatCheckpoint {
	cp := csatCheckpoint{Day: d.day, At: at, Seq: seq, Count: d.total.count, Sum: d.total.sum, Agents: map[string][2]int{}}
	for a, s := range d.agents {
		cp.Agents[a] = [2]int{s.count, s.sum}
	}
	return cp
}

// due reports whether d should be checkpointed at now: its day or counts changed since the
// last checkpoint, or that one is older than csatCheckpointEvery.
func (d *csatDay) due(now time.Time) bool {
	return d.day != "" && (d.day != d.savedDay || d.total != d.saved || now.Sub(d.savedAt) >= csatCheckpointEvery)
}

// saveCsat writes the checkpoint of the day's ratings when due (persist calls it on the
// actor). The stream's last sequence is read first: the events of ratings tallied after it
// are stored after it.
func (t *tenant) saveCsat(ctx context.Context, now time.Time) error {
	if !t.csat.due(now) {
		return nil
	}
	info, err := t.e.events.Info(ctx)
	if err != nil {
		return fmt.Errorf("events stream: %w", err)
	}
	data, err := json.Marshal(t.csat.checkpoint(now, info.State.LastSeq))
	if err != nil {
		return err
	}
	if _, err := t.e.disp.Put(ctx, csatKey(t.id), data); err != nil {
		return fmt.Errorf("save %s: %w", csatKey(t.id), err)
	}
	t.csat.savedDay, t.csat.saved, t.csat.savedAt = t.csat.day, t.csat.total, now
	return nil
}

// loadCsat reads the tenant's checkpoint (nil if there is none, or none readable).
func (t *tenant) loadCsat(ctx context.Context) (*csatCheckpoint, error) {
	e, err := t.e.disp.Get(ctx, csatKey(t.id))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", csatKey(t.id), err)
	}
	var cp csatCheckpoint
	if json.Unmarshal(e.Value(), &cp) != nil {
		return nil, nil // read the day's events instead
	}
	return &cp, nil
}

// foldCsat tallies the ratings among events onto d: the rated events given today (in loc),
// each conversation once, for the agent the event names (previous_agent: who held the
// conversation when it closed) or, for events published before they named one, the agent of
// the conversation's closed event read before it.
func foldCsat(d csatDay, events []*fd.ConversationEvent, now time.Time, loc *time.Location) csatDay {
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

// rebuildCsat sets the day's ratings from the checkpoint of the day and the events stored
// after it, or from the events stored since the start of the day (rebuild calls it; see the
// comment at the top of this file).
func (t *tenant) rebuildCsat(ctx context.Context, now time.Time) error {
	loc := zone(t.cfg)
	cp, err := t.loadCsat(ctx)
	if err != nil {
		return fmt.Errorf("ratings of the day: %w", err)
	}
	var from csatDay
	start := eventsStart{since: dayStart(now, loc)}
	if cp != nil && cp.Day == now.In(loc).Format(time.DateOnly) {
		from, start = cp.tally(), eventsStart{seq: cp.Seq + 1}
	}
	events, err := t.eventsSince(ctx, start)
	if err != nil {
		return fmt.Errorf("ratings of the day: %w", err)
	}
	t.csat = foldCsat(from, events, now, loc)
	return nil
}

// eventsStart is where a read of events starts: at the stream sequence seq if set, else at
// the time since.
type eventsStart struct {
	since time.Time
	seq   uint64
}

// eventsSince reads the tenant's conversation events stored from start on, up to the last one
// stored when it starts, keeping only closes and ratings (all foldCsat needs).
func (t *tenant) eventsSince(ctx context.Context, start eventsStart) ([]*fd.ConversationEvent, error) {
	// A short-lived consumer that is never acknowledged, deleted once read (or by the server
	// when this replica dies first).
	cfg := jetstream.ConsumerConfig{
		FilterSubject: subjects.TenantEvents(t.id),
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start.since,
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: time.Minute,
	}
	if start.seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartTime, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, nil, start.seq
	}
	cons, err := t.e.js.CreateConsumer(ctx, subjects.StreamEvents, cfg)
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
