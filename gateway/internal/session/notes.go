// Private notes: agents and supervisors write them, staff sessions receive them, customers
// never. A note is stored in its own stream (subjects.Notes) and republished on a subject only
// staff sessions follow (subjects.NoteDeliver); the customer's subjects, sync and history never
// name either. onNote drops a note for a customer session anyway, so a wrong subscription
// could not deliver one either.

package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/hub"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

type convSub = struct {
	kind hub.Kind
	subj string
}

// staffSubs are the subscriptions a staff session holds per conversation beyond convSubs: its
// notes. None for customers.
func (s *Session) staffSubs(conv string) []convSub {
	if s.role == frames.RoleCustomer {
		return nil
	}
	return []convSub{{hub.Notes, subjects.NoteDeliver(s.tenant, conv)}}
}

// onNote forwards a note of a followed conversation to a staff session.
func (s *Session) onNote(d *hub.Delivery) {
	if s.role == frames.RoleCustomer {
		return
	}
	s.mu.Lock()
	if s.convs[d.Conv] != nil {
		s.enqueueLocked(d.Encoded(s.binary), frames.TypeNote)
	}
	s.mu.Unlock()
}

// handleNote stores a note and acks it with its note_seq. A supervisor writing in a
// conversation the session does not follow gets the note back at once, as followers get it
// live.
func (s *Session) handleNote(ctx context.Context, f *fd.ClientFrame) error {
	conv := f.GetConv()
	msg := &fd.Message{Id: NewID("m_"), ClientId: f.GetId(), Tenant: s.tenant, Conv: conv, From: s.me,
		Kind: frames.KindText, Text: frames.CleanText(f.GetText()), CreatedAt: now()}
	// The dedup id has a prefix of its own: a client reusing a message's frame id for a note
	// must not have the note taken for that message (the streams differ, but the id is the
	// client's word for one frame).
	ack, err := s.m.jsPublish(ctx, subjects.Notes(s.tenant, conv), "note/"+subjects.DedupID(s.tenant, s.user, f.GetId()), msg)
	if err != nil {
		return err
	}
	seq := int64(ack.Sequence)
	s.send(&fd.ServerFrame{Type: frames.TypeAck, Id: f.GetId(), Conv: conv, NoteSeq: &seq, Ts: frames.Timestamp(time.Now())})
	if !s.joined(conv) {
		s.send(frames.NoteFrame(msg, seq))
	}
	return nil
}

// handleNotes answers with the conversation's notes, oldest first: the newest MaxNotes that fit
// the reply budget; with text, the notes matching it, best first (searchNotes).
func (s *Session) handleNotes(ctx context.Context, f *fd.ClientFrame) error {
	var notes []*fd.ServerFrame
	var err error
	switch {
	case f.GetText() != "":
		notes, err = s.searchNotes(ctx, f)
	default:
		if err = s.access(ctx, f.GetConv(), true); err == nil {
			notes, err = s.m.readNotes(ctx, s.tenant, f.GetConv())
		}
	}
	if err != nil {
		return err
	}
	out := &fd.ServerFrame{Type: frames.TypeNotes, Id: f.GetId(), Conv: f.GetConv(), Messages: notes}
	b := s.encode(out)
	for len(b) > s.m.cfg.MaxReplyBytes && len(out.Messages) > 0 {
		out.Messages = out.Messages[len(out.Messages)/4+1:]
		more := true
		out.More = &more
		b = s.encode(out)
	}
	if err := s.spendReply(ctx, len(b)); err != nil {
		return err
	}
	s.mu.Lock()
	s.enqueueLocked(b, frames.TypeNotes)
	s.mu.Unlock()
	return nil
}

// readNotes reads a conversation's notes from the notes stream with a short-lived ordered
// consumer (deleted when done), keeping the newest frames.MaxNotes.
func (m *Manager) readNotes(ctx context.Context, tenant, conv string) ([]*fd.ServerFrame, error) {
	subject := subjects.Notes(tenant, conv)
	st, err := m.js.Stream(ctx, subjects.StreamNotes)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", subjects.StreamNotes, err)
	}
	last, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return []*fd.ServerFrame{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("last note of %s: %w", conv, err)
	}
	end := last.Sequence
	cons, err := m.js.OrderedConsumer(ctx, subjects.StreamNotes, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, InactiveThreshold: 30 * time.Second, MaxResetAttempts: 2,
	})
	if err != nil {
		return nil, fmt.Errorf("ordered consumer: %w", err)
	}
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = m.js.DeleteConsumer(dctx, subjects.StreamNotes, info.Name)
			cancel()
		}
	}()
	var out []*fd.ServerFrame
	for seen := uint64(0); seen < end; {
		msgs, err := cons.FetchNoWait(100)
		if err != nil {
			return nil, fmt.Errorf("fetch notes: %w", err)
		}
		n := 0
		for msg := range msgs.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("note metadata: %w", err)
			}
			seen = meta.Sequence.Stream
			pm := &fd.Message{}
			if proto.Unmarshal(msg.Data(), pm) != nil {
				continue // undecodable: skipped, as live delivery does
			}
			pm.Conv = conv
			out = append(out, frames.NoteFrame(pm, int64(seen)))
			if len(out) > frames.MaxNotes {
				out = out[1:]
			}
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("fetch notes: %w", err)
		}
		if n == 0 {
			break
		}
	}
	if out == nil {
		out = []*fd.ServerFrame{}
	}
	return out, nil
}

// searchNotes is staff's full-text search of notes (the persister's, English and Chinese):
// within the conversation named, which the user may read, or, for supervisors only, across the
// tenant. Each hit is a note frame whose text is the snippet, the match between « and ».
func (s *Session) searchNotes(ctx context.Context, f *fd.ClientFrame) ([]*fd.ServerFrame, error) {
	if f.GetConv() == "" && s.role != frames.RoleSupervisor {
		return nil, errForbidden
	}
	if f.GetConv() != "" {
		if err := s.access(ctx, f.GetConv(), true); err != nil {
			return nil, err
		}
	}
	reply, err := s.m.rec.SearchNotes(ctx, &fd.NotesSearchRequest{Tenant: s.tenant, Conv: f.GetConv(), Query: f.GetText(),
		Limit: int32(f.GetLimit())})
	if err != nil {
		return nil, err
	}
	out := []*fd.ServerFrame{}
	for _, h := range reply.GetHits() {
		seq := h.GetSeq()
		n := &fd.ServerFrame{Type: frames.TypeNote, Conv: h.GetConv(), From: h.GetAuthor(), Kind: frames.KindText,
			Text: h.GetSnippet(), NoteSeq: &seq}
		if h.GetAt() != nil {
			n.Ts = frames.Timestamp(h.GetAt().AsTime())
		}
		out = append(out, n)
	}
	return out, nil
}
