package engine

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// Command intake: commands are applied once each, in stream order. One that fails (NATS not
// answering) waits for its retry without holding the actor: presence, timers and waiting
// events go on, only later commands wait behind it. One that keeps failing while NATS answers
// is parked in the dead-letter stream so it cannot block the tenant forever.

const (
	// maxConflicts bounds how often a command is decided again at once after its
	// conversation changed concurrently.
	maxConflicts = 5
	// maxCommandAttempts bounds the retries of one failing command before it is dead-lettered.
	maxCommandAttempts = 50
	// commandRetry is the wait between two attempts of a failing command.
	commandRetry = 200 * time.Millisecond
)

// pendingCommand is a parsed command that failed and waits for its next attempt.
type pendingCommand struct {
	msg      jetstream.Msg
	c        command
	attempts int
	at       time.Time
}

// parse reads a command from the stream; nil for one applied before or not a command of
// this tenant, with the sequence of an invalid one (which the cursor may pass).
func (t *tenant) parse(msg jetstream.Msg) (*pendingCommand, uint64) {
	md, err := msg.Metadata()
	if err != nil {
		return nil, 0
	}
	seq := md.Sequence.Stream
	if seq <= t.cursor {
		return nil, 0
	}
	var c fd.Command
	parsed, perr := subjects.Parse(msg.Subject())
	if err := proto.Unmarshal(msg.Data(), &c); err != nil || perr != nil || parsed.Tenant != t.id {
		t.e.m.commands.WithLabelValues("invalid", "ignored").Inc()
		return nil, seq
	}
	// The subject is authoritative: NATS permissions bind who may publish it.
	c.Tenant = t.id
	if parsed.Conv != "" {
		c.Conv = parsed.Conv
	}
	return &pendingCommand{msg: msg, c: command{Command: &c, seq: seq, agent: parsed.User}}, seq
}

// retryStalled makes the next attempt of the command waiting for its retry.
func (t *tenant) retryStalled(ctx context.Context, now time.Time) {
	p := t.stalled
	t.stalled = nil
	t.attempt(ctx, p, now)
}

// attempt applies p, deciding again at once after a conflict. A failure leaves p stalled until
// its retry is due, or dead-letters it after too many attempts.
func (t *tenant) attempt(ctx context.Context, p *pendingCommand, now time.Time) {
	ctx, span := t.startCommand(ctx, p)
	defer span.End()
	var err error
	for conflicts := 0; ; conflicts++ {
		if err = t.apply(ctx, p.c); err == nil {
			t.e.m.commands.WithLabelValues(commandLabel(p.c.GetType()), "applied").Inc()
			t.cursor = p.c.seq
			return
		}
		if !errors.Is(err, errConflict) || conflicts >= maxConflicts {
			break
		}
	}
	p.attempts++
	t.e.m.commands.WithLabelValues(commandLabel(p.c.GetType()), "error").Inc()
	if p.attempts >= maxCommandAttempts {
		// A command that keeps failing while NATS answers would block the tenant forever:
		// park it for an operator and go on.
		if t.deadLetter(ctx, p.msg, p.c.seq, err) == nil {
			t.cursor = p.c.seq
			return
		}
	}
	commandFailed(span, err)
	t.log.Warn("command failed, retrying", append(tracing.LogFields(ctx), zap.String("type", p.c.GetType()), zap.String("conv", p.c.GetConv()),
		zap.Uint64("seq", p.c.seq), zap.Int("attempts", p.attempts), zap.Error(err))...)
	p.at = now.Add(commandRetry)
	t.stalled = p
}

// deadLetter copies a command the dispatcher gave up on to the dead-letter stream.
func (t *tenant) deadLetter(ctx context.Context, msg jetstream.Msg, seq uint64, cause error) error {
	dl := &fd.DeadLetter{Service: "dispatcher", Stream: subjects.StreamCommands, Subject: msg.Subject(), Seq: seq,
		Reason: cause.Error(), Data: msg.Data(), At: timestamppb.Now()}
	data, err := proto.Marshal(dl)
	if err != nil {
		return err
	}
	m := nats.NewMsg(subjects.DeadLetters("dispatcher"))
	m.Data = data
	_, err = t.e.js.PublishMsg(ctx, m, jetstream.WithMsgID("dispatcher/"+strconv.FormatUint(seq, 10)))
	if err == nil {
		t.log.Error("command dead-lettered", zap.Uint64("seq", seq), zap.String("subject", msg.Subject()), zap.Error(cause))
	}
	return err
}

// apply decides c for its conversation and carries the decision out. Failures after the
// decision committed are logged here: the command counts as applied.
func (t *tenant) apply(ctx context.Context, c command) error {
	now := time.Now()
	if c.GetType() == frames.CommandStatus {
		return t.carryOut(ctx, nil, t.rules().decide(conversation{}, c, now), now)
	}
	if !subjects.ValidToken(c.GetConv()) {
		return nil
	}
	if c.GetType() == frames.CommandTranscript { // changes no state (transcript.go)
		return t.transcriptRequested(ctx, c, now)
	}
	cs := t.convs[c.GetConv()]
	if cs == nil {
		var err error
		if cs, err = t.fetch(ctx, c.GetConv()); err != nil || cs == nil {
			return err // unknown conversation: nothing to do
		}
	}
	if cs.cmd >= c.seq {
		return nil // applied before a failover
	}
	d := t.rules().decide(t.view(cs), c, now)
	if d.refusal != "" {
		t.log.Info("command refused", zap.String("type", c.GetType()), zap.String("conv", c.GetConv()),
			zap.String("reason", d.refusal))
	}
	err := t.committed(t.carryOut(ctx, cs, d, now), c.GetConv())
	if err == nil {
		cs.cmd = c.seq
	}
	return err
}
