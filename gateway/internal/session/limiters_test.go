package session

import (
	"strconv"
	"testing"
	"time"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/tenants"
)

func TestLimiterSet(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name string
		run  func(t *testing.T, l *limiterSet)
	}{
		{name: "a key keeps its bucket across gets", run: func(t *testing.T, l *limiterSet) {
			for i := range 2 {
				if !l.get("u", 1, 2, t0).AllowN(t0, 1) {
					t.Fatalf("take %d refused", i)
				}
			}
			if l.get("u", 1, 2, t0).AllowN(t0, 1) {
				t.Fatal("third take within the burst allowed: the bucket was rebuilt")
			}
		}},
		{name: "a changed limit applies to the existing bucket", run: func(t *testing.T, l *limiterSet) {
			b := l.get("u", 1, 2, t0)
			if b2 := l.get("u", 5, 7, t0); b2 != b || b.Burst() != 7 || b.Limit() != 5 {
				t.Fatalf("bucket %p/%p burst %d limit %v", b, b2, b2.Burst(), b2.Limit())
			}
		}},
		{name: "bounded: a flood of keys keeps at most max", run: func(t *testing.T, l *limiterSet) {
			for i := range 100 {
				l.get(strconv.Itoa(i), 1, 2, t0)
			}
			if n := l.len(); n > 10 {
				t.Fatalf("%d buckets remembered, max 10", n)
			}
		}},
		{name: "buckets full again are forgotten", run: func(t *testing.T, l *limiterSet) {
			for i := range 5 {
				l.get(strconv.Itoa(i), 1, 2, t0)
			}
			l.get("late", 1, 2, t0.Add(time.Hour))
			if n := l.len(); n != 1 {
				t.Fatalf("%d buckets remembered after all refilled, want 1", n)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newLimiterSet(10, time.Minute))
		})
	}
}

// TestTenantLimitsDefaults: unset or negative limits take the tenants package's defaults; set
// ones are kept.
func TestTenantLimitsDefaults(t *testing.T) {
	t.Parallel()
	def := Limits{MaxFrameBytes: tenants.DefaultMaxFrameBytes, PerSecond: tenants.DefaultMessagesPerSecond,
		Burst: tenants.DefaultBurst, UserPerSecond: tenants.DefaultUserMessagesPerSecond,
		MaxConnsPerUser: tenants.DefaultMaxConnectionsPerUser}
	cases := []struct {
		name string
		in   *fd.Tenant
		want Limits
	}{
		{"nil tenant", nil, def},
		{"the documented numbers", &fd.Tenant{}, Limits{65536, 10, 20, 20, 10}},
		{"no limits", &fd.Tenant{}, def},
		{"negative", &fd.Tenant{Limits: &fd.Limits{MaxFrameBytes: -1, MessagesPerSecond: -2, Burst: -3,
			UserMessagesPerSecond: -4, MaxConnectionsPerUser: -5}}, def},
		{"some set", &fd.Tenant{Limits: &fd.Limits{Burst: 7, MaxConnectionsPerUser: 2}},
			Limits{MaxFrameBytes: def.MaxFrameBytes, PerSecond: def.PerSecond, Burst: 7, UserPerSecond: def.UserPerSecond,
				MaxConnsPerUser: 2}},
		{"all set", &fd.Tenant{Limits: &fd.Limits{MaxFrameBytes: 1000, MessagesPerSecond: 1.5, Burst: 3,
			UserMessagesPerSecond: 2.5, MaxConnectionsPerUser: 4}}, Limits{1000, 1.5, 3, 2.5, 4}},
	}
	for _, tc := range cases {
		if got := TenantLimits(tc.in); got != tc.want {
			t.Errorf("%s: TenantLimits = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
