// Reading the messages stream: its positions (the catch-up mark, a conversation's last
// message) and ordered scans of stored messages.

package hub

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// base sets the first catch-up mark when the hub starts following its first conversation: the
// stream's last sequence then, so a fresh gateway never reads history. Every conversation
// asks for its own last message after this (concurrent starts wait here), so a message at or
// below the mark precedes the point where its conversation was picked up.
func (h *Hub) base(ctx context.Context) error {
	if h.based.Load() {
		return nil
	}
	h.baseMu.Lock()
	defer h.baseMu.Unlock()
	if h.based.Load() {
		return nil
	}
	last, err := h.streamLast(ctx)
	if err != nil {
		return err
	}
	storeMax(&h.mark, last)
	h.based.Store(true)
	return nil
}

// streamLast returns the messages stream's last sequence (one request).
func (h *Hub) streamLast(ctx context.Context) (int64, error) {
	st, err := h.messages(ctx)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s info: %w", subjects.StreamMessages, err)
	}
	return int64(info.State.LastSeq), nil
}

// storeMax raises v to x.
func storeMax(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if x <= cur || v.CompareAndSwap(cur, x) {
			return
		}
	}
}

// messages returns the messages stream's handle, looked up on first use.
func (h *Hub) messages(ctx context.Context) (jetstream.Stream, error) {
	h.streamMu.Lock()
	defer h.streamMu.Unlock()
	if h.stream != nil {
		return h.stream, nil
	}
	st, err := h.js.Stream(ctx, subjects.StreamMessages)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", subjects.StreamMessages, err)
	}
	h.stream = st
	return st, nil
}

func (h *Hub) lastStored(ctx context.Context, subject string) (int64, error) {
	st, err := h.messages(ctx)
	if err != nil {
		return 0, err
	}
	msg, err := st.GetLastMsgForSubject(ctx, subject)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("last message of %s: %w", subject, err)
	}
	return int64(msg.Sequence), nil
}

// ReadStream calls fn with the messages stored under subject with sequences in (after, end],
// in order, read with an ordered consumer that is deleted when done (rather than left to
// expire, so many short reads do not pile consumers up on the stream).
func ReadStream(ctx context.Context, js jetstream.JetStream, subject string, after, end int64, fn func(*fd.Message, int64)) error {
	return scan(ctx, js, subject, after, end, fillBatch, func(_ string, seq int64, data []byte) {
		pm := &fd.Message{}
		if err := proto.Unmarshal(data, pm); err != nil {
			return // undecodable: skipped, as live delivery does
		}
		fn(pm, seq)
	})
}

// scan calls fn with the subject, sequence and payload of the messages stored under filter
// with sequences in (after, end], in order, fetching batch at a time; see ReadStream.
func scan(ctx context.Context, js jetstream.JetStream, filter string, after, end int64, batch int, fn func(string, int64, []byte)) error {
	cons, err := js.OrderedConsumer(ctx, subjects.StreamMessages, jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{filter},
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       uint64(after + 1),
		InactiveThreshold: 30 * time.Second,
		MaxResetAttempts:  2,
	})
	if err != nil {
		return fmt.Errorf("ordered consumer: %w", err)
	}
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = js.DeleteConsumer(dctx, subjects.StreamMessages, info.Name)
			cancel()
		}
	}()
	last := after
	for last < end {
		// No wait: the server sends what it holds and ends the request at once, rather than
		// holding it open for a full batch that a conversation seldom has.
		msgs, err := cons.FetchNoWait(batch)
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		n := 0
		for msg := range msgs.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("metadata: %w", err)
			}
			last = int64(meta.Sequence.Stream)
			fn(msg.Subject(), last, msg.Data())
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			return fmt.Errorf("fetch: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return nil
}
