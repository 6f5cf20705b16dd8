package session

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/tracing"
)

// MaxTextBytes bounds a message's text; longer text is refused with too_large (the frame limit
// closes the connection; this is the polite limit below it).
const MaxTextBytes = frames.MaxTextBytes

// Handle processes one client frame: decoded, validated and rate-limited here, then checked
// and handled as its type's entry of frameHandlers (table.go) says. It runs on the connection's
// reader goroutine, so a client's frames are handled in order.
func (s *Session) Handle(ctx context.Context, data []byte) {
	s.handleMu.Lock()
	defer s.handleMu.Unlock()
	s.Alive()
	f, err := DecodeFrame(s.binary, data)
	if err != nil {
		s.m.metrics.FramesIn.WithLabelValues("invalid").Inc()
		s.sendError(f.GetId(), frames.CodeBadFrame, err.Error())
		return
	}
	s.m.metrics.FramesIn.WithLabelValues(f.GetType()).Inc()
	if f.GetType() == frames.TypePing {
		s.send(&fd.ServerFrame{Type: frames.TypePong})
		return
	}
	if !s.allow(f) {
		return
	}
	h, ok := frameHandlers[f.GetType()]
	if !ok {
		return // Validate knows every type; a type without a handler asks nothing of the server
	}
	if f.GetType() == frames.TypeSend && !s.m.shed.admit() {
		// Refused before anything else is spent on it (no context, span, access check or
		// store): refusals must stay cheap, as there are most of them when the gateway is
		// sent more than it carries (shed.go).
		s.fail(f.GetId(), errOverloaded)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.m.cfg.RequestTimeout)
	defer cancel()
	ctx, span := s.startFrame(ctx, f)
	defer span.End()
	err = s.admit(ctx, h, f)
	if err == nil {
		err = h.handle(s, ctx, f)
	}
	if err != nil {
		frameFailed(span, err)
		s.fail(f.GetId(), err, tracing.LogFields(ctx)...)
	}
}

// DecodeFrame decodes and validates one client frame: protobuf when binary, else JSON. On error
// the returned frame holds what could be decoded (its id answers the error).
func DecodeFrame(binary bool, data []byte) (*fd.ClientFrame, error) {
	f := &fd.ClientFrame{}
	var err error
	if binary {
		err = frames.DecodeProto(data, f)
	} else {
		err = frames.DecodeJSON(data, f)
	}
	if err == nil {
		err = frames.Validate(f)
	}
	return f, err
}

// addressShare is how many users' worth of frames one client address may send in detached
// requests: an address is often a few people (a household, an office behind NAT).
const addressShare = 4

// allow applies the connection's and the user's token buckets (a detached request's: the
// token's, the client address's and the user's). The user's bucket lives in the manager, not the
// session, so the limit holds across connections, transports and SSE POSTs. Persistent abuse
// closes the connection with 1008.
func (s *Session) allow(f *fd.ClientFrame) bool {
	t, _ := s.m.tenants.Get(s.tenant)
	lim := TenantLimits(t)
	now := time.Now()
	set := s.m.limiters
	scope := ""
	switch {
	case s.limiter != nil && !s.limiter.AllowN(now, 1):
		scope = "connection"
	case s.detached && !set.get(tokenKey(s.claims), lim.PerSecond, lim.Burst, now).AllowN(now, 1):
		scope = "token"
	case s.detached && s.addr != "" && !set.get("a\x00"+s.tenant+"\x00"+s.addr, addressShare*lim.UserPerSecond,
		addressShare*lim.Burst, now).AllowN(now, 1):
		scope = "address"
	case !set.get("u\x00"+userKey(s.tenant, s.user), lim.UserPerSecond, lim.Burst, now).AllowN(now, 1):
		scope = "user"
	}
	if scope == "" {
		s.abuse = 0
		return true
	}
	s.m.metrics.RateLimited.WithLabelValues(scope).Inc()
	s.abuse++
	if s.abuse > s.m.cfg.AbuseLimit {
		s.Close(frames.ClosePolicyViolation, "rate limit exceeded")
		return false
	}
	s.sendError(f.GetId(), frames.CodeRateLimited, "too many frames, slow down")
	return false
}

// spendReply takes n bytes from the user's reply budget, waiting for them as long as ctx
// allows; past that it fails at once with errRateLimited.
func (s *Session) spendReply(ctx context.Context, n int) error {
	r := s.m.cfg.ReplyBytesPerSecond
	lim := s.m.limiters.get("b\x00"+userKey(s.tenant, s.user), float64(r), max(r, 4*s.m.cfg.MaxReplyBytes), time.Now())
	if err := lim.WaitN(ctx, min(n, lim.Burst())); err != nil {
		return fmt.Errorf("%w: reply budget: %w", errRateLimited, err)
	}
	return nil
}

