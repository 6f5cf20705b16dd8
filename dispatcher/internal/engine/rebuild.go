package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// rebuild restores the tenant's state from JetStream: agent records and queue order from
// fd_dispatcher, each managed conversation's truth from fd_conversations, the command cursor,
// and live sessions from the replica's presence cache. It also repairs what a killed owner
// may have left half done (a missing event or participant key).
func (t *tenant) rebuild(ctx context.Context) error {
	t.d = assign.New(t.e.set.StarveAfter)
	t.d.Handle = assign.NewRate(t.e.set.HandlePrior)
	t.convs = map[string]*convState{}
	t.stated, t.statements = nil, nil // a new owner states every agent again (occupancy.go)
	t.cfg = nil
	t.refreshConfig()
	agents, err := loadPrefix(ctx, t.e.disp, agentRecordFilter(t.id))
	if err != nil {
		return fmt.Errorf("load agents: %w", err)
	}
	for k, v := range agents {
		var rec agentRecord
		if json.Unmarshal(v, &rec) != nil {
			continue
		}
		a := t.d.Agents.Ensure(strings.TrimPrefix(k, "agent."+t.id+"."))
		a.Name, a.Status, a.MaxChats, a.Skills = rec.Name, rec.Status, rec.MaxChats, assign.Sorted(rec.Skills)
		a.LastAssigned, a.Missed = rec.LastAssigned, rec.Missed
		if a.Status == "" {
			a.Status = frames.StatusAway
		}
	}
	recs, err := loadPrefix(ctx, t.e.disp, convRecordFilter(t.id))
	if err != nil {
		return fmt.Errorf("load conversations: %w", err)
	}
	type waiting struct {
		cs  *convState
		rec convRecord
	}
	var queued []waiting
	now := time.Now()
	// Reading each conversation and its last event are independent round trips: do them
	// concurrently so a takeover of a busy tenant stays within seconds.
	type loaded struct {
		key string
		rec convRecord
		cs  *convState
		err error
	}
	items := make([]loaded, 0, len(recs))
	for k, v := range recs {
		it := loaded{key: k}
		_ = json.Unmarshal(v, &it.rec) // a damaged record counts as an empty one
		items = append(items, it)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func(it *loaded) {
			defer wg.Done()
			defer func() { <-sem }()
			it.cs, it.err = t.fetch(ctx, strings.TrimPrefix(it.key, "conv."+t.id+"."))
			if it.err == nil && it.cs != nil {
				it.err = t.repair(ctx, it.cs, it.rec)
			}
		}(&items[i])
	}
	wg.Wait()
	for _, it := range items {
		k, rec, cs := it.key, it.rec, it.cs
		if it.err != nil {
			return it.err
		}
		if cs == nil {
			if err := t.e.disp.Delete(ctx, k); err != nil {
				return fmt.Errorf("delete record %s: %w", k, err)
			}
			continue
		}
		conv := cs.c.GetConv()
		cs.cmd = rec.Cmd
		switch cs.c.GetState() {
		case frames.StateQueued:
			queued = append(queued, waiting{cs, rec})
		case frames.StateAssigned:
			a := t.d.Agents.Ensure(cs.c.GetAgent().GetId())
			if a.Name == "" {
				a.Name = cs.c.GetAgent().GetName()
			}
			a.Active[conv] = true
			cs.assignedAt = cs.c.GetAssignedAt().AsTime()
			t.convs[conv] = cs
			if err := t.putParticipant(ctx, conv, cs.c.GetAgent()); err != nil {
				t.log.Warn("repair participant key", zap.String("conv", conv), zap.Error(err))
			}
		case frames.StateClosed:
			// Closed by a previous owner that died before cleaning up.
			// The record goes last: the repair above stored the closed event it marked as owed.
			if err := t.carryOut(ctx, cs, decision{effects: append(closedCleanup(cs.c, nil), dropRecord{})}, now); err != nil {
				t.log.Warn("clean up closed conversation", zap.String("conv", conv), zap.Error(err))
			}
		default:
			if err := t.e.disp.Delete(ctx, k); err != nil {
				return fmt.Errorf("delete record %s: %w", k, err)
			}
		}
	}
	slices.SortFunc(queued, func(a, b waiting) int {
		return cmp.Or(cmp.Compare(a.rec.Seq, b.rec.Seq), cmp.Compare(a.cs.c.GetConv(), b.cs.c.GetConv()))
	})
	for _, w := range queued {
		since := w.rec.Since
		if since.IsZero() {
			since = w.cs.c.GetQueuedAt().AsTime()
		}
		t.push(w.cs, w.rec.Front, since, w.rec.Seq)
	}
	if t.cursor, err = loadCursor(ctx, t.e.disp, t.id); err != nil {
		return fmt.Errorf("load cursor: %w", err)
	}
	t.saved = t.cursor
	for _, c := range t.e.pres.live(t.id, now) {
		t.observe(c.p, c.exp.Sub(now), now)
	}
	// Agents holding conversations with no session known here: the grace period starts now.
	t.d.Agents.Each(func(a *assign.Agent) {
		if !a.Online() && len(a.Active) > 0 {
			a.LostAt = now
		}
	})
	// The board's ratings of the day, which the previous owner kept in memory (csat.go).
	if err := t.rebuildCsat(ctx, now); err != nil {
		return err
	}
	t.tellDirty = true
	return nil
}

