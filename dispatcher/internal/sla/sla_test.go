package sla

import (
	"slices"
	"testing"
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	// First response in 5 minutes (at risk after 4), resolution in an hour (at risk after 48 min).
	p := Policy{FirstResponse: 5 * time.Minute, Resolution: time.Hour, WarnRatio: 0.8}
	risk := func(target string, due time.Duration) Signal {
		return Signal{Target: target, State: frames.SLAAtRisk, Due: at(due)}
	}
	breach := func(target string, due time.Duration) Signal {
		return Signal{Target: target, State: frames.SLABreached, Due: at(due)}
	}
	const fr, res = frames.SLAFirstResponse, frames.SLAResolution
	tests := []struct {
		name     string
		clock    Clock
		policy   Policy
		now      time.Duration
		want     []Signal
		wantSent uint8
		wantNext time.Duration // -1: none
	}{
		{name: "fresh: nothing yet, next is the first response warning", clock: Clock{Start: start}, policy: p,
			now: time.Minute, wantNext: 4 * time.Minute},
		{name: "at 80% of the first response target", clock: Clock{Start: start}, policy: p,
			now: 4 * time.Minute, want: []Signal{risk(fr, 5*time.Minute)}, wantSent: SentFirstRisk, wantNext: 5 * time.Minute},
		{name: "risk announced once", clock: Clock{Start: start, Sent: SentFirstRisk}, policy: p,
			now: 4*time.Minute + 30*time.Second, wantSent: SentFirstRisk, wantNext: 5 * time.Minute},
		{name: "first response breached", clock: Clock{Start: start, Sent: SentFirstRisk}, policy: p,
			now: 5 * time.Minute, want: []Signal{breach(fr, 5*time.Minute)}, wantSent: SentFirstRisk | SentFirstBreach,
			wantNext: 48 * time.Minute},
		{name: "breach found late comes without its risk", clock: Clock{Start: start}, policy: p,
			now: 10 * time.Minute, want: []Signal{breach(fr, 5*time.Minute)}, wantSent: SentFirstRisk | SentFirstBreach,
			wantNext: 48 * time.Minute},
		{name: "replied in time: only the resolution clock runs", clock: Clock{Start: start, Replied: true}, policy: p,
			now: 6 * time.Minute, wantNext: 48 * time.Minute},
		{name: "replied after the risk: no breach", clock: Clock{Start: start, Replied: true, Sent: SentFirstRisk}, policy: p,
			now: 30 * time.Minute, wantSent: SentFirstRisk, wantNext: 48 * time.Minute},
		{name: "both targets past at once", clock: Clock{Start: start}, policy: p,
			now: 2 * time.Hour, want: []Signal{breach(fr, 5*time.Minute), breach(res, time.Hour)},
			wantSent: SentFirstRisk | SentFirstBreach | SentResolutionRisk | SentResolutionBreach, wantNext: -1},
		{name: "resolution at risk after the reply", clock: Clock{Start: start, Replied: true}, policy: p,
			now: 50 * time.Minute, want: []Signal{risk(res, time.Hour)}, wantSent: SentResolutionRisk, wantNext: time.Hour},
		{name: "everything announced: nothing more", clock: Clock{Start: start, Replied: true, Sent: 15}, policy: p,
			now: 3 * time.Hour, wantSent: 15, wantNext: -1},
		{name: "no policy", clock: Clock{Start: start}, policy: Policy{WarnRatio: 0.8}, now: 3 * time.Hour, wantNext: -1},
		{name: "warn ratio 1: the breach without a risk before it", clock: Clock{Start: start},
			policy: Policy{FirstResponse: 5 * time.Minute, WarnRatio: 1}, now: 4*time.Minute + 59*time.Second,
			wantNext: 5 * time.Minute},
		{name: "resolution only", clock: Clock{Start: start}, policy: Policy{Resolution: time.Hour, WarnRatio: 0.5},
			now: 30 * time.Minute, want: []Signal{risk(res, time.Hour)}, wantSent: SentResolutionRisk, wantNext: time.Hour},
		{name: "a clock that starts in the future (skew) waits", clock: Clock{Start: at(time.Minute)}, policy: p,
			now: 0, wantNext: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, signals, next := Check(tt.clock, tt.policy, at(tt.now))
			if !slices.Equal(signals, tt.want) {
				t.Errorf("signals = %+v, want %+v", signals, tt.want)
			}
			if got.Sent != tt.wantSent || got.Start != tt.clock.Start || got.Replied != tt.clock.Replied {
				t.Errorf("clock = %+v, want sent %b", got, tt.wantSent)
			}
			wantNext := time.Time{}
			if tt.wantNext >= 0 {
				wantNext = at(tt.wantNext)
			}
			if !next.Equal(wantNext) {
				t.Errorf("next = %v, want %v", next, wantNext)
			}
			// Announcing is idempotent: checking the new clock at the same time says nothing more.
			if _, again, _ := Check(got, tt.policy, at(tt.now)); len(again) != 0 {
				t.Errorf("checked twice: %+v", again)
			}
		})
	}
}

func TestPolicyFor(t *testing.T) {
	t.Parallel()
	cfg := &fd.Tenant{
		ServiceLevel: &fd.ServiceLevel{FirstResponseS: 300, ResolutionS: 3600},
		Queues: []*fd.Queue{
			{Name: "general"},
			{Name: "vip", ServiceLevel: &fd.ServiceLevel{FirstResponseS: 30, WarnRatio: 0.5}},
			{Name: "odd", ServiceLevel: &fd.ServiceLevel{FirstResponseS: -5, ResolutionS: 1e300, WarnRatio: 2}},
		},
	}
	tests := []struct {
		name  string
		cfg   *fd.Tenant
		queue string
		want  Policy
	}{
		{name: "queue without its own: the tenant's", cfg: cfg, queue: "general",
			want: Policy{FirstResponse: 5 * time.Minute, Resolution: time.Hour, WarnRatio: DefaultWarnRatio}},
		{name: "unknown queue: the tenant's", cfg: cfg, queue: "nope",
			want: Policy{FirstResponse: 5 * time.Minute, Resolution: time.Hour, WarnRatio: DefaultWarnRatio}},
		{name: "queue's own replaces it whole", cfg: cfg, queue: "vip",
			want: Policy{FirstResponse: 30 * time.Second, WarnRatio: 0.5}},
		{name: "nonsense is clamped", cfg: cfg, queue: "odd", want: Policy{Resolution: maxTarget, WarnRatio: DefaultWarnRatio}},
		{name: "no tenant settings", cfg: nil, queue: "general", want: Policy{WarnRatio: DefaultWarnRatio}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := PolicyFor(tt.cfg, tt.queue); got != tt.want {
				t.Errorf("PolicyFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}
