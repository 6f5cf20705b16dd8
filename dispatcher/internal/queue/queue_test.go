package queue

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

type in struct {
	conv  string
	queue string
	needs []string
	prio  int32
	front bool
	at    time.Duration // since t0
}

func build(ins []in, starve time.Duration) *Queue {
	q := New(starve)
	for _, x := range ins {
		qn := x.queue
		if qn == "" {
			qn = "default"
		}
		q.Push(&Entry{Conv: x.conv, Queue: qn, Needs: Needs(x.needs), Priority: x.prio, Front: x.front, Since: t0.Add(x.at)})
	}
	return q
}

func order(q *Queue) []string {
	var out []string
	q.Each(func(e *Entry, _ int) bool { out = append(out, e.Conv); return true })
	return out
}

func TestOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ins  []in
		want []string
	}{
		{name: "fifo", ins: []in{{conv: "a"}, {conv: "b"}, {conv: "c"}}, want: []string{"a", "b", "c"}},
		{name: "priority first", ins: []in{{conv: "a"}, {conv: "vip", prio: 10}, {conv: "b"}}, want: []string{"vip", "a", "b"}},
		{name: "equal priority keeps arrival", ins: []in{{conv: "v1", prio: 10}, {conv: "a"}, {conv: "v2", prio: 10}}, want: []string{"v1", "v2", "a"}},
		{name: "front beats priority", ins: []in{{conv: "vip", prio: 10}, {conv: "back", front: true}}, want: []string{"back", "vip"}},
		{name: "lanes merge by arrival", ins: []in{{conv: "a", needs: []string{"billing"}}, {conv: "b"}, {conv: "c", needs: []string{"billing"}}}, want: []string{"a", "b", "c"}},
		{name: "negative priority last", ins: []in{{conv: "low", prio: -1}, {conv: "a"}}, want: []string{"a", "low"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := order(build(tt.ins, 0)); !slices.Equal(got, tt.want) {
				t.Fatalf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPosition(t *testing.T) {
	t.Parallel()
	q := build([]in{
		{conv: "a"}, {conv: "b", queue: "sales"}, {conv: "c", needs: []string{"x"}},
		{conv: "vip", prio: 5}, {conv: "d"}, {conv: "f", front: true},
	}, 0)
	want := map[string]int{"f": 1, "vip": 2, "a": 3, "c": 4, "d": 5, "b": 1, "nope": 0}
	for conv, w := range want {
		if got := q.Position(conv); got != w {
			t.Errorf("Position(%s) = %d, want %d", conv, got, w)
		}
	}
	// Each must agree with Position.
	q.Each(func(e *Entry, pos int) bool {
		if pos != want[e.Conv] {
			t.Errorf("Each pos of %s = %d, want %d", e.Conv, pos, want[e.Conv])
		}
		return true
	})
	q.Remove("vip")
	if got := q.Position("d"); got != 4 {
		t.Errorf("after remove Position(d) = %d, want 4", got)
	}
}

func TestBest(t *testing.T) {
	t.Parallel()
	hasBilling := func(l Lane) bool { return len(l.Needs) == 0 || slices.Equal(l.Needs, []string{"billing"}) }
	noSkills := func(l Lane) bool { return len(l.Needs) == 0 }
	tests := []struct {
		name   string
		ins    []in
		starve time.Duration
		now    time.Duration
		laneOK func(Lane) bool
		ok     func(*Entry) bool
		want   string
	}{
		{name: "empty", want: ""},
		{name: "head", ins: []in{{conv: "a"}, {conv: "b"}}, want: "a"},
		{name: "priority", ins: []in{{conv: "a"}, {conv: "v", prio: 3}}, want: "v"},
		{name: "skill lane skipped", ins: []in{{conv: "a", needs: []string{"billing"}}, {conv: "b"}}, laneOK: noSkills, want: "b"},
		{name: "skill lane served", ins: []in{{conv: "a", needs: []string{"billing"}}, {conv: "b"}}, laneOK: hasBilling, want: "a"},
		{name: "nobody qualifies", ins: []in{{conv: "a", needs: []string{"fr"}}}, laneOK: noSkills, want: ""},
		{name: "entry filter", ins: []in{{conv: "a"}, {conv: "b"}}, ok: func(e *Entry) bool { return e.Conv != "a" }, want: "b"},
		{
			name:   "starved low priority goes first",
			ins:    []in{{conv: "old", at: 0}, {conv: "vip", prio: 10, at: 50 * time.Second}},
			starve: time.Minute, now: 61 * time.Second, want: "old",
		},
		{
			name:   "not yet starved",
			ins:    []in{{conv: "old", at: 0}, {conv: "vip", prio: 10, at: 50 * time.Second}},
			starve: time.Minute, now: 30 * time.Second, want: "vip",
		},
		{
			name:   "oldest starved wins",
			ins:    []in{{conv: "v", prio: 1, at: 0}, {conv: "a", at: time.Second}},
			starve: time.Second, now: 10 * time.Second, want: "v",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := build(tt.ins, tt.starve)
			got := ""
			if e := q.Best(t0.Add(tt.now), tt.laneOK, tt.ok); e != nil {
				got = e.Conv
			}
			if got != tt.want {
				t.Fatalf("Best = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOfferedSkipped(t *testing.T) {
	t.Parallel()
	q := build([]in{{conv: "a"}, {conv: "b"}}, 0)
	q.Get("a").Offered = "ag"
	if e := q.Best(t0, nil, nil); e == nil || e.Conv != "b" {
		t.Fatalf("Best = %v, want b", e)
	}
}

func TestRebuildKeepsOrder(t *testing.T) {
	t.Parallel()
	q := build([]in{{conv: "a"}, {conv: "b", prio: 2}, {conv: "c"}, {conv: "d", front: true}}, 0)
	want := order(q)
	// A new owner pushes entries in arbitrary order with their stored Seq.
	var es []Entry
	q.Each(func(e *Entry, _ int) bool { es = append(es, *e); return true })
	r := New(0)
	for _, i := range []int{2, 0, 3, 1} {
		e := es[i]
		e.prev, e.next, e.lane, e.bucket = nil, nil, nil, nil
		r.Push(&e)
	}
	if got := order(r); !slices.Equal(got, want) {
		t.Fatalf("rebuilt order = %v, want %v", got, want)
	}
	r.Push(&Entry{Conv: "new", Queue: "default"})
	if got := r.Position("new"); got != 5 {
		t.Fatalf("new entry position = %d, want 5", got)
	}
}

func TestRemoveAndUndo(t *testing.T) {
	t.Parallel()
	q := build([]in{{conv: "a"}, {conv: "b"}, {conv: "c"}}, 0)
	e := q.Remove("b")
	if e == nil || q.Len() != 2 || q.Remove("b") != nil {
		t.Fatal("remove")
	}
	q.Push(e) // same Seq: back in the middle
	if got := order(q); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("order after re-push = %v", got)
	}
	if q.Push(&Entry{Conv: "a", Queue: "default"}) {
		t.Fatal("duplicate push accepted")
	}
	for _, c := range []string{"a", "b", "c"} {
		q.Remove(c)
	}
	if q.Len() != 0 || len(q.order) != 0 || len(q.lanes) != 0 {
		t.Fatal("empty queue keeps lanes")
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	q := build([]in{{conv: "a", at: 5 * time.Second}, {conv: "v", prio: 3, at: 9 * time.Second}, {conv: "s", queue: "sales", at: 7 * time.Second}}, 0)
	st := q.Stats()
	if st["default"].Len != 2 || !st["default"].Oldest.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("default stats %+v", st["default"])
	}
	if st["sales"].Len != 1 {
		t.Fatalf("sales stats %+v", st["sales"])
	}
}

// BenchmarkQueue100k measures the queue's operations with 100,000 customers waiting in three
// priorities and two lanes (one needing a skill).
func BenchmarkQueue100k(b *testing.B) {
	const waiting = 100_000
	fill := func() *Queue {
		q := New(time.Minute)
		for i := range waiting {
			var needs []string
			if i%10 == 0 {
				needs = []string{"billing"}
			}
			q.Push(&Entry{Conv: fmt.Sprint("w", i), Queue: "default", Needs: needs, Priority: int32(i % 3), Since: t0})
		}
		return q
	}
	entries := make([]*Entry, 1024)
	for i := range entries {
		entries[i] = &Entry{Conv: fmt.Sprint("n", i), Queue: "default", Priority: int32(i % 3), Since: t0}
	}
	// One arrival (enqueue, tell its position) and one departure (the customer gives up),
	// so the line stays at 100k.
	b.Run("enqueue+position+remove", func(b *testing.B) {
		q := fill()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e := entries[i%len(entries)]
			i++
			e.Seq = 0
			q.Push(e)
			_ = q.Position(e.Conv)
			q.Remove(e.Conv)
		}
	})
	// Serving the next customer (starvation check included) and the next arrival.
	b.Run("dequeue-next+enqueue", func(b *testing.B) {
		q := fill()
		b.ReportAllocs()
		for b.Loop() {
			e := q.Best(t0, nil, nil)
			q.Remove(e.Conv)
			e.Seq = 0
			q.Push(e)
		}
	})
	b.Run("positions-sweep", func(b *testing.B) {
		q := fill()
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			q.Each(func(*Entry, int) bool { n++; return true })
		}
	})
}
