package session

import (
	"context"
	"fmt"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// frameHandler is what the server does with one type of client frame: who may send it, what
// the frame must pass before anything is read, which access to its conversation it needs, and
// the work itself. Handle applies them in that order, so a refusal never costs a NATS round trip
// it does not need.
type frameHandler struct {
	roles  roles
	check  func(f *fd.ClientFrame) error // nil: nothing beyond frames.Validate
	access access
	handle func(s *Session, ctx context.Context, f *fd.ClientFrame) error
}

// roles are the roles that may send a frame type.
type roles uint8

const (
	anyone    roles = iota
	customers       // the customer role only
	staff           // every role but customer
)

func (r roles) allow(role string) bool {
	switch r {
	case customers:
		return role == frames.RoleCustomer
	case staff:
		return role != frames.RoleCustomer
	}
	return true
}

// access is the check a frame's conversation must pass before its handler runs.
type access uint8

const (
	// none: the frame names no conversation, or its handler resolves it (send and handoff may
	// open one).
	none access = iota
	// participant: the user takes part in the conversation (Session.access, joining it).
	participant
	// reader: the user takes part in it or may read it without (Session.mayRead).
	reader
	// supervisorReader: like reader for supervisors, like participant for everyone else: a
	// supervisor acts on any conversation of the tenant.
	supervisorReader
	// exists: the conversation exists; an offered conversation has no participant key for the
	// agent yet.
	exists
)

// frameHandlers maps each client frame type (proto/frames) to its handler. Ping is answered
// before the rate limits and is not here.
var frameHandlers = map[string]frameHandler{
	frames.TypeSend:         {roles: anyone, check: textFits, access: none, handle: (*Session).handleSend},
	frames.TypeSync:         {roles: anyone, access: reader, handle: (*Session).handleSync},
	frames.TypeHistory:      {roles: anyone, access: reader, handle: (*Session).handleHistory},
	frames.TypeTyping:       {roles: anyone, access: participant, handle: (*Session).handleTyping},
	frames.TypeRead:         {roles: anyone, access: participant, handle: (*Session).handleRead},
	frames.TypeHandoff:      {roles: customers, access: none, handle: (*Session).handleHandoff},
	frames.TypeStatus:       {roles: staff, access: none, handle: (*Session).handleStatus},
	frames.TypeTransfer:     {roles: staff, check: transferTarget, access: supervisorReader, handle: (*Session).handleConvCommand},
	frames.TypeClose:        {roles: anyone, access: supervisorReader, handle: (*Session).handleConvCommand},
	frames.TypeAccept:       {roles: staff, access: exists, handle: (*Session).handleConvCommand},
	frames.TypeDecline:      {roles: staff, access: exists, handle: (*Session).handleConvCommand},
	frames.TypeAssist:       {roles: staff, access: participant, handle: (*Session).handleAssist},
	frames.TypeLeaveMessage: {roles: customers, check: textFits, access: participant, handle: (*Session).handleNoticeAnswer},
	frames.TypeToBot:        {roles: customers, check: textFits, access: participant, handle: (*Session).handleNoticeAnswer},
	frames.TypeNote:         {roles: staff, check: textFits, access: supervisorReader, handle: (*Session).handleNote},
	frames.TypeNotes:        {roles: staff, access: none, handle: (*Session).handleNotes}, // checks its own (notes.go)
	frames.TypeRate:         {roles: customers, check: commentFits, access: reader, handle: (*Session).handleRate},
	// transcript.go
	frames.TypeTranscript: {roles: anyone, check: transcriptAddress, access: supervisorReader, handle: (*Session).handleTranscript},
	// roster.go
	frames.TypeRoster: {roles: staff, access: none, handle: (*Session).handleRoster},
}

// admit applies a handler's role, frame and access checks.
func (s *Session) admit(ctx context.Context, h frameHandler, f *fd.ClientFrame) error {
	if !h.roles.allow(s.role) {
		return errForbidden
	}
	if h.check != nil {
		if err := h.check(f); err != nil {
			return err
		}
	}
	switch h.access {
	case participant:
		return s.access(ctx, f.GetConv(), false)
	case reader:
		return s.access(ctx, f.GetConv(), true)
	case supervisorReader:
		return s.access(ctx, f.GetConv(), s.role == frames.RoleSupervisor)
	case exists:
		c, err := s.m.rec.Conversation(ctx, s.tenant, f.GetConv())
		if err != nil {
			return err
		}
		if c == nil {
			return errUnknownConv
		}
	}
	return nil
}

// textFits refuses text over MaxTextBytes with too_large.
func textFits(f *fd.ClientFrame) error {
	if len(f.GetText()) > MaxTextBytes {
		return fmt.Errorf("%w: text over %d bytes", errTooLarge, MaxTextBytes)
	}
	return nil
}

// transferTarget refuses a transfer to an agent or queue no subject can name.
func transferTarget(f *fd.ClientFrame) error {
	if (f.GetToAgent() != "" && !subjects.ValidToken(f.GetToAgent())) || (f.GetToQueue() != "" && !subjects.ValidToken(f.GetToQueue())) {
		return badFrameError("bad to_agent or to_queue")
	}
	return nil
}

// badFrameError is a bad_frame refusal whose message is sent as it is.
type badFrameError string

func (e badFrameError) Error() string        { return string(e) }
func (e badFrameError) Is(target error) bool { return target == errBadFrame }

func (s *Session) handleSync(ctx context.Context, f *fd.ClientFrame) error {
	s.replay(ctx, f.GetId(), f.GetConv(), f.GetAfter())
	return nil
}

func (s *Session) handleTyping(ctx context.Context, f *fd.ClientFrame) error {
	return s.m.publishProto(ctx, subjects.Live(s.tenant, f.GetConv()),
		&fd.ServerFrame{Type: frames.TypeTyping, Conv: f.GetConv(), From: s.me})
}

func (s *Session) handleRead(ctx context.Context, f *fd.ClientFrame) error {
	return s.m.publishProto(ctx, subjects.Reads(s.tenant, f.GetConv(), s.user),
		&fd.ReadPosition{Tenant: s.tenant, Conv: f.GetConv(), User: s.me, Seq: f.GetSeq(), At: now()})
}

func (s *Session) handleStatus(ctx context.Context, f *fd.ClientFrame) error {
	return s.command(ctx, f, subjects.AgentCommands(s.tenant, s.user), &fd.Command{Type: frames.CommandStatus,
		Status: f.GetStatus(), MaxChats: int32(s.claims.Capacity()), AgentSkills: s.claims.Skills})
}

// handleConvCommand turns transfer, close, accept and decline into the dispatcher command of
// the conversation; accept and decline carry the frame's type as the command's.
func (s *Session) handleConvCommand(ctx context.Context, f *fd.ClientFrame) error {
	cmd := &fd.Command{Type: f.GetType(), Conv: f.GetConv()}
	switch f.GetType() {
	case frames.TypeTransfer:
		cmd.Type, cmd.ToAgent, cmd.ToQueue = frames.CommandTransfer, f.GetToAgent(), f.GetToQueue()
	case frames.TypeClose:
		cmd.Type = frames.CommandClose
	}
	return s.command(ctx, f, subjects.ConvCommands(s.tenant, f.GetConv()), cmd)
}
