package engine

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOutbox drives the outbox through adds and flushes whose publishes succeed or fail as
// scripted: events leave in order per conversation, a failure stops the flush and backs off
// (doubling, capped), a full flush resets the backoff.
func TestOutbox(t *testing.T) {
	t.Parallel()
	type flush struct {
		at      time.Duration // since the start
		results string        // one letter per publish attempt: o ok, x fails
		sent    []string      // ids published, in order
		delay   time.Duration // backoff after the flush
		waiting int
	}
	tests := []struct {
		name    string
		add     []string // conv/id
		flushes []flush
	}{
		{name: "all out at once", add: []string{"c1/1", "c2/1", "c1/2"},
			flushes: []flush{{results: "ooo", sent: []string{"c1/1", "c1/2", "c2/1"}}}},
		{name: "failure stops and backs off, order kept", add: []string{"c1/1", "c1/2", "c2/1"},
			flushes: []flush{
				{results: "ox", sent: []string{"c1/1"}, delay: outboxFirstRetry, waiting: 2},
				{at: outboxFirstRetry, results: "x", delay: 2 * outboxFirstRetry, waiting: 2},
				{at: 3 * outboxFirstRetry, results: "oo", sent: []string{"c1/2", "c2/1"}},
			}},
		{name: "backoff is capped", add: []string{"c1/1"},
			flushes: []flush{
				{results: "x", delay: 50 * time.Millisecond, waiting: 1},
				{at: time.Second, results: "x", delay: 100 * time.Millisecond, waiting: 1},
				{at: 2 * time.Second, results: "x", delay: 200 * time.Millisecond, waiting: 1},
				{at: 3 * time.Second, results: "x", delay: 400 * time.Millisecond, waiting: 1},
				{at: 4 * time.Second, results: "x", delay: 800 * time.Millisecond, waiting: 1},
				{at: 5 * time.Second, results: "x", delay: 1600 * time.Millisecond, waiting: 1},
				{at: 7 * time.Second, results: "x", delay: 3200 * time.Millisecond, waiting: 1},
				{at: 11 * time.Second, results: "x", delay: outboxMaxRetry, waiting: 1},
				{at: 20 * time.Second, results: "x", delay: outboxMaxRetry, waiting: 1},
				{at: 30 * time.Second, results: "o", sent: []string{"c1/1"}},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var o outbox
			for _, a := range tt.add {
				conv, id, _ := strings.Cut(a, "/")
				o.add(pendingEvent{conv: conv, id: a, typ: id})
			}
			if !o.holds("c1") || o.holds("c9") {
				t.Fatalf("holds c1 %v, c9 %v", o.holds("c1"), o.holds("c9"))
			}
			for i, f := range tt.flushes {
				at := now0.Add(f.at)
				if !o.ready(at) {
					t.Fatalf("flush %d: not ready at +%s (due %s)", i, f.at, o.due.Sub(now0))
				}
				var sent []string
				tries := 0
				_, err := o.flush(at, func(pe pendingEvent) error {
					if tries >= len(f.results) {
						t.Fatalf("flush %d: more attempts than scripted", i)
					}
					r := f.results[tries]
					tries++
					if r == 'x' {
						return errors.New("no responders")
					}
					sent = append(sent, pe.id)
					return nil
				})
				if tries != len(f.results) {
					t.Errorf("flush %d: %d attempts, want %d", i, tries, len(f.results))
				}
				if !slices.Equal(sent, f.sent) {
					t.Errorf("flush %d: sent %v, want %v", i, sent, f.sent)
				}
				if (err != nil) != (f.waiting > 0) || o.delay != f.delay || o.len() != f.waiting {
					t.Errorf("flush %d: err %v, delay %s, waiting %d; want delay %s, waiting %d", i, err, o.delay, o.len(), f.delay, f.waiting)
				}
				if f.waiting > 0 && o.ready(at) {
					t.Errorf("flush %d: ready again at once after a failure", i)
				}
			}
		})
	}
}

// TestOutboxFull drops events past its bound instead of growing without limit.
func TestOutboxFull(t *testing.T) {
	t.Parallel()
	var o outbox
	for i := range outboxMax {
		if !o.add(pendingEvent{conv: "c1", id: string(rune(i))}) {
			t.Fatalf("event %d refused", i)
		}
	}
	if o.add(pendingEvent{conv: "c2"}) || o.dropped != 1 || o.len() != outboxMax || o.holds("c2") {
		t.Fatalf("a full outbox took another event: len %d, dropped %d", o.len(), o.dropped)
	}
}
