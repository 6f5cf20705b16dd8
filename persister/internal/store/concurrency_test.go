package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// TestMessageAndEventBatchesSideBySide: the messages and events consumers write batches of the
// same conversations at the same time, as they do under load (agents answering while
// conversations open and close). Each kind of batch locks report facts and participants; in
// different orders they deadlocked, and the batches were retried until they starved. Every
// batch must commit the first time.
func TestMessageAndEventBatchesSideBySide(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const rounds, convs = 20, 30
	var wg sync.WaitGroup
	errs := make(chan error, 4*rounds)
	for w := range 2 {
		wg.Go(func() {
			for r := range rounds {
				var rows []store.MessageRow
				for c := range convs {
					// Reverse order on one writer: batches reach rows in every order.
					cc := c
					if w == 1 {
						cc = convs - 1 - c
					}
					seq := int64(100000*w + r*convs + c + 1)
					m := msg("acme", fmt.Sprintf("c%02d", cc), seq, "u"+fmt.Sprint(cc), "hello", t0.Add(time.Duration(r)*time.Second))
					m.Msg.From = &fd.Participant{Id: "agent" + fmt.Sprint(w), Role: "agent"}
					rows = append(rows, m)
				}
				if _, err := st.WriteMessages(ctx, rows); err != nil {
					errs <- fmt.Errorf("messages round %d: %w", r, err)
				}
			}
		})
		wg.Go(func() {
			for r := range rounds {
				var rows []store.EventRow
				for c := range convs {
					cc := c
					if w == 0 {
						cc = convs - 1 - c
					}
					conv := fmt.Sprintf("c%02d", cc)
					seq := int64(1000000 + 100000*w + r*convs + c + 1)
					typ, state := "opened", "bot"
					switch r % 3 {
					case 1:
						typ, state = "queued", "queued"
					case 2:
						typ, state = "closed", "closed"
					}
					rows = append(rows, store.EventRow{Seq: seq, Event: event(fmt.Sprintf("e%d-%d-%d", w, r, c), conv, typ, state,
						"u"+fmt.Sprint(cc), "", t0.Add(time.Duration(r)*time.Second))})
				}
				if _, err := st.WriteEvents(ctx, rows); err != nil {
					errs <- fmt.Errorf("events round %d: %w", r, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