// tokenKey names a token's bucket: one token, one bucket, however many requests carry it.
func tokenKey(c *token.Claims) string {
	var iat, exp int64
	if c.IssuedAt != nil {
		iat = c.IssuedAt.Unix()
	}
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Unix()
	}
	return "t\x00" + userKey(c.Tenant, c.Subject) + "\x00" + strconv.FormatInt(iat, 10) + "\x00" + strconv.FormatInt(exp, 10)
}

func (s *Session) sendError(id, code, msg string) {
	s.send(&fd.ServerFrame{Type: frames.TypeError, Id: id, Code: code, Message: msg})
}

// fail answers a frame with the error code its error maps to.
func (s *Session) fail(id string, err error, logFields ...zap.Field) {
	var ref refusal // a refusal that says why (rating.go)
	switch {
	case errors.Is(err, errUnknownConv):
		s.sendError(id, frames.CodeUnknownConversation, "unknown conversation")
	case errors.As(err, &ref):
		s.send(&fd.ServerFrame{Type: frames.TypeError, Id: id, Code: frames.CodeForbidden, Reason: ref.reason, Message: ref.msg})
	case errors.Is(err, errForbidden):
		s.sendError(id, frames.CodeForbidden, "not allowed")
	case errors.Is(err, errTooLarge):
		s.sendError(id, frames.CodeTooLarge, err.Error())
	case errors.Is(err, errBadFrame):
		s.sendError(id, frames.CodeBadFrame, err.Error())
	case errors.Is(err, errOverloaded):
		s.m.metrics.RateLimited.WithLabelValues("overloaded").Inc()
		s.sendError(id, frames.CodeOverloaded, "the service is busy, retry")
	case errors.Is(err, errRateLimited):
		s.m.metrics.RateLimited.WithLabelValues("reply_bytes").Inc()
		s.sendError(id, frames.CodeRateLimited, "too much history at once, slow down")
	case errors.Is(err, errQuotaExceeded):
		s.sendError(id, frames.CodeQuotaExceeded, "the tenant's daily message quota is spent")
	default:
		s.m.log.Warn("frame failed", append(logFields, zap.String("session", s.id), zap.Error(err))...)
		s.sendError(id, frames.CodeInternal, "internal error, retry")
	}
}

var (
	errTooLarge    = errors.New("too large")
	errBadFrame    = errors.New("bad frame")
	errRateLimited = errors.New("rate limited")
)

// handleSend stores a message; Handle has admitted it (shed.go).
func (s *Session) handleSend(ctx context.Context, f *fd.ClientFrame) error {
	conv, err := s.conversationFor(ctx, f)
	if err != nil {
		return err
	}
	kind := f.GetKind()
	if kind == "" {
		kind = frames.KindText
	}
	att, err := s.m.checkAttachment(ctx, s.tenant, conv, f.GetAttachment())
	if err != nil {
		return err
	}
	if kind == frames.KindAudio {
		// A voice message is audio the gateway sniffed as such; its length is the recorder's word,
		// for display only, bounded so a client cannot make it absurd.
		if !strings.HasPrefix(att.GetType(), "audio/") {
			return fmt.Errorf("%w: kind audio needs an audio attachment", errBadFrame)
		}
		att = proto.Clone(att).(*fd.Attachment)
		att.DurationMs = min(max(f.GetAttachment().GetDurationMs(), 0), int64(time.Hour/time.Millisecond))
	}
	if err := s.takeMessage(ctx); err != nil {
		return err
	}
	msg := &fd.Message{Id: NewID("m_"), ClientId: f.GetId(), Tenant: s.tenant, Conv: conv, From: s.me, Kind: kind,
		Text: frames.CleanText(f.GetText()), Attachment: att, CreatedAt: now(), Trace: tracing.InjectMap(ctx, nil)}
	t0 := time.Now()
	ack, err := s.m.jsPublish(ctx, subjects.Messages(s.tenant, conv), subjects.DedupID(s.tenant, s.user, f.GetId()), msg)
	if err != nil {
		return err
	}
	s.m.metrics.PublishLatency.Observe(time.Since(t0).Seconds())
	seq := int64(ack.Sequence)
	s.send(&fd.ServerFrame{Type: frames.TypeAck, Id: f.GetId(), Conv: conv, Seq: &seq, Ts: frames.Timestamp(t0)})
	return nil
}

