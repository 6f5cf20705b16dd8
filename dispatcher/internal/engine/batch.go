package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Batching (issue 18): a burst of customers asking for a human used to cost the tenant's
// actor one serial chain of NATS round trips per customer (read, compare-and-set, queue
// record, event; then compare-and-set, event, participant key), about 1,000 customers a
// second with the process idle three quarters of the time. The actor now takes the commands
// that have arrived and the matches it can make as groups: the transitions stay pure and are
// decided one by one in stream order, the group's reads and compare-and-sets run
// concurrently (each on its own conversation, its revision checked as before), and the
// effects after the commits are queued per conversation and carried out together, each
// conversation's in order. Memory effects still run on the actor, in order.

const (
	// maxGroup bounds the commands or matches carried out together: large enough to fill the
	// round trips of a burst, small enough that presence and timers are never far behind.
	maxGroup = 1024
	// ioWorkers bounds the NATS requests one group has in flight.
	ioWorkers = 256
)

// groupable reports whether commands of type typ may share a group: their transition reads
// only their own conversation, so deciding it before the group's earlier commands took
// effect in memory decides the same. Others (transfer and offers read the agents, status is
// about an agent, and commands added later until someone shows otherwise) run alone.
func groupable(typ string) bool {
	switch typ {
	case frames.CommandOpen, frames.CommandHandoff, frames.CommandClose, frames.CommandToBot:
		return true
	}
	return false
}

// batchable reports whether d can be carried out in a group: it commits with one
// compare-and-set first, or commits nothing, and everything after is memory or NATS after
// the commit.
func batchable(d decision) bool {
	for i, ef := range d.effects {
		if commits(ef) {
			if _, ok := ef.(write); !ok || i != 0 {
				return false
			}
		}
	}
	return true
}

// ioOp is a NATS effect of a committed decision: a JetStream publish (msg, with its
// Nats-Msg-Id if any), pipelined with the round's others, or anything else (run). ev is set
// for an event: when it fails, it and the conversation's later events wait in the outbox, in
// order. quick ops (core publishes) run on the actor; other runs concurrently.
type ioOp struct {
	ev    *pendingEvent
	msg   *nats.Msg
	id    string
	what  string
	quick bool
	run   func(context.Context) error
	// step is when it goes out in the flush: after what it must follow (see ioBatch.add).
	step int
}

// ioBatch collects the NATS effects of committed decisions, per conversation. The actor
// opens one for each round of its loop's intake and matching and carries it out at the end
// of the round: a customer's move to the queue and its assignment in the same round cost
// their commits' round trips, and their events go out together, in order.
type ioBatch struct {
	jobs   []*ioJob
	byConv map[string]*ioJob
}

func newIOBatch() *ioBatch { return &ioBatch{byConv: map[string]*ioJob{}} }

type ioJob struct {
	conv   string
	ops    []ioOp
	errs   []error
	failed []pendingEvent
	// The last steps of the job's events, KV writes and other effects, and its last step.
	lastEv, lastPut, lastRun, last int
}

// add queues op after the conversation's earlier effects it must follow: an event after the
// conversation's earlier events (they are stored in order), a KV write after its earlier KV
// writes (a key written twice keeps the later value), anything else (frames, deletes) after
// every earlier effect (a frame after the participant key it makes a gateway check). Effects
// that need not wait for each other go out in the same step: a conversation handed off and
// assigned in one round costs three steps, not five.
func (b *ioBatch) add(conv string, op ioOp) {
	j := b.byConv[conv]
	if j == nil {
		j = &ioJob{conv: conv, lastEv: -1, lastPut: -1, lastRun: -1, last: -1}
		b.byConv[conv] = j
		b.jobs = append(b.jobs, j)
	}
	switch {
	case op.ev != nil:
		op.step = max(j.lastEv, j.lastRun) + 1
		j.lastEv = op.step
	case op.msg != nil:
		op.step = max(j.lastPut, j.lastRun) + 1
		j.lastPut = op.step
	default:
		op.step = j.last + 1
		j.lastRun = op.step
	}
	j.last = max(j.last, op.step)
	j.ops = append(j.ops, op)
}

// fail records op's failure in its job.
func (j *ioJob) fail(op ioOp, err error) {
	if op.what != "" {
		err = fmt.Errorf("%s: %w", op.what, err)
	}
	j.errs = append(j.errs, err)
	if op.ev != nil {
		j.failed = append(j.failed, *op.ev)
	}
}

