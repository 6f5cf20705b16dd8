package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// The applier: carries out a decision's effects over NATS and on the actor's memory, and
// returns what failed instead of sleeping or dropping it. It decides nothing.

// published is an event published concurrently with other effects, and its outcome.
type published struct {
	pe  pendingEvent
	err error
}

// afterCommitError reports effects that failed after their decision committed: the change
// stands (the command counts as applied), what failed is logged by the caller, events wait in
// the outbox and participant keys and events are repaired at the next takeover.
type afterCommitError struct{ err error }

func (e *afterCommitError) Error() string { return "after commit: " + e.err.Error() }
func (e *afterCommitError) Unwrap() error { return e.err }

// carryOut applies d to cs (nil for decisions about agents) at now, in order. A committing
// effect's failure returns at once, with errConflict when the conversation changed since it
// was read (cs then holds the fresh truth, to decide again). Once committed, every remaining
// effect runs and their failures come back together in an *afterCommitError.
func (t *tenant) carryOut(ctx context.Context, cs *convState, d decision, now time.Time) error {
	var (
		errs      []error
		alongside sync.WaitGroup
		// late are the events published alongside, with their outcome once waited for.
		late []*published
	)
	for _, ef := range d.effects {
		if t.deferIO(ctx, cs, ef) {
			continue // carried out with its group's (batch.go)
		}
		var err error
		switch ef := ef.(type) {
		case write:
			if err := t.write(ctx, cs, ef.next); err != nil {
				alongside.Wait()
				return err
			}
			t.wrote(cs, ef.next, now)
		case publishMessage:
			if err := t.publishMessage(ctx, ef); err != nil {
				return fmt.Errorf("publish left message: %w", err)
			}
		case acceptOffer:
			if err := t.accept(ctx, cs, ef.agent, now); err != nil {
				return err
			}
		case setStatus:
			t.setStatus(ef)
		case saveAgent:
			if a := t.d.Agents.Get(ef.agent); a != nil {
				if err := t.saveAgent(ctx, a); err != nil {
					return err
				}
			}
		case owe:
			rec := t.record(cs, ef.cmd)
			rec.By, rec.Reason = actorOf(ef.by), ef.reason
			if err := t.putRecord(ctx, cs.c.GetConv(), convRecordKey(t.id, cs.c.GetConv()), mustJSON(rec)); err != nil {
				return err
			}
		case lineAdd:
			t.push(cs, ef.front, now, 0)
		case lineRemove:
			t.removeFromLine(cs.c.GetConv())
		case release:
			if t.d.Release(ef.agent, cs.c.GetConv()) && ef.handled && !cs.assignedAt.IsZero() {
				t.d.Handle.Observe(now.Sub(cs.assignedAt))
			}
		case hold:
			if a := t.d.Agents.Get(ef.agent); a != nil {
				a.Active[cs.c.GetConv()] = true
				a.LastAssigned = now
			}
		case withdraw:
			t.d.Withdraw(ef.agent, cs.c.GetConv(), false)
			t.announceOffer(ctx, cs, ef.agent, frames.EventOfferDeclined, now) // offers.go
		case forget:
			delete(t.convs, cs.c.GetConv())
		case tellFresh:
			t.fresh = append(t.fresh, cs.c.GetConv())
		case countRequeue:
			t.e.m.requeues.WithLabelValues(t.id, ef.reason).Inc()
		case putParticipant:
			err = t.putParticipant(ctx, cs.c.GetConv(), ef.p)
		case dropParticipant:
			err = t.dropParticipant(ctx, cs.c.GetConv(), ef.user)
		case dropOpen:
			err = t.dropOpen(ctx, cs.c.GetConv(), ef.customer)
		case saveRecord:
			err = t.saveRecord(ctx, cs, ef.cmd)
		case dropRecord:
			err = t.deleteRecord(ctx, cs.c.GetConv())
		case event:
			pe := t.eventOf(cs, ef)
			if ef.alongside && !t.out.holds(pe.conv) {
				p := &published{pe: pe}
				late = append(late, p)
				alongside.Go(func() { p.err = t.publishEvent(ctx, pe) })
				continue
			}
			err = t.sendEvent(ctx, pe)
		case sendFrame:
			err = t.frame(ctx, ef.user, ef.f)
		default:
			err = fmt.Errorf("unknown effect %T", ef)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	alongside.Wait()
	for _, p := range late {
		if p.err != nil {
			t.await(p.pe)
			errs = append(errs, p.err)
		}
	}
	if len(errs) > 0 {
		return &afterCommitError{errors.Join(errs...)}
	}
	return nil
}

// committed logs the failures that followed a committed decision about conv and reports the
// decision as done; any other error (nothing happened) is returned.
func (t *tenant) committed(err error, conv string) error {
	var ac *afterCommitError
	if errors.As(err, &ac) {
		t.log.Warn("effects failed after commit", zap.String("conv", conv), zap.Error(ac.err))
		return nil
	}
	return err
}

// fetch reads a conversation from fd_conversations (nil if it does not exist).
func (t *tenant) fetch(ctx context.Context, conv string) (*convState, error) {
	e, err := t.e.conv.Get(ctx, subjects.ConversationKey(t.id, conv))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get conversation %s: %w", conv, err)
	}
	c := &fd.Conversation{}
	if err := proto.Unmarshal(e.Value(), c); err != nil {
		return nil, nil // not ours to fix; ignore
	}
	c.Conv = conv
	c.Tenant = t.id
	return &convState{c: c, rev: e.Revision()}, nil
}

// write updates the conversation with compare-and-set on the revision it was read at. On a
// conflict it reloads cs and returns errConflict for the caller to decide again.
func (t *tenant) write(ctx context.Context, cs *convState, next *fd.Conversation) error {
	data, err := proto.Marshal(next)
	if err != nil {
		return err
	}
	rev, err := t.e.conv.Update(ctx, subjects.ConversationKey(t.id, next.GetConv()), data, cs.rev)
	if err != nil {
		if isMismatch(err) {
			fresh, ferr := t.fetch(ctx, next.GetConv())
			if ferr != nil {
				return ferr
			}
			if fresh != nil {
				cs.c, cs.rev = fresh.c, fresh.rev
			}
			return errConflict
		}
		return fmt.Errorf("update conversation %s: %w", next.GetConv(), err)
	}
	cs.c, cs.rev = next, rev
	return nil
}

// wrote notes in memory what a committed write of next means beyond the truth it holds.
func (t *tenant) wrote(cs *convState, next *fd.Conversation, now time.Time) {
	if next.GetState() == frames.StateAssigned {
		cs.assignedAt = now
	}
	t.noteRating(next, now) // slaboard.go
}

// push adds a queued conversation to the in-memory line.
func (t *tenant) push(cs *convState, front bool, since time.Time, seq uint64) *queue.Entry {
	c := cs.c
	e := &queue.Entry{Conv: c.GetConv(), Customer: c.GetCustomer().GetId(), Queue: c.GetQueue(),
		Needs: t.rules().needs(c), Priority: c.GetPriority(), Front: front, Since: since, Seq: seq}
	t.d.Q.Push(e)
	t.convs[c.GetConv()] = cs
	t.tellDirty = true
	return e
}

// removeFromLine takes conv out of the line and withdraws its offer, if any.
func (t *tenant) removeFromLine(conv string) {
	if e := t.d.Q.Remove(conv); e != nil && e.Offered != "" {
		if a := t.d.Agents.Get(e.Offered); a != nil {
			delete(a.Offers, conv)
		}
	}
	t.tellDirty = true
}

func (t *tenant) setStatus(s setStatus) {
	a := t.d.Agents.Ensure(s.agent)
	a.Status = s.status
	if s.status == frames.StatusAvailable {
		a.Missed = 0
	}
	if s.name != "" {
		a.Name = s.name
	}
	if s.maxChats > 0 {
		a.MaxChats = s.maxChats
	}
	if s.setSkills {
		a.Skills = s.skills
	}
	t.tellDirty = true
}

// saveRecord writes the conversation's queue placement (and last applied command).
func (t *tenant) saveRecord(ctx context.Context, cs *convState, cmdSeq uint64) error {
	key, data := t.recordOf(cs, cmdSeq)
	return t.putRecord(ctx, cs.c.GetConv(), key, data)
}

// recordOf is the conversation's queue record as the line holds it now.
func (t *tenant) recordOf(cs *convState, cmdSeq uint64) (key string, data []byte) {
	return convRecordKey(t.id, cs.c.GetConv()), mustJSON(t.record(cs, cmdSeq))
}

func (t *tenant) record(cs *convState, cmdSeq uint64) convRecord {
	rec := convRecord{Cmd: cmdSeq}
	if e := t.d.Q.Get(cs.c.GetConv()); e != nil {
		rec.Seq, rec.Front, rec.Since = e.Seq, e.Front, e.Since
	}
	return rec
}

func (t *tenant) putRecord(ctx context.Context, conv, key string, data []byte) error {
	if _, err := t.e.disp.Put(ctx, key, data); err != nil {
		return fmt.Errorf("save queue record of %s: %w", conv, err)
	}
	return nil
}

func (t *tenant) deleteRecord(ctx context.Context, conv string) error {
	if err := t.e.disp.Delete(ctx, convRecordKey(t.id, conv)); err != nil {
		return fmt.Errorf("delete record of %s: %w", conv, err)
	}
	return nil
}

func (t *tenant) putParticipant(ctx context.Context, conv string, p *fd.Participant) error {
	if p.GetId() == "" {
		return nil
	}
	data, err := proto.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := t.e.part.Put(ctx, subjects.ParticipantKey(t.id, p.GetId(), conv), data); err != nil {
		return fmt.Errorf("participant key of %s in %s: %w", p.GetId(), conv, err)
	}
	return nil
}

func (t *tenant) dropParticipant(ctx context.Context, conv, user string) error {
	if err := t.e.part.Delete(ctx, subjects.ParticipantKey(t.id, user, conv)); err != nil {
		return fmt.Errorf("delete participant key of %s in %s: %w", user, conv, err)
	}
	return nil
}

// dropOpen deletes the customer's open key only while it names conv: the customer may have
// opened another conversation since.
func (t *tenant) dropOpen(ctx context.Context, conv, customer string) error {
	key := subjects.OpenKey(t.id, customer)
	e, err := t.e.open.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get open key of %s: %w", customer, err)
	}
	if string(e.Value()) != conv {
		return nil
	}
	if err := t.e.open.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil && !isMismatch(err) {
		return fmt.Errorf("delete open key of %s: %w", customer, err)
	}
	return nil
}

