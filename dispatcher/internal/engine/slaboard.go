package engine

import (
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/sla"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// What the supervisor's live view shows beside the line and the roster: each conversation's
// service-level state and when its customer last wrote, and today's satisfaction ratings, per
// tenant and per agent. The decisions are pure functions below; the actor feeds them.

// slaFlag is a conversation's most pressing service-level state on the board.
type slaFlag struct {
	state, target string
	due           time.Time
}

// boardFlag is the flag the board shows for clock c under policy p: a breach announced wins
// over a risk announced, and between two alike the target due first. A first response given
// before its breach clears its risk (the clock stopped); a breach stays.
func boardFlag(c sla.Clock, p sla.Policy) slaFlag {
	var best slaFlag
	rank := func(state string) int {
		switch state {
		case frames.SLABreached:
			return 2
		case frames.SLAAtRisk:
			return 1
		}
		return 0
	}
	for _, tg := range []struct {
		name         string
		d            time.Duration
		risk, breach uint8
		stopped      bool
	}{
		{frames.SLAFirstResponse, p.FirstResponse, sla.SentFirstRisk, sla.SentFirstBreach, c.Replied},
		{frames.SLAResolution, p.Resolution, sla.SentResolutionRisk, sla.SentResolutionBreach, false},
	} {
		if tg.d <= 0 {
			continue
		}
		f := slaFlag{target: tg.name, due: c.Start.Add(tg.d)}
		switch {
		case c.Sent&tg.breach != 0:
			f.state = frames.SLABreached
		case c.Sent&tg.risk != 0 && !tg.stopped:
			f.state = frames.SLAAtRisk
		default:
			continue
		}
		if r, b := rank(f.state), rank(best.state); r > b || (r == b && f.due.Before(best.due)) {
			best = f
		}
	}
	return best
}

// boardExtras is what decorate adds to a board made by makeBoard.
type boardExtras struct {
	flags        map[string]slaFlag
	lastCustomer map[string]time.Time
	csat         *fd.BoardCsat
	agentCsat    map[string]csatSum
}

// decorate adds the service-level flags, the customers' last messages and today's ratings to
// b (in place).
func decorate(b *fd.Board, x boardExtras) {
	for _, c := range b.GetConversations() {
		if f, ok := x.flags[c.GetConv()]; ok && f.state != "" {
			c.SlaState, c.SlaTarget, c.SlaDue = f.state, f.target, timestamppb.New(f.due)
		}
		if at, ok := x.lastCustomer[c.GetConv()]; ok {
			c.LastCustomerAt = timestamppb.New(at)
		}
	}
	for _, a := range b.GetAgents() {
		if s, ok := x.agentCsat[a.GetId()]; ok {
			a.CsatCount, a.CsatSum = int32(s.count), int32(s.sum)
		}
	}
	if x.csat != nil && x.csat.GetDay() != "" {
		b.Csat = x.csat
	}
}

// csatSum is a count of ratings and the sum of their scores.
type csatSum struct{ count, sum int }

// csatDay tallies the ratings of one day in the tenant's time zone. Each conversation counts
// once (a rating is written once, but a conversation record can be written again after it).
type csatDay struct {
	day     string
	total   csatSum
	agents  map[string]csatSum
	counted map[string]bool
	// base is when the checkpoint the tally started from was taken (csat.go): the ratings
	// given at or before it are in the counts already, their conversations not in counted.
	base time.Time
	// savedDay, saved and savedAt are the day, total and time of the last checkpoint written.
	savedDay string
	saved    csatSum
	savedAt  time.Time
}

// add counts the rating r of conv, held by agent, if it was given on today (the day of now in
// loc); a new day starts the tally again. It reports whether the tally changed.
func (d *csatDay) add(conv, agent string, r *fd.Rating, now time.Time, loc *time.Location) bool {
	today := now.In(loc).Format(time.DateOnly)
	if d.day != today {
		*d = csatDay{day: today, agents: map[string]csatSum{}, counted: map[string]bool{}}
	}
	if r == nil || r.GetScore() <= 0 || !r.GetAt().IsValid() || r.GetAt().AsTime().In(loc).Format(time.DateOnly) != today || d.counted[conv] ||
		!r.GetAt().AsTime().After(d.base) {
		return false
	}
	d.counted[conv] = true
	d.total.count++
	d.total.sum += int(r.GetScore())
	if agent != "" {
		s := d.agents[agent]
		s.count++
		s.sum += int(r.GetScore())
		d.agents[agent] = s
	}
	return true
}

// roll starts a new day's tally when now is past the tallied day.
func (d *csatDay) roll(now time.Time, loc *time.Location) {
	if today := now.In(loc).Format(time.DateOnly); d.day != today {
		*d = csatDay{day: today, agents: map[string]csatSum{}, counted: map[string]bool{}}
	}
}

// zone is the tenant's time zone (UTC when it names none or one this machine does not know).
func zone(cfg *fd.Tenant) *time.Location {
	if tz := cfg.GetHours().GetTimeZone(); tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			return l
		}
	}
	return time.UTC
}