// kvPut is a pipelined write of key in bucket, as KeyValue.Put does it.
func kvPut(bucket, key string, data []byte, what string) ioOp {
	msg := nats.NewMsg(subjects.KVPut(bucket, key))
	msg.Data = data
	return ioOp{msg: msg, what: what}
}

// deferIO queues ef, a NATS effect after the commit about cs, while the actor collects a
// round's effects. Whatever it reads of the actor's memory (a place in line, the queue
// record) is read now, as the serial applier would. It reports false for effects it does not
// defer.
func (t *tenant) deferIO(ctx context.Context, cs *convState, ef effect) bool {
	if t.io == nil || cs == nil {
		return false
	}
	conv := cs.c.GetConv()
	switch ef := ef.(type) {
	case putParticipant:
		if ef.p.GetId() == "" {
			return true
		}
		data, err := proto.Marshal(ef.p)
		if err != nil {
			return false
		}
		t.io.add(conv, kvPut(subjects.BucketParticipants, subjects.ParticipantKey(t.id, ef.p.GetId(), conv), data,
			"participant key of "+ef.p.GetId()+" in "+conv))
	case dropParticipant:
		t.io.add(conv, ioOp{run: func(ctx context.Context) error { return t.dropParticipant(ctx, conv, ef.user) }})
	case dropOpen:
		t.io.add(conv, ioOp{run: func(ctx context.Context) error { return t.dropOpen(ctx, conv, ef.customer) }})
	case saveRecord:
		key, data := t.recordOf(cs, ef.cmd)
		t.io.add(conv, kvPut(subjects.BucketDispatcher, key, data, "save queue record of "+conv))
	case dropRecord:
		t.io.add(conv, ioOp{run: func(ctx context.Context) error { return t.deleteRecord(ctx, conv) }})
	case event:
		pe := t.eventOf(cs, ef)
		if t.out.holds(pe.conv) {
			t.await(pe)
			return true
		}
		msg := nats.NewMsg(subjects.Events(t.id, pe.conv))
		msg.Data = pe.data
		tracing.InjectHeader(ctx, msg.Header) // the command's trace goes on with its event
		t.io.add(conv, ioOp{ev: &pe, msg: msg, id: pe.id, what: "publish " + pe.typ + " event of " + pe.conv})
	case sendFrame:
		t.io.add(conv, ioOp{quick: true, run: func(ctx context.Context) error { return t.frame(ctx, ef.user, ef.f) }})
	default:
		return false
	}
	return true
}

// ackWait bounds the wait for a round's acknowledgements: a publish JetStream never answers
// (a server gone in between) fails like a request that timed out.
const ackWait = 5 * time.Second

// flushIO carries out the round's NATS effects in steps (ioBatch.add), each step's JetStream
// publishes pipelined and their acks awaited together, so a conversation's effects happen in
// the order they must (an event before the next, a participant key before the frame that
// makes a gateway check it) and each step's events are stored in the order they were decided. Then failed events go to the outbox and failures are
// logged, as the serial applier does for a committed decision.
func (t *tenant) flushIO(ctx context.Context) {
	b := t.io
	t.io = nil
	if b == nil || len(b.jobs) == 0 {
		return
	}
	type pending struct {
		j   *ioJob
		op  ioOp
		err error
	}
	var (
		pubs, runs []*pending
		futs       []jetstream.PubAckFuture
		// owed are the stored events whose records go once the steps are done (settle).
		owed []pendingEvent
	)
	steps := 0
	for _, j := range b.jobs {
		steps = max(steps, j.last+1)
	}
	for k := range steps {
		pubs, runs, futs = pubs[:0], runs[:0], futs[:0]
		for _, j := range b.jobs {
			for _, op := range j.ops {
				if op.step != k {
					continue
				}
				switch {
				case op.ev != nil && len(j.failed) > 0:
					j.failed = append(j.failed, *op.ev)
				case op.msg != nil:
					var opts []jetstream.PublishOpt
					if op.id != "" {
						opts = append(opts, jetstream.WithMsgID(op.id))
					}
					fut, err := t.e.js.PublishMsgAsync(op.msg, opts...)
					if err != nil {
						j.fail(op, err)
						continue
					}
					pubs = append(pubs, &pending{j: j, op: op})
					futs = append(futs, fut)
				case op.quick:
					if err := op.run(ctx); err != nil {
						j.fail(op, err)
					}
				default:
					runs = append(runs, &pending{j: j, op: op})
				}
			}
		}
		concurrently(len(runs), func(i int) { runs[i].err = runs[i].op.run(ctx) })
		for _, p := range runs {
			if p.err != nil {
				p.j.fail(p.op, p.err)
			}
		}
		for i, ack := range acks(ctx, futs, func(i int, err error) { pubs[i].j.fail(pubs[i].op, err) }) {
			if ev := pubs[i].op.ev; ack != nil && ev != nil && ev.owed {
				owed = append(owed, *ev)
			}
		}
	}
	for _, j := range b.jobs {
		for _, pe := range j.failed {
			t.await(pe)
		}
	}
	// After the failed events are in the outbox: a record stays while an owed event waits.
	concurrently(len(owed), func(i int) { t.settle(ctx, owed[i]) })
	for _, j := range b.jobs {
		if len(j.errs) > 0 {
			t.log.Warn("effects failed after commit", zap.String("conv", j.conv), zap.Error(errors.Join(j.errs...)))
		}
	}
}

