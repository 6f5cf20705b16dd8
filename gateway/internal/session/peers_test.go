package session

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestNewerSession(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		at          int64
		id          string
		myAt        int64
		myID        string
		newer, back bool // back: the other session's view of us
	}{
		{"opened later", 20, "s_A", 10, "s_B", true, false},
		{"opened earlier", 10, "s_B", 20, "s_A", false, true},
		{"same instant: the greater id is newer", 10, "s_B", 10, "s_A", true, false},
		{"same instant, smaller id", 10, "s_A", 10, "s_B", false, true},
		{"itself", 10, "s_A", 10, "s_A", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := newerSession(tc.at, tc.id, tc.myAt, tc.myID); got != tc.newer {
				t.Fatalf("newer = %v, want %v", got, tc.newer)
			}
			// Both sessions apply the same order: never both newer than the other.
			if got := newerSession(tc.myAt, tc.myID, tc.at, tc.id); got != tc.back {
				t.Fatalf("seen from the other side: newer = %v, want %v", got, tc.back)
			}
		})
	}
}

// TestPeerLimit: what a session does with the announcements of its user's other sessions.
func TestPeerLimit(t *testing.T) {
	t.Parallel()
	const self = "self" // stands for the session's own id
	type ann struct {
		id     string
		opened time.Duration // relative to the session's own opening
		online bool
		ttlS   int32
		heard  time.Duration // when it is heard, relative to the first one
	}
	tests := []struct {
		name   string
		max    int
		single bool
		anns   []ann
		code   int32 // close code, 0 for none
	}{
		{"older sessions never count", 2, false, []ann{
			{"s_1", -time.Second, true, 30, 0}, {"s_2", -2 * time.Second, true, 30, 0}, {"s_3", -3 * time.Second, true, 30, 0},
		}, 0},
		{"fewer newer sessions than the limit", 2, false, []ann{{"s_1", time.Second, true, 30, 0}}, 0},
		{"as many newer sessions as the limit", 2, false, []ann{
			{"s_1", time.Second, true, 30, 0}, {"s_2", 2 * time.Second, true, 30, 0},
		}, frames.CloseTooManyConnections},
		{"repeated announcements are one session", 2, false, []ann{
			{"s_1", time.Second, true, 30, 0}, {"s_1", time.Second, true, 30, time.Second}, {"s_1", time.Second, true, 30, 2 * time.Second},
		}, 0},
		{"a goodbye forgets the session", 2, false, []ann{
			{"s_1", time.Second, true, 30, 0}, {"s_1", time.Second, false, 30, 0}, {"s_2", 2 * time.Second, true, 30, 0},
		}, 0},
		{"a session silent for its ttl is forgotten", 2, false, []ann{
			{"s_1", time.Second, true, 3, 0}, {"s_2", 2 * time.Second, true, 3, 3500 * time.Millisecond},
		}, 0},
		{"a refreshed session is remembered", 2, false, []ann{
			{"s_1", time.Second, true, 3, 0}, {"s_1", time.Second, true, 3, 2 * time.Second},
			{"s_2", 2 * time.Second, true, 3, 3500 * time.Millisecond},
		}, frames.CloseTooManyConnections},
		{"its own announcements do not count", 1, false, []ann{{self, time.Second, true, 30, 0}}, 0},
		{"single session: one newer replaces it", 10, true, []ann{{"s_1", time.Millisecond, true, 30, 0}}, frames.CloseSessionReplaced},
		{"single session: an older one does not", 10, true, []ann{{"s_1", -time.Millisecond, true, 30, 0}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := testManager(t)
			tr := &stuckTransport{release: make(chan struct{})}
			s := testSession(m, tr)
			s.maxConns, s.single = tc.max, tc.single
			start := time.Now().UnixNano()
			for _, a := range tc.anns {
				id := a.id
				if id == self {
					id = s.id
				}
				s.onPeer(&fd.SessionPresence{Session: id, Online: a.online, TtlS: a.ttlS,
					At: timestamppb.New(s.created.Add(a.opened))}, start+int64(a.heard))
			}
			if got := tr.closed.Load(); got != tc.code {
				t.Fatalf("close = %d, want %d", got, tc.code)
			}
			evicted := testutil.ToFloat64(m.metrics.Evictions.WithLabelValues(evictTooMany)) +
				testutil.ToFloat64(m.metrics.Evictions.WithLabelValues(evictReplaced))
			if want := map[bool]float64{true: 1, false: 0}[tc.code != 0]; evicted != want {
				t.Fatalf("evictions = %v, want %v", evicted, want)
			}
			if len(s.newer) > tc.max {
				t.Fatalf("remembers %d sessions, more than the limit %d", len(s.newer), tc.max)
			}
		})
	}
	t.Run("a lowered limit applies at once", func(t *testing.T) {
		t.Parallel()
		m := testManager(t)
		tr := &stuckTransport{release: make(chan struct{})}
		s := testSession(m, tr)
		s.maxConns = 3
		now := time.Now().UnixNano()
		for _, id := range []string{"s_1", "s_2"} {
			s.onPeer(&fd.SessionPresence{Session: id, Online: true, TtlS: 30, At: timestamppb.New(s.created.Add(time.Second))}, now)
		}
		if tr.closed.Load() != 0 {
			t.Fatal("closed under the limit")
		}
		s.setPeerLimit(2, false)
		if got := tr.closed.Load(); got != frames.CloseTooManyConnections {
			t.Fatalf("close = %d after lowering the limit, want 4003", got)
		}
	})
}