// noteRating counts a conversation's rating once its write committed (apply.go's wrote).
func (t *tenant) noteRating(next *fd.Conversation, now time.Time) {
	if next.GetRating() == nil {
		return
	}
	t.csat.add(next.GetConv(), next.GetLastAgent().GetId(), next.GetRating(), now, zone(t.cfg))
}

// boardExtras reads the actor's state for decorate.
func (t *tenant) boardExtras(now time.Time) boardExtras {
	x := boardExtras{flags: map[string]slaFlag{}, lastCustomer: map[string]time.Time{}}
	for conv, c := range t.sla.clocks {
		if cs := t.convs[conv]; cs != nil {
			x.flags[conv] = boardFlag(*c, sla.PolicyFor(t.cfg, cs.c.GetQueue()))
		}
	}
	t.sla.mu.Lock()
	for conv, at := range t.sla.lastCustomer {
		if t.convs[conv] != nil {
			x.lastCustomer[conv] = at
		}
	}
	t.sla.mu.Unlock()
	t.csat.roll(now, zone(t.cfg))
	x.csat = &fd.BoardCsat{Day: t.csat.day, Count: int32(t.csat.total.count), Sum: int32(t.csat.total.sum),
		Scale: t.cfg.GetCsat().GetScale()}
	x.agentCsat = t.csat.agents
	return x
}

// watchDeliveries subscribes to the republished messages of this tenant only, for as long as
// the actor runs: a replica sees the messages of the tenants it owns, not of every tenant.
// The callback records when customers write (for the board) and, only when the tenant has a
// service-level policy, when staff reply (sla.go's noteMessage).
func (t *tenant) watchDeliveries() (stop func(), err error) {
	sub, err := t.e.nc.Subscribe(subjects.Deliver(t.id, "*"), func(msg *nats.Msg) {
		parsed, err := subjects.Parse(msg.Subject)
		if err != nil || parsed.Conv == "" {
			return
		}
		t.sla.noteMessage(parsed.Conv, msg.Data)
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// noteCustomer records that the customer wrote in conv at at.
func (s *slaClocks) noteCustomer(conv string, at time.Time) {
	s.mu.Lock()
	if s.lastCustomer == nil {
		s.lastCustomer = map[string]time.Time{}
	}
	if at.After(s.lastCustomer[conv]) {
		s.lastCustomer[conv] = at
	}
	s.mu.Unlock()
}

// messageTime is when m was written: its creation time, or now when it has none.
func messageTime(m *fd.Message, now time.Time) time.Time {
	if m.GetCreatedAt().IsValid() && m.GetCreatedAt().AsTime().Unix() > 0 {
		return m.GetCreatedAt().AsTime()
	}
	return now
}

// rosterOf is the roster of b without the agents' ratings: every staff session receives the
// roster, and how customers rated a colleague is for supervisors only.
func rosterOf(b *fd.Board) *fd.Board {
	r := roster(b)
	r.Agents = make([]*fd.BoardAgent, len(b.GetAgents()))
	for i, a := range b.GetAgents() {
		c := proto.Clone(a).(*fd.BoardAgent)
		c.CsatCount, c.CsatSum = 0, 0
		r.Agents[i] = c
	}
	return r
}
