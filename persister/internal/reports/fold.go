// Package reports is the pure part of the persister's reports: how a conversation's events
// fold into its row of facts, how a report request is checked and resolved (range, time
// zone, bucket), and the CSV form of a reply. The store keeps the facts and runs the report
// query; nothing here does I/O.
package reports

import (
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// Event is the part of a stored conversation event that the facts depend on.
type Event struct {
	// Seq is the FD_EVENTS sequence: events fold in this order.
	Seq int64
	// Type, State and Reason are the event's fields of those names.
	Type, State, Reason string
	// Queue, CustomerID and AgentID are the event's queue, customer and agent.
	Queue, CustomerID, AgentID string
	// At is when the change happened.
	At time.Time
	// Score is a rated event's score (0: none); Labels a labeled event's labels.
	Score  int16
	Labels []string
}

// Fact is what a conversation's events say about it (report_conversations' event columns).
// Pointers are nil for what did not happen.
type Fact struct {
	// OpenedAt is the time of its earliest event.
	OpenedAt *time.Time
	// CustomerID, Queue and AgentID are the last ones its events named.
	CustomerID, Queue, AgentID string
	// HandoffAt is when it first entered a queue, Handoff why (nil: never handed off).
	HandoffAt *time.Time
	Handoff   *string
	// AssignedAt is its first assignment to an agent.
	AssignedAt *time.Time
	// Transfers counts its transferred events.
	Transfers int32
	// QueueWaitS sums its completed stays in a queue, in seconds (nil: none completed).
	QueueWaitS *float64
	// ClosedAt is when it closed; Abandoned says it closed while queued, never assigned.
	ClosedAt  *time.Time
	Abandoned bool
	// LeftAt is when the customer first left a message for the agents.
	LeftAt *time.Time
	// SLAFirstResponseBreached and SLAResolutionBreached say the dispatcher announced a
	// breach of that target (sla_breached).
	SLAFirstResponseBreached, SLAResolutionBreached bool
	// CSAT is the score of the last rating, 1 to 5 (nil: not rated).
	CSAT *int16
	// Labels are the labels of the last labeled event (empty: none).
	Labels []string
}

// Informational reports whether an event of type typ changes no state: it is folded into its
// own facts only (a rating stored after the close is not the close).
func Informational(typ string) bool {
	switch typ {
	case frames.EventSLAAtRisk, frames.EventSLABreached, frames.EventRated, frames.EventLabeled,
		frames.EventTranscriptRequested, frames.EventOfferDeclined, frames.EventOfferMissed:
		return true
	}
	return false
}

// foldInfo applies an informational event to f.
func foldInfo(f *Fact, ev Event) {
	switch ev.Type {
	case frames.EventSLABreached:
		switch ev.Reason {
		case frames.SLAFirstResponse:
			f.SLAFirstResponseBreached = true
		case frames.SLAResolution:
			f.SLAResolutionBreached = true
		}
	case frames.EventRated:
		if ev.Score >= 1 && ev.Score <= 5 {
			f.CSAT = ptr(ev.Score)
		}
	case frames.EventLabeled:
		f.Labels = ev.Labels
	}
}

// stateAfter is the conversation's state after ev, given the state before. Every event the
// dispatcher publishes carries the state; the type is the fallback for events that do not.
func stateAfter(prev string, ev Event) string {
	if ev.State != "" {
		return ev.State
	}
	switch ev.Type {
	case frames.EventQueued, frames.EventRequeued:
		return frames.StateQueued
	case frames.EventAssigned:
		return frames.StateAssigned
	case frames.EventClosed:
		return frames.StateClosed
	}
	return prev
}

// Fold computes a conversation's facts from all its stored events, in Seq order. It is a
// function of the set of events alone, so recomputing it after any redelivery or replay
// gives the same row.
func Fold(events []Event) Fact {
	var f Fact
	state := ""
	var queuedSince time.Time
	for _, ev := range events {
		if Informational(ev.Type) {
			foldInfo(&f, ev)
			continue
		}
		at := ev.At
		if f.OpenedAt == nil || at.Before(*f.OpenedAt) {
			f.OpenedAt = ptr(at)
		}
		if ev.CustomerID != "" {
			f.CustomerID = ev.CustomerID
		}
		if ev.Queue != "" {
			f.Queue = ev.Queue
		}
		if ev.AgentID != "" {
			f.AgentID = ev.AgentID
		}
		next := stateAfter(state, ev)
		if next == frames.StateQueued && f.Handoff == nil {
			reason := ev.Reason
			switch {
			case ev.Type == frames.EventOpened:
				// Opened straight into a queue: the tenant's bot was off.
				reason = frames.HandoffDirect
			case reason == "":
				reason = frames.HandoffOther
			}
			f.Handoff, f.HandoffAt = &reason, ptr(at)
		}
		if next == frames.StateAssigned && f.AssignedAt == nil {
			f.AssignedAt = ptr(at)
		}
		if ev.Type == frames.EventTransferred {
			f.Transfers++
		}
		if ev.Type == frames.EventMessageLeft && f.LeftAt == nil {
			f.LeftAt = ptr(at)
		}
		switch {
		case state != frames.StateQueued && next == frames.StateQueued:
			queuedSince = at
		case state == frames.StateQueued && next != frames.StateQueued:
			wait := max(at.Sub(queuedSince).Seconds(), 0)
			if f.QueueWaitS != nil {
				wait += *f.QueueWaitS
			}
			f.QueueWaitS = &wait
		}
		if next == frames.StateClosed {
			f.ClosedAt = ptr(at)
			f.Abandoned = state == frames.StateQueued && f.AssignedAt == nil
		}
		state = next
	}
	return f
}

func ptr[T any](v T) *T { return &v }
