package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// deadLetterBatch is how many dead letters one fetch reads while looking for a customer's.
const deadLetterBatch = 256

// DeleteDeadLetters deletes every dead letter of FD_DEADLETTERS for which match is true and
// returns how many it deleted. The stream is read once, start to end, with an ordered consumer
// (it is bounded by size and age, so the scan is too). Deleted messages are overwritten on
// disk (secure delete): a dead letter holds a whole payload, the text included. A letter
// already gone counts 0, so a retried erase deletes what is left only.
func (b *Bus) DeleteDeadLetters(ctx context.Context, match func(*fd.DeadLetter) bool) (int64, error) {
	s, err := b.js.Stream(ctx, subjects.StreamDeadLetters)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", subjects.StreamDeadLetters, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", subjects.StreamDeadLetters, err)
	}
	if info.State.Msgs == 0 {
		return 0, nil
	}
	last := info.State.LastSeq
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", subjects.StreamDeadLetters, err)
	}
	var found []uint64
	for done := false; !done; {
		batch, err := c.Fetch(deadLetterBatch, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", subjects.StreamDeadLetters, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			md, err := m.Metadata()
			if err != nil {
				continue
			}
			dl := &fd.DeadLetter{}
			if proto.Unmarshal(m.Data(), dl) == nil && match(dl) {
				found = append(found, md.Sequence.Stream)
			}
			if md.Sequence.Stream >= last {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("read %s: %w", subjects.StreamDeadLetters, err)
		}
		// Letters older than the scan's end may age out meanwhile: an empty fetch is the end.
		done = done || n == 0
	}
	var deleted int64
	for _, seq := range found {
		err := s.SecureDeleteMsg(ctx, seq)
		if letterGone(err) {
			continue
		}
		if err != nil {
			return deleted, fmt.Errorf("delete dead letter %d: %w", seq, err)
		}
		deleted++
	}
	return deleted, nil
}

// letterGone reports whether a delete failed only because the letter is no longer there: an
// erase resumed by retention while the requested one runs, or the letter aged out. The server
// answers a delete of a missing message with its own error (10057, "no message found"), which
// nats.go wraps in ErrMsgDeleteUnsuccessful as text rather than as ErrMsgNotFound.
func letterGone(err error) bool {
	return errors.Is(err, jetstream.ErrMsgNotFound) ||
		(errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) && strings.Contains(err.Error(), "no message found"))
}
