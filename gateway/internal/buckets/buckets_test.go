package buckets

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestSet(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		run  func(t *testing.T, s *Set[string])
	}{
		{"a key keeps its bucket", func(t *testing.T, s *Set[string]) {
			for range 2 {
				if !s.Limiter("u", 1, 2, t0).AllowN(t0, 1) {
					t.Fatal("refused within the burst")
				}
			}
			if s.Limiter("u", 1, 2, t0).AllowN(t0, 1) {
				t.Fatal("a new Limiter call refilled the bucket")
			}
		}},
		{"a changed limit applies at once", func(t *testing.T, s *Set[string]) {
			s.Limiter("u", 1, 1, t0).AllowN(t0, 1)
			if l := s.Limiter("u", 100, 5, t0); l.Limit() != 100 || l.Burst() != 5 {
				t.Fatalf("limit %v burst %d", l.Limit(), l.Burst())
			}
		}},
		{"full buckets are forgotten at the next sweep", func(t *testing.T, s *Set[string]) {
			s.Limiter("a", 1, 2, t0)
			s.Limiter("b", 1, 2, t0)
			later := t0.Add(time.Minute) // past the sweep period and both refills (2 s)
			s.Limiter("c", 1, 2, later)
			if n := s.Len(); n != 1 {
				t.Fatalf("%d buckets after the sweep, want only c", n)
			}
		}},
		{"bounded under a flood of keys", func(t *testing.T, s *Set[string]) {
			for i := range 100 {
				if !s.Limiter(fmt.Sprint("k", i), 1, 1, t0).AllowN(t0, 1) {
					t.Fatal("a newcomer was refused for lack of room")
				}
			}
			if n := s.Len(); n > 10 {
				t.Fatalf("%d buckets, bound 10", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, New[string](10, 30*time.Second))
		})
	}
	if d := Refill(rate.Limit(0), 1); d != 24*time.Hour {
		t.Fatalf("refill of a zero rate %v, want the one-day cap", d)
	}
}
