package convo

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// DefaultMaxOwners bounds the conversations an Owners set remembers. Past it new ones are not
// added and their messages fall back to a read of the bucket: the bound costs reads, never
// answers.
const DefaultMaxOwners = 500_000

// Owners is the AI bridge's in-memory view of which conversations a human owns, fed by a watch
// of the conversations bucket (initial values, then every update, in the bucket's order), so
// that the customer messages of those conversations (most of the traffic once agents are busy)
// are settled without a read of the bucket each.
//
// It only ever answers "human-owned" for the states a conversation cannot leave for `bot`
// directly: `assigned` (it goes back to the queue first) and `closed`. A `queued` conversation
// can go back to the bot at once (to_bot), so for it, for conversations not seen yet, while the
// watch is not running and for everything past the bound, the caller reads the bucket as before.
// Whatever it says, a reply is still fenced by the final re-read before publishing, so the
// bot never answers in a conversation a human owns.
type Owners struct {
	log *zap.Logger
	max int

	live  atomic.Bool // the watch runs and has delivered the bucket's initial values
	mu    sync.RWMutex
	human map[string]uint64 // key -> revision at which it was seen assigned or closed
}

// NewOwners returns an empty set remembering at most max conversations (DefaultMaxOwners when
// max <= 0); Run feeds it.
func NewOwners(log *zap.Logger, max int) *Owners {
	if max <= 0 {
		max = DefaultMaxOwners
	}
	return &Owners{log: log, max: max, human: map[string]uint64{}}
}

// humanOwned is the decision: the states in which a customer message certainly gets no bot
// answer and from which no single write leads back to `bot`.
func humanOwned(state string) bool {
	return state == frames.StateAssigned || state == frames.StateClosed
}

// Run watches kv until ctx ends, first loading every conversation in it (the rebuild on start),
// then following updates. It returns the watch error, or nil when ctx ended; either way the set
// is emptied first, so nothing is skipped on a view that no longer follows the bucket.
func (o *Owners) Run(ctx context.Context, kv jetstream.KeyValue) error {
	defer o.reset()
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch conversation owners: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil { // end of the initial values: the set now reflects the whole bucket
				o.live.Store(true)
				continue
			}
			o.observe(e)
		}
	}
}

func (o *Owners) observe(e jetstream.KeyValueEntry) {
	state := ""
	if e.Operation() == jetstream.KeyValuePut {
		c := &fd.Conversation{}
		if err := proto.Unmarshal(e.Value(), c); err != nil {
			// Not trusted: the key's messages are read from the bucket.
			o.log.Warn("undecodable conversation", zap.String("key", e.Key()), zap.Error(err))
		} else {
			state = c.GetState()
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !humanOwned(state) {
		delete(o.human, e.Key())
		return
	}
	if _, ok := o.human[e.Key()]; ok || len(o.human) < o.max {
		o.human[e.Key()] = e.Revision()
	}
}

func (o *Owners) reset() {
	o.live.Store(false)
	o.mu.Lock()
	clear(o.human)
	o.mu.Unlock()
}

// HumanOwned reports whether the conversation at key is known to be owned by a human
// (assigned or closed), so its customer messages need no bot answer and no read of the bucket.
// False means "read the bucket", not "bot".
func (o *Owners) HumanOwned(key string) bool {
	if o == nil || !o.live.Load() {
		return false
	}
	o.mu.RLock()
	_, ok := o.human[key]
	o.mu.RUnlock()
	return ok
}

// Len is the number of conversations remembered as human-owned.
func (o *Owners) Len() int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return len(o.human)
}