func (t *tenant) publishMessage(ctx context.Context, p publishMessage) error {
	data, err := proto.Marshal(p.m)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subjects.Messages(t.id, p.m.GetConv()))
	msg.Data = data
	tracing.InjectHeader(ctx, msg.Header)
	_, err = t.e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(p.dedup))
	return err
}

// eventOf builds the lifecycle event of ef about cs as it stands.
func (t *tenant) eventOf(cs *convState, ef event) pendingEvent {
	conv := cs.c.GetConv()
	id := ef.id
	if id == "" {
		id = subjects.EventID(t.id, conv, cs.rev, ef.typ)
	}
	ev := &fd.ConversationEvent{Id: id, Tenant: t.id, Conv: conv, Type: ef.typ, State: cs.c.GetState(),
		Revision: cs.rev, Customer: cs.c.GetCustomer(), Agent: cs.c.GetAgent(), Queue: cs.c.GetQueue(),
		Reason: ef.reason, Actor: ef.actor, PreviousAgent: ef.prev, At: ef.at,
		Labels: cs.c.GetLabels(), Label: ef.label, Rating: cs.c.GetRating()}
	if ev.At == nil {
		ev.At = timestamppb.Now()
	}
	if ef.summary {
		ev.Summary = cs.c.GetSummary()
	}
	if ef.position {
		ev.Position = int32(t.d.Q.Position(conv))
	}
	data, _ := proto.Marshal(ev)
	return pendingEvent{conv: conv, id: id, typ: ef.typ, data: data, owed: ef.owed}
}

