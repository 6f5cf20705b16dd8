// Package sla decides, as pure functions of a conversation's clock, its policy and the time,
// when a conversation handed to humans is at risk of breaching a service-level target and when
// it has breached it. The dispatcher's tenant actor owns the clocks and announces what Check
// returns (events sla_at_risk and sla_breached); nothing here does I/O or reads a clock.
package sla

import (
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// DefaultWarnRatio is the part of a target after which a conversation is at risk when the
// policy does not say.
const DefaultWarnRatio = 0.8

// Policy is a service-level policy in durations (0: no such target).
type Policy struct {
	FirstResponse, Resolution time.Duration
	// WarnRatio is in (0, 1]; 1 announces no risk before the breach.
	WarnRatio float64
}

// Active reports whether the policy has a target at all.
func (p Policy) Active() bool { return p.FirstResponse > 0 || p.Resolution > 0 }

// PolicyFor is the policy of a conversation in queue: the queue's own when it has one, else
// the tenant's. Negative or non-finite targets count as none; a warn ratio outside (0, 1] is
// the default.
func PolicyFor(cfg *fd.Tenant, queue string) Policy {
	sl := cfg.GetServiceLevel()
	for _, q := range cfg.GetQueues() {
		if q.GetName() == queue && q.GetServiceLevel() != nil {
			sl = q.GetServiceLevel()
			break
		}
	}
	p := Policy{FirstResponse: seconds(sl.GetFirstResponseS()), Resolution: seconds(sl.GetResolutionS()),
		WarnRatio: sl.GetWarnRatio()}
	if !(p.WarnRatio > 0 && p.WarnRatio <= 1) {
		p.WarnRatio = DefaultWarnRatio
	}
	return p
}

// maxTarget bounds a target (a year): past it a float's seconds would not fit a Duration.
const maxTarget = 365 * 24 * time.Hour

func seconds(s float64) time.Duration {
	switch {
	case !(s > 0):
		return 0
	case s >= maxTarget.Seconds():
		return maxTarget
	}
	return time.Duration(s * float64(time.Second))
}

// Clock is one conversation's service-level clock.
type Clock struct {
	// Start is when the conversation first entered a queue: both targets count from it.
	Start time.Time
	// Replied says a human (agent or supervisor) has written in the conversation: the first
	// response target is met or was breached already.
	Replied bool
	// Sent are the announcements already made (bits below), so each is made once.
	Sent uint8
}

// Announcement bits of Clock.Sent.
const (
	SentFirstRisk uint8 = 1 << iota
	SentFirstBreach
	SentResolutionRisk
	SentResolutionBreach
)

// Signal is one announcement to make: the conversation is at risk of breaching Target (one of
// frames.SLAFirstResponse, SLAResolution) or breached it (State frames.SLAAtRisk or
// SLABreached); Due is when the target passes.
type Signal struct {
	Target, State string
	Due           time.Time
}

// Check returns the announcements due at now, the clock with them marked sent, and when the
// next one falls due (zero: none will, unless the clock changes). A breach found late (a
// replica took the conversation over after the target passed) is announced without the risk
// that should have come before it.
func Check(c Clock, p Policy, now time.Time) (Clock, []Signal, time.Time) {
	var out []Signal
	var next time.Time
	targets := []struct {
		name         string
		d            time.Duration
		open         bool
		risk, breach uint8
	}{
		{frames.SLAFirstResponse, p.FirstResponse, !c.Replied, SentFirstRisk, SentFirstBreach},
		{frames.SLAResolution, p.Resolution, true, SentResolutionRisk, SentResolutionBreach},
	}
	for _, tg := range targets {
		if tg.d <= 0 || !tg.open || c.Sent&tg.breach != 0 {
			continue
		}
		due := c.Start.Add(tg.d)
		warn := c.Start.Add(time.Duration(float64(tg.d) * p.WarnRatio))
		switch {
		case !now.Before(due):
			out = append(out, Signal{Target: tg.name, State: frames.SLABreached, Due: due})
			c.Sent |= tg.breach | tg.risk
			continue
		case c.Sent&tg.risk == 0 && warn.Before(due) && !now.Before(warn):
			out = append(out, Signal{Target: tg.name, State: frames.SLAAtRisk, Due: due})
			c.Sent |= tg.risk
		}
		at := due
		if c.Sent&tg.risk == 0 && warn.Before(due) {
			at = warn
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return c, out, next
}

// EventType is the conversation event type announcing s.
func EventType(s Signal) string {
	if s.State == frames.SLABreached {
		return frames.EventSLABreached
	}
	return frames.EventSLAAtRisk
}