// conversationFor resolves the conversation of a send or handoff: the named one (checked), or a
// customer's open one, opened now if there is none.
func (s *Session) conversationFor(ctx context.Context, f *fd.ClientFrame) (string, error) {
	if conv := f.GetConv(); conv != "" {
		if s.role != frames.RoleSupervisor {
			return conv, s.access(ctx, conv, false)
		}
		// A supervisor may join any live conversation of the tenant and write in it (access
		// joins it); reading a closed one is not taking part, and it takes no new messages.
		if err := s.access(ctx, conv, true); err != nil {
			return conv, err
		}
		if !s.joined(conv) {
			return conv, errForbidden
		}
		return conv, nil
	}
	if s.role != frames.RoleCustomer {
		return "", fmt.Errorf("%w: conv is required", errBadFrame)
	}
	conv, created, err := s.m.customerConversation(ctx, s)
	if err != nil {
		return "", err
	}
	if err := s.join(conv); err != nil {
		return "", err
	}
	if created {
		// Tell the user's other sessions, on every gateway, to follow the new conversation.
		t, _ := s.m.tenants.Get(s.tenant)
		state := frames.StateQueued
		if t.GetBot().GetEnabled() {
			state = frames.StateBot
		}
		// On the user's Session subject, which gateways own: the User subject is the
		// dispatcher's, and a gateway may not publish there (deploy/natsauth).
		a := s.announcement(true)
		a.Opened, a.OpenedState = conv, state
		if err := s.m.publishProto(ctx, subjects.Session(s.tenant, s.user), a); err != nil {
			return "", fmt.Errorf("announce conversation: %w", err)
		}
	}
	return conv, nil
}

func (s *Session) handleHandoff(ctx context.Context, f *fd.ClientFrame) error {
	conv, err := s.conversationFor(ctx, f)
	if err != nil {
		return err
	}
	return s.command(ctx, f, subjects.ConvCommands(s.tenant, conv), &fd.Command{Type: frames.CommandHandoff, Conv: conv,
		Reason: "customer", Priority: int32(s.claims.Priority), Language: s.claims.Language, Customer: s.me})
}

// handleNoticeAnswer turns a customer's answer to a notice (leave a message, back to the
// assistant) into the dispatcher command of the same name.
func (s *Session) handleNoticeAnswer(ctx context.Context, f *fd.ClientFrame) error {
	cmd := &fd.Command{Type: f.GetType(), Conv: f.GetConv(), Customer: s.me}
	if f.GetType() == frames.TypeLeaveMessage {
		cmd.Text = frames.CleanText(f.GetText())
	}
	return s.command(ctx, f, subjects.ConvCommands(s.tenant, f.GetConv()), cmd)
}

// command publishes a dispatcher command and acks the frame. A frame id makes the command id,
// so a retried frame is one command.
func (s *Session) command(ctx context.Context, f *fd.ClientFrame, subject string, cmd *fd.Command) error {
	cmd.Tenant = s.tenant
	cmd.Actor = s.me
	cmd.At = now()
	if f.GetId() != "" {
		cmd.Id = "cmd/" + subjects.DedupID(s.tenant, s.user, f.GetId())
	} else {
		cmd.Id = NewID("cmd_")
	}
	if _, err := s.m.jsPublish(ctx, subject, cmd.Id, cmd); err != nil {
		return err
	}
	if f.GetId() != "" {
		s.send(&fd.ServerFrame{Type: frames.TypeAck, Id: f.GetId(), Conv: cmd.GetConv(), Ts: frames.Timestamp(time.Now())})
	}
	return nil
}

func (s *Session) handleHistory(ctx context.Context, f *fd.ClientFrame) error {
	limit := f.GetLimit()
	if limit <= 0 {
		limit = frames.DefaultHistoryLimit
	}
	limit = min(limit, frames.MaxHistoryLimit)
	reply, err := s.m.rec.History(ctx, &fd.HistoryRequest{Tenant: s.tenant, Conv: f.GetConv(), Before: f.GetBefore(), Limit: limit})
	if err != nil {
		return err
	}
	h := s.historyFrame(f.GetId(), f.GetConv(), reply.GetMessages(), reply.GetMore(), s.m.cfg.MaxReplyBytes)
	b := s.encode(h)
	if err := s.spendReply(ctx, len(b)); err != nil {
		return err
	}
	s.mu.Lock()
	s.enqueueLocked(b, frames.TypeHistory)
	s.mu.Unlock()
	return nil
}

