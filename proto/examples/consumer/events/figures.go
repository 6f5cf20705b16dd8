package main

import (
	"slices"
	"sync"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Figures are one tenant's totals, as printed.
type Figures struct {
	Opened       int64 `json:"opened"`
	Queued       int64 `json:"queued"`
	Assigned     int64 `json:"assigned"`
	Transferred  int64 `json:"transferred"`
	Requeued     int64 `json:"requeued"`
	Closed       int64 `json:"closed"`
	MessagesLeft int64 `json:"messages_left"`
	// ContactLabelChanges counts labels added to or removed from contacts (contact_labeled:
	// a contact's own labels, apart from its conversations').
	ContactLabelChanges int64 `json:"contact_label_changes"`
	// Abandoned counts conversations closed while waiting in a queue.
	Abandoned int64 `json:"abandoned"`
	// Waits is how many waits (queued to assigned) MedianWaitMS is taken over.
	Waits int64 `json:"waits"`
	// MedianWaitMS is the median time from entering a queue (queued, requeued, or transferred to
	// a queue) to the next assignment, in milliseconds; 0 before the first assignment.
	MedianWaitMS int64 `json:"median_wait_ms"`
}

// Stats is the consumer's state: figures per tenant, when each waiting conversation entered its
// queue, and the ids of the events already applied, so a redelivered event (or one the
// dispatcher republished after the stream's duplicate window) changes nothing.
//
// The seen set and the waits grow with the stream: fine for an example that starts from the
// stream's beginning on every run. A production consumer stores its figures and the ids (or the
// last applied KV revision per conversation) next to its side effect, in one transaction.
type Stats struct {
	mu         sync.Mutex
	tenants    map[string]*tenant
	seen       map[string]struct{}
	duplicates int64
}

type tenant struct {
	fig     Figures
	waiting map[string]time.Time // conv -> when it entered the queue
	waits   []time.Duration
}

// NewStats returns empty stats.
func NewStats() *Stats {
	return &Stats{tenants: map[string]*tenant{}, seen: map[string]struct{}{}}
}

// Add applies one event once per id; it reports whether the event was new. Event types this
// consumer does not know (added to the contract later) are recorded as seen and otherwise
// ignored, as the contract asks of consumers.
func (s *Stats) Add(id string, ev *fd.ConversationEvent) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.seen[id]; dup {
		s.duplicates++
		return false
	}
	s.seen[id] = struct{}{}
	t := s.tenants[ev.GetTenant()]
	if t == nil {
		t = &tenant{waiting: map[string]time.Time{}}
		s.tenants[ev.GetTenant()] = t
	}
	t.apply(ev)
	return true
}

// apply is the whole decision: which event type moves which figure.
func (t *tenant) apply(ev *fd.ConversationEvent) {
	conv, at := ev.GetConv(), ev.GetAt().AsTime()
	switch ev.GetType() {
	case frames.EventOpened:
		t.fig.Opened++
	case frames.EventQueued:
		t.fig.Queued++
		t.waiting[conv] = at
	case frames.EventRequeued:
		// The agent went offline or let the offer time out: the customer waits again.
		t.fig.Requeued++
		t.waiting[conv] = at
	case frames.EventTransferred:
		// A transfer goes to an agent directly (state assigned) or back to a queue.
		t.fig.Transferred++
		if ev.GetState() == frames.StateQueued {
			t.waiting[conv] = at
		} else {
			delete(t.waiting, conv)
		}
	case frames.EventAssigned:
		t.fig.Assigned++
		if since, ok := t.waiting[conv]; ok {
			t.waits = append(t.waits, at.Sub(since))
			delete(t.waiting, conv)
		}
	case frames.EventClosed:
		t.fig.Closed++
		if _, ok := t.waiting[conv]; ok {
			t.fig.Abandoned++
			delete(t.waiting, conv)
		}
	case frames.EventMessageLeft:
		t.fig.MessagesLeft++
	case frames.EventContactLabeled:
		// A contact's event: no conversation (conv is empty, customer is the contact).
		t.fig.ContactLabelChanges++
	}
}

// Snapshot is what the consumer prints: figures per tenant and how many duplicate deliveries
// were skipped.
type Snapshot struct {
	Tenants    map[string]Figures `json:"tenants"`
	Duplicates int64              `json:"duplicates_skipped"`
}

// Snapshot copies the figures, with each tenant's median wait computed now.
func (s *Stats) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{Tenants: make(map[string]Figures, len(s.tenants)), Duplicates: s.duplicates}
	for id, t := range s.tenants {
		f := t.fig
		f.Waits = int64(len(t.waits))
		f.MedianWaitMS = median(t.waits).Milliseconds()
		out.Tenants[id] = f
	}
	return out
}

// median of ds (the mean of the middle two for an even count); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