// repair publishes the event of the conversation's current revision if the last event on its
// subject is older: the previous owner died between the KV update and the publish (or with
// the event in its outbox). The event id is derived from the revision, so a repair racing the
// original is deduplicated.
func (t *tenant) repair(ctx context.Context, cs *convState, rec convRecord) error {
	conv := cs.c.GetConv()
	raw, err := t.e.events.GetLastMsgForSubject(ctx, subjects.Events(t.id, conv))
	if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("last event of %s: %w", conv, err)
	}
	var last *fd.ConversationEvent
	if raw != nil {
		last = &fd.ConversationEvent{}
		if proto.Unmarshal(raw.Data, last) != nil {
			last = nil // unreadable: as good as none
		}
	}
	ef, owed := owedEvent(cs.c, cs.rev, last, rec)
	if !owed {
		return nil
	}
	// The record marking it owed goes with the conversation's clean-up in rebuild.
	ef.owed = false
	t.log.Info("repairing missing event", zap.String("conv", conv), zap.String("type", ef.typ), zap.Uint64("revision", cs.rev))
	return t.publishEvent(ctx, t.eventOf(cs, ef))
}

// owedEvent decides the event conversation c owes at revision rev, given last, the last event
// stored on its subject (nil if none), and rec, its record: none (false) when last is of rev
// or later. Otherwise it is the event the missing revision made, as far as the conversation
// and its record tell: its rating if last does not carry it (every event carries the
// conversation's rating once it is rated, so the rated event is the one missing), else the
// event of its state. The events of a rating, a close and a return to the bot are built by
// the builders of the live ones (ratedEvent, closedEvent with the closer and reason the record
// holds, toBotEvent), so they are the same events under the same ids.
func owedEvent(c *fd.Conversation, rev uint64, last *fd.ConversationEvent, rec convRecord) (event, bool) {
	if last != nil && last.GetRevision() >= rev {
		return event{}, false
	}
	if c.GetRating() != nil && last.GetRating() == nil {
		return ratedEvent(c, c.GetCustomer()), true
	}
	switch c.GetState() {
	case frames.StateQueued:
		return event{typ: frames.EventQueued}, true
	case frames.StateAssigned:
		return event{typ: frames.EventAssigned}, true
	case frames.StateClosed:
		return closedEvent(c, rec.By.participant(), rec.Reason), true
	case frames.StateBot:
		return toBotEvent(), true
	}
	return event{typ: frames.EventState}, true
}