func (s *Session) handleAssist(ctx context.Context, f *fd.ClientFrame) error {
	b, _ := proto.Marshal(&fd.AssistRequest{Tenant: s.tenant, Conv: f.GetConv(), Agent: s.me})
	msg, err := s.m.nc.RequestMsgWithContext(ctx, &nats.Msg{Subject: subjects.Assist(s.tenant, f.GetConv()), Data: b,
		Header: tracing.InjectHeader(ctx, nil)})
	if err != nil {
		return fmt.Errorf("assist: %w", err)
	}
	reply := &fd.AssistReply{}
	if err := proto.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("assist reply: %w", err)
	}
	if reply.GetError() != "" {
		return fmt.Errorf("assist: %s", reply.GetError())
	}
	s.send(&fd.ServerFrame{Type: frames.TypeSuggestion, Id: f.GetId(), Conv: f.GetConv(), Text: reply.GetText()})
	return nil
}

// replay sends a conversation's messages after `after`, then synced. Live messages of the
// conversation are held meanwhile and released after, in seq order without duplicates.
func (s *Session) replay(ctx context.Context, id, conv string, after int64) {
	s.mu.Lock()
	cs := s.convs[conv]
	if cs != nil {
		cs.syncing++
	}
	s.mu.Unlock()
	last, recovered := s.m.replay(ctx, s, conv, after)
	for recovered && cs != nil {
		// More live messages came than could be held: replay them from the stream too.
		s.mu.Lock()
		again := cs.overflow
		cs.overflow = false
		if again {
			cs.pending, cs.held = nil, 0
		}
		s.mu.Unlock()
		if !again {
			break
		}
		last, recovered = s.m.replay(ctx, s, conv, last)
	}
	s.mu.Lock()
	if cs != nil {
		cs.syncing--
		cs.lastSent = max(cs.lastSent, last)
		if cs.syncing == 0 {
			for _, d := range cs.pending {
				if d.Seq > cs.lastSent {
					cs.lastSent = d.Seq
					s.enqueueLocked(d.Encoded(s.binary), frames.TypeMessage)
				}
			}
			cs.pending, cs.held = nil, 0
		}
	}
	s.enqueueLocked(s.encode(&fd.ServerFrame{Type: frames.TypeSynced, Id: id, Conv: conv, LastSeq: &last,
		Recovered: &recovered}), frames.TypeSynced)
	s.mu.Unlock()
}

// replay sends the messages of conv after `after` to s: first what the stream no longer holds,
// from the record, then the rest from the stream. It returns the last sequence sent and whether
// everything was; it stops at the first gap it cannot fill so the client can resume from last.
func (m *Manager) replay(ctx context.Context, s *Session, conv string, after int64) (last int64, recovered bool) {
	last = after
	end, err := m.rec.LastSeq(ctx, s.tenant, conv)
	if err != nil {
		m.log.Warn("sync: last sequence", zap.Error(err))
		return last, false
	}
	if end <= after {
		return last, true
	}
	first, err := m.rec.FirstSeq(ctx)
	if err != nil {
		m.log.Warn("sync: stream info", zap.Error(err))
		return last, false
	}
	emit := func(msg *fd.Message, seq int64) bool {
		msg.Conv = conv
		b := s.encode(frames.MessageFrame(msg, seq))
		if s.spendReply(ctx, len(b)) != nil {
			return false // over the user's reply budget for this frame's time: resume from last
		}
		s.mu.Lock()
		s.enqueueLocked(b, frames.TypeMessage)
		s.mu.Unlock()
		last = seq
		return true
	}
	for last+1 < first {
		reply, err := m.rec.History(ctx, &fd.HistoryRequest{Tenant: s.tenant, Conv: conv, After: last, Limit: frames.MaxHistoryLimit})
		if err != nil {
			m.log.Warn("sync: record unreachable", zap.String("conv", conv), zap.Error(err))
			return last, false
		}
		for _, sm := range reply.GetMessages() {
			if sm.GetSeq() <= last {
				continue
			}
			if sm.GetSeq() >= first {
				break
			}
			if !emit(sm.GetMessage(), sm.GetSeq()) {
				return last, false
			}
			s.waitQueue(ctx) // a page can outweigh the queue: wait as the stream replay does
		}
		if !reply.GetMore() || len(reply.GetMessages()) == 0 {
			break
		}
		if reply.GetMessages()[len(reply.GetMessages())-1].GetSeq() >= first {
			break
		}
	}
	if last >= end {
		return last, true
	}
	over := false // the reply budget ran out: skip the rest, the client resumes from last
	err = hub.ReadStream(ctx, m.js, subjects.Messages(s.tenant, conv), last, end, func(msg *fd.Message, seq int64) {
		if over = over || !emit(msg, seq); !over {
			s.waitQueue(ctx)
		}
	})
	if err != nil {
		m.log.Warn("sync: stream", zap.String("conv", conv), zap.Error(err))
		return last, false
	}
	return last, !over
}