// acks waits for the acknowledgements of pipelined publishes and returns them (nil for
// those refused or not answered within ackWait, which are passed to failed).
func acks(ctx context.Context, futs []jetstream.PubAckFuture, failed func(i int, err error)) []*jetstream.PubAck {
	if len(futs) == 0 {
		return nil
	}
	out := make([]*jetstream.PubAck, len(futs))
	deadline := time.NewTimer(ackWait)
	defer deadline.Stop()
	var late error
	for i, fut := range futs {
		if late != nil {
			// Past the deadline: take what has arrived, fail the rest.
			select {
			case out[i] = <-fut.Ok():
			case err := <-fut.Err():
				failed(i, err)
			default:
				failed(i, late)
			}
			continue
		}
		select {
		case out[i] = <-fut.Ok():
		case err := <-fut.Err():
			failed(i, err)
		case <-ctx.Done():
			late = ctx.Err()
			failed(i, late)
		case <-deadline.C:
			late = fmt.Errorf("no acknowledgement within %v", ackWait)
			failed(i, late)
		}
	}
	return out
}

// concurrently runs fn(0..n-1) on up to ioWorkers goroutines and waits for them.
func concurrently(n int, fn func(i int)) {
	switch n {
	case 0:
		return
	case 1:
		fn(0)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, ioWorkers) {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// grouped is one command or match of a group.
type grouped struct {
	p   *pendingCommand // a command; nil for a match
	m   assign.Match    // a match
	cs  *convState
	d   decision
	err error
}

// commitGroup makes the group's compare-and-sets as pipelined publishes on the conversations'
// KV subjects, each expecting the revision its decision was made on (what Update does), and
// checks them as they are acknowledged: a conversation changed meanwhile is read again and
// its command or match decided again on the serial path (errConflict).
func (t *tenant) commitGroup(ctx context.Context, g []*grouped) {
	var (
		sent []*grouped
		futs []jetstream.PubAckFuture
	)
	for _, x := range g {
		if x.err != nil || x.cs == nil || len(x.d.effects) == 0 {
			continue
		}
		w, ok := x.d.effects[0].(write)
		if !ok {
			continue
		}
		data, err := proto.Marshal(w.next)
		if err != nil {
			x.err = err
			continue
		}
		msg := nats.NewMsg(subjects.KVPut(subjects.BucketConversations, subjects.ConversationKey(t.id, w.next.GetConv())))
		msg.Data = data
		fut, err := t.e.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(x.cs.rev))
		if err != nil {
			x.err = fmt.Errorf("update conversation %s: %w", w.next.GetConv(), err)
			continue
		}
		sent = append(sent, x)
		futs = append(futs, fut)
	}
	var conflicts []*grouped
	got := acks(ctx, futs, func(i int, err error) {
		x := sent[i]
		if isMismatch(err) {
			conflicts = append(conflicts, x)
			return
		}
		x.err = fmt.Errorf("update conversation %s: %w", x.d.next().GetConv(), err)
	})
	for i, ack := range got {
		if ack != nil {
			x := sent[i]
			x.cs.c, x.cs.rev = x.d.next(), ack.Sequence
		}
	}
	concurrently(len(conflicts), func(i int) {
		x := conflicts[i]
		fresh, err := t.fetch(ctx, x.cs.c.GetConv())
		switch {
		case err != nil:
			x.err = err
		default:
			if fresh != nil {
				x.cs.c, x.cs.rev = fresh.c, fresh.rev
			}
			x.err = errConflict
		}
	})
}

// intake applies the commands waiting in the inbox, in stream order, until it is empty or a
// command waits for its retry. Consecutive groupable commands of distinct conversations are
// applied as a group; any other command alone, as before.
func (t *tenant) intake(ctx context.Context) {
	for len(t.inbox) > 0 && t.stalled == nil {
		if !t.owned() {
			return
		}
		var g []*grouped
		seen := map[string]bool{}
		n := 0
		for _, msg := range t.inbox {
			p, invalid := t.parse(msg)
			if p == nil {
				// Skipped. Inside a group the cursor waits for the group's commands.
				if len(g) == 0 && invalid > 0 {
					t.cursor = invalid
				}
				n++
				continue
			}
			if !groupable(p.c.GetType()) || seen[p.c.GetConv()] || len(g) >= maxGroup {
				if len(g) == 0 {
					n++
					t.attempt(ctx, p, time.Now())
				}
				break
			}
			seen[p.c.GetConv()] = true
			g = append(g, &grouped{p: p, cs: t.convs[p.c.GetConv()]})
			n++
		}
		t.inbox = t.inbox[n:]
		if len(g) > 0 {
			t.applyGroup(ctx, g)
		}
	}
	if len(t.inbox) == 0 {
		t.inbox = nil // let a burst's backing array go
	}
}

// applyGroup applies a group of commands: reads the conversations it does not hold, decides
// each in order, commits them concurrently, then carries out the rest in order. A command
// whose decision cannot be grouped ends the group there: it and the commands after it go
// back to the inbox, undecided.
func (t *tenant) applyGroup(ctx context.Context, g []*grouped) {
	concurrently(len(g), func(i int) {
		x := g[i]
		if x.cs == nil {
			x.cs, x.err = t.fetch(ctx, x.p.c.GetConv())
		}
	})
	now := time.Now()
	for i, x := range g {
		if x.err != nil || x.cs == nil || x.cs.cmd >= x.p.c.seq {
			continue
		}
		x.d = t.rules().decide(t.view(x.cs), x.p.c, now)
		if !batchable(x.d) {
			back := make([]*pendingCommand, 0, len(g)-i)
			for _, y := range g[i:] {
				back = append(back, y.p)
			}
			if i == 0 {
				// Leading the group: it goes alone, on the serial path, now.
				back = back[1:]
				t.requeue(back)
				t.attempt(ctx, x.p, now)
				return
			}
			t.requeue(back)
			g = g[:i]
			break
		}
	}
	t.commitGroup(ctx, g)
	var late []*pendingCommand
	blocked := false
	for _, x := range g {
		if x.err == nil {
			t.finishCommand(ctx, x, now, !blocked)
			continue
		}
		if t.stalled != nil {
			late = append(late, x.p) // waits behind the stalled command, in order
			continue
		}
		// Conflicts and failures take the serial path: decide again, retry, dead-letter.
		t.attempt(ctx, x.p, time.Now())
		blocked = t.stalled != nil
	}
	t.requeue(late)
}

// finishCommand carries out a committed command's decision after its commit. The cursor
// moves only when no earlier command of the group is still waiting.
func (t *tenant) finishCommand(ctx context.Context, x *grouped, now time.Time, advance bool) {
	p := x.p
	// The command's span, a child of the frame that published it: its effects carry it on.
	ctx, span := t.startCommand(ctx, p)
	defer span.End()
	if x.cs != nil && x.cs.cmd < p.c.seq {
		if x.d.refusal != "" {
			t.log.Info("command refused", zap.String("type", p.c.GetType()), zap.String("conv", p.c.GetConv()),
				zap.String("reason", x.d.refusal))
		}
		rest := x.d.effects
		if len(rest) > 0 {
			if w, ok := rest[0].(write); ok {
				t.wrote(x.cs, w.next, now)
				rest = rest[1:]
			}
		}
		if err := t.committed(t.carryOut(ctx, x.cs, decision{effects: rest}, now), p.c.GetConv()); err != nil {
			t.log.Warn("effects failed after commit", zap.String("conv", p.c.GetConv()), zap.Error(err))
		}
		x.cs.cmd = p.c.seq
	}
	t.e.m.commands.WithLabelValues(p.c.GetType(), "applied").Inc()
	if advance {
		t.cursor = max(t.cursor, p.c.seq)
	}
}

// requeue puts parsed commands back at the front of the inbox, in order.
func (t *tenant) requeue(ps []*pendingCommand) {
	if len(ps) == 0 {
		return
	}
	back := make([]jetstream.Msg, 0, len(ps)+len(t.inbox))
	for _, p := range ps {
		back = append(back, p.msg)
	}
	t.inbox = append(back, t.inbox...)
}
