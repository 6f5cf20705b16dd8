package convo

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Turn is one stored message of a conversation.
type Turn struct {
	// Seq is its messages-stream sequence.
	Seq uint64
	// Msg is the message.
	Msg *fd.Message
	// Header is the stored NATS header (the bot's outcome header among others).
	Header nats.Header
}

// History reads conversations' messages from the messages stream with per-subject "next
// message" reads (STREAM.MSG.GET with next_by_subj, which the bridge's NATS permissions allow;
// the stream has no direct get). Each read is one round trip, so the last turns of every
// conversation this replica recently read are cached and the next read only walks what was
// added since.
type History struct {
	stream jetstream.Stream
	size   int

	mu    sync.Mutex
	lru   *list.List // of *cached, most recent first
	index map[string]*list.Element
}

type cached struct {
	subject string
	last    uint64 // highest sequence walked
	turns   []Turn // the newest turns up to last, at most keepCached
}

// keepCached is how many turns are kept per cached conversation: more than any history_turns
// setting reasonably asks for.
const keepCached = 64

// maxWalk bounds one read: a conversation longer than this many new messages since the last
// read only contributes its first maxWalk (the walk goes forward from the oldest).
const maxWalk = 1000

// NewHistory returns a reader of stream (FD_MESSAGES) caching up to size conversations.
func NewHistory(stream jetstream.Stream, size int) *History {
	return &History{stream: stream, size: size, lru: list.New(), index: map[string]*list.Element{}}
}

// Turns returns up to n of the newest messages of conversation (tenant, conv) with a sequence at
// most upTo, oldest first.
func (h *History) Turns(ctx context.Context, tenant, conv string, upTo uint64, n int) ([]Turn, error) {
	subject := subjects.Messages(tenant, conv)
	h.mu.Lock()
	var c cached
	if el, ok := h.index[subject]; ok {
		c = *el.Value.(*cached)
		c.turns = append([]Turn(nil), c.turns...)
	}
	h.mu.Unlock()
	c.subject = subject

	if c.last < upTo {
		next, err := h.walk(ctx, subject, c.last+1, upTo, maxWalk)
		if err != nil {
			return nil, err
		}
		c.turns = append(c.turns, next...)
		if len(c.turns) > keepCached {
			c.turns = c.turns[len(c.turns)-keepCached:]
		}
		c.last = upTo
		h.store(&c)
	}
	var out []Turn
	for _, t := range c.turns {
		if t.Seq <= upTo {
			out = append(out, t)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// After returns up to max messages of the conversation stored after sequence after, oldest
// first.
func (h *History) After(ctx context.Context, tenant, conv string, after uint64, max int) ([]Turn, error) {
	return h.walk(ctx, subjects.Messages(tenant, conv), after+1, 0, max)
}

// walk reads the subject's messages from sequence from, up to upTo (0: no bound), at most max.
func (h *History) walk(ctx context.Context, subject string, from, upTo uint64, max int) ([]Turn, error) {
	var out []Turn
	for seq := from; len(out) < max; {
		raw, err := h.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read %s from %d: %w", subject, seq, err)
		}
		if upTo > 0 && raw.Sequence > upTo {
			break
		}
		m := &fd.Message{}
		if err := proto.Unmarshal(raw.Data, m); err == nil {
			if m.GetKind() == frames.KindTranscript {
				// A voice message's transcript is what the customer said, not the bot's turn.
				m.From = &fd.Participant{Id: "transcript", Role: frames.RoleCustomer}
			}
			out = append(out, Turn{Seq: raw.Sequence, Msg: m, Header: raw.Header})
		}
		seq = raw.Sequence + 1
	}
	return out, nil
}

func (h *History) store(c *cached) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if el, ok := h.index[c.subject]; ok {
		// Another reader may have walked further meanwhile; keep the longer view.
		if el.Value.(*cached).last > c.last {
			return
		}
		el.Value = c
		h.lru.MoveToFront(el)
		return
	}
	h.index[c.subject] = h.lru.PushFront(c)
	for h.lru.Len() > h.size {
		old := h.lru.Back()
		h.lru.Remove(old)
		delete(h.index, old.Value.(*cached).subject)
	}
}

// Latest returns the sequence of the conversation's newest message (0 when it has none).
func (h *History) Latest(ctx context.Context, tenant, conv string) (uint64, error) {
	raw, err := h.stream.GetLastMsgForSubject(ctx, subjects.Messages(tenant, conv))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last message of %s/%s: %w", tenant, conv, err)
	}
	return raw.Sequence, nil
}