// sendEvent publishes an event, or queues it behind the conversation's events still waiting
// in the outbox so a conversation's events are stored in order. A failed publish waits in the
// outbox too.
func (t *tenant) sendEvent(ctx context.Context, pe pendingEvent) error {
	if t.out.holds(pe.conv) {
		t.await(pe)
		return nil
	}
	if err := t.publishEvent(ctx, pe); err != nil {
		t.await(pe)
		return err
	}
	return nil
}

// await keeps an event in the outbox for retry.
func (t *tenant) await(pe pendingEvent) {
	if !t.out.add(pe) {
		t.log.Error("outbox full, event dropped (a takeover repairs the latest event of each conversation)",
			zap.String("conv", pe.conv), zap.String("id", pe.id), zap.Int("dropped", t.out.dropped))
	}
}

// publishEvent makes one attempt to store an event.
func (t *tenant) publishEvent(ctx context.Context, pe pendingEvent) error {
	msg := nats.NewMsg(subjects.Events(t.id, pe.conv))
	msg.Data = pe.data
	// The command's trace when published while applying it (an event retried from the outbox
	// later goes without).
	tracing.InjectHeader(ctx, msg.Header)
	if _, err := t.e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(pe.id)); err != nil {
		return fmt.Errorf("publish %s event of %s: %w", pe.typ, pe.conv, err)
	}
	t.settle(ctx, pe)
	return nil
}

// settle deletes the record that marked pe as owed (owe), now that pe is stored, unless
// another owed event of the conversation still waits in the outbox (a rating made while its
// close's event waited): the record stays until the last of them is stored; or unless the
// actor manages the conversation again (handed back from the bot while its state event
// waited): the record is its queue record then. A record left behind costs the next takeover
// a read (it finds the event stored and cleans up), so a failure is logged, not returned:
// the event is stored, nothing is to retry.
func (t *tenant) settle(ctx context.Context, pe pendingEvent) {
	if !pe.owed || t.out.owes(pe.conv, pe.id) || t.convs[pe.conv] != nil {
		return
	}
	if err := t.deleteRecord(ctx, pe.conv); err != nil {
		t.log.Warn("record of a stored event left to the next takeover", zap.String("conv", pe.conv), zap.Error(err))
	}
}

// frame sends a frame to a user's gateways, with the trace context of ctx when it has one.
func (t *tenant) frame(ctx context.Context, user string, f *fd.ServerFrame) error {
	if user == "" {
		return nil
	}
	data, err := proto.Marshal(f)
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: subjects.User(t.id, user), Data: data, Header: tracing.InjectHeader(ctx, nil)}
	if err := t.e.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("frame to %s: %w", user, err)
	}
	return nil
}
