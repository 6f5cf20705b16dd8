package store_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/reports"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// dayScript builds a tenant's day of conversations as the streams deliver them: events with
// increasing FD_EVENTS sequences, messages with increasing FD_MESSAGES sequences.
type dayScript struct {
	events  []store.EventRow
	msgs    []store.MessageRow
	evSeq   int64
	msgSeq  int64
	paris   *time.Location
	dayBase time.Time
}

// convScript is one conversation of the day; times are local (Europe/Paris) clock strings.
type convScript struct {
	d              *dayScript
	conv, customer string
	day            time.Time
	n              int
}

func (d *dayScript) conv(conv, customer string) *convScript {
	return &convScript{d: d, conv: conv, customer: customer, day: d.dayBase}
}

// on moves the conversation to another local day.
func (c *convScript) on(day time.Time) *convScript { c.day = day; return c }

func (c *convScript) at(clock string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", c.day.Format("2006-01-02")+" "+clock, c.d.paris)
	if err != nil {
		panic(err)
	}
	return t
}

// ev records an event. agent is the conversation's agent after it, previous the one before.
func (c *convScript) ev(clock, typ, state, reason, queue, agent, previous string) *convScript {
	c.n++
	c.d.evSeq++
	ev := &fd.ConversationEvent{Id: fmt.Sprintf("%s.%d.%s", c.conv, c.n, typ), Tenant: "acme", Conv: c.conv,
		Type: typ, State: state, Reason: reason, Queue: queue, At: timestamppb.New(c.at(clock)),
		Customer: &fd.Participant{Id: c.customer, Role: "customer"}}
	if agent != "" {
		ev.Agent = &fd.Participant{Id: agent, Role: "agent"}
	}
	if previous != "" {
		ev.PreviousAgent = &fd.Participant{Id: previous, Role: "agent"}
	}
	c.d.events = append(c.d.events, store.EventRow{Seq: c.d.evSeq, Event: ev})
	return c
}

// with changes the last event recorded (a rating's score, labels).
func (c *convScript) with(fill func(*fd.ConversationEvent)) *convScript {
	fill(c.d.events[len(c.d.events)-1].Event)
	return c
}

func score(n int32) func(*fd.ConversationEvent) {
	return func(ev *fd.ConversationEvent) { ev.Rating = &fd.Rating{Score: n, Scale: frames.ScaleFive} }
}

func labels(ls ...string) func(*fd.ConversationEvent) {
	return func(ev *fd.ConversationEvent) { ev.Labels = ls }
}

// say records a message from a sender of role ("customer" is the conversation's customer).
func (c *convScript) say(clock, role, from string) *convScript {
	c.d.msgSeq++
	if role == "customer" {
		from = c.customer
	}
	c.d.msgs = append(c.d.msgs, store.MessageRow{Seq: c.d.msgSeq, Msg: &fd.Message{
		Id: fmt.Sprintf("m_%s_%d", c.conv, c.d.msgSeq), Tenant: "acme", Conv: c.conv,
		From: &fd.Participant{Id: from, Role: role}, Kind: "text", Text: "x", CreatedAt: timestamppb.New(c.at(clock)),
	}})
	return c
}

// knownDay is Monday 2 March 2026 in Europe/Paris (UTC+1): ten conversations opened that
// local day, one the evening before in UTC, one just after it (00:30 on Tuesday).
func knownDay(t *testing.T) *dayScript {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	d := &dayScript{paris: paris, dayBase: time.Date(2026, 3, 2, 0, 0, 0, 0, paris)}
	// c0: bot only, 00:30 local (Sunday 23:30 UTC).
	d.conv("c0", "u0").ev("00:30:00", "opened", "bot", "", "", "", "").
		say("00:30:00", "customer", "").say("00:30:08", "bot", "bot")
	// c1: bot only, never closed.
	d.conv("c1", "u1").ev("09:00:00", "opened", "bot", "", "", "", "").
		say("09:00:00", "customer", "").say("09:00:04", "bot", "bot").
		say("09:01:00", "customer", "").say("09:01:02", "bot", "bot")
	// c2: bot only, closed by the customer.
	d.conv("c2", "u2").ev("09:30:00", "opened", "bot", "", "", "", "").
		say("09:30:00", "customer", "").say("09:30:10", "bot", "bot").
		ev("09:35:00", "closed", "closed", "closed_by_customer", "", "", "")
	// c3: handed off by a phrase, assigned to a1, closed; its customer comes back at 16:00 (c8).
	d.conv("c3", "u3").ev("10:00:00", "opened", "bot", "", "", "", "").
		say("10:00:00", "customer", "").say("10:00:06", "bot", "bot").
		ev("10:01:00", "queued", "queued", "phrase", "sales", "", "").
		ev("10:03:00", "assigned", "assigned", "", "sales", "a1", "").
		say("10:04:00", "agent", "a1").say("10:05:00", "customer", "").
		ev("10:20:00", "closed", "closed", "closed_by_agent", "sales", "", "a1").
		ev("10:21:00", "rated", "closed", "", "sales", "", "").with(score(5))
	// c4: the customer asks for a human, a1 takes it and transfers it to a2.
	d.conv("c4", "u4").ev("11:00:00", "opened", "bot", "", "", "", "").
		say("11:00:00", "customer", "").say("11:00:03", "bot", "bot").
		ev("11:00:30", "queued", "queued", "customer", "support", "", "").
		ev("11:00:50", "offer_missed", "queued", "", "support", "a2", "").
		ev("11:01:10", "offer_declined", "queued", "", "support", "a3", "").
		ev("11:01:30", "assigned", "assigned", "", "support", "a1", "").
		say("11:02:00", "agent", "a1").
		ev("11:05:00", "labeled", "assigned", "", "support", "a1", "").with(labels("vip")).
		ev("11:10:00", "transferred", "assigned", "transfer", "support", "a2", "a1").
		say("11:11:00", "agent", "a2").
		ev("11:30:00", "closed", "closed", "closed_by_agent", "support", "", "a2").
		ev("11:32:00", "rated", "closed", "", "support", "", "").with(score(4)).
		ev("11:33:00", "rated", "closed", "", "support", "", "").with(score(2)) // changed their mind
	// c5: the bot hands off by tool; the customer gives up in the queue (a system notice is
	// not a message of the conversation).
	d.conv("c5", "u5").ev("12:00:00", "opened", "bot", "", "", "", "").
		say("12:00:00", "customer", "").say("12:00:05", "bot", "bot").
		ev("12:00:20", "queued", "queued", "tool", "support", "", "").
		say("12:05:00", "system", "system").
		ev("12:10:20", "closed", "closed", "closed_by_customer", "support", "", "")
	// c6: the bot is off (opened queued); nobody online, the customer leaves a message; a2
	// answers it an hour later.
	d.conv("c6", "u6").ev("13:00:00", "opened", "queued", "", "support", "", "").
		say("13:00:00", "customer", "").
		ev("13:01:00", "labeled", "queued", "", "support", "", "").with(labels("billing", "vip")).
		ev("13:05:00", "message_left", "queued", "", "support", "", "").
		say("13:05:00", "customer", "").
		ev("13:05:00", "sla_breached", "queued", "first_response", "support", "", "").
		ev("14:00:00", "assigned", "assigned", "", "support", "a2", "").
		say("14:02:00", "agent", "a2").
		ev("14:05:00", "sla_at_risk", "assigned", "resolution", "support", "a2", "").
		ev("14:15:00", "sla_breached", "assigned", "resolution", "support", "a2", "").
		ev("14:30:00", "closed", "closed", "closed_by_agent", "support", "", "a2").
		ev("14:40:00", "rated", "closed", "", "support", "", "").with(score(4)).
		ev("14:41:00", "transcript_requested", "closed", "", "support", "", "")
	// c7: handed off after bot failures; a1 goes offline, requeued, a2 takes it.
	d.conv("c7", "u7").ev("15:00:00", "opened", "bot", "", "", "", "").
		say("15:00:00", "customer", "").say("15:00:02", "bot", "bot").
		ev("15:00:40", "queued", "queued", "bot_failures", "sales", "", "").
		ev("15:01:40", "assigned", "assigned", "", "sales", "a1", "").
		ev("15:04:00", "sla_at_risk", "assigned", "first_response", "sales", "a1", "").
		ev("15:05:00", "requeued", "queued", "agent_offline", "sales", "", "a1").
		ev("15:06:00", "assigned", "assigned", "", "sales", "a2", "").
		say("15:07:00", "agent", "a2").
		ev("15:15:00", "closed", "closed", "closed_by_agent", "sales", "", "a2")
	// c8: u3 again, 5h40 after c3 closed: c3 was reopened. Bot only.
	d.conv("c8", "u3").ev("16:00:00", "opened", "bot", "", "", "", "").
		say("16:00:00", "customer", "").say("16:00:01", "bot", "bot")
	// c9: the model is down; still waiting at the end of the day.
	d.conv("c9", "u9").ev("17:00:00", "opened", "bot", "", "", "", "").
		say("17:00:00", "customer", "").say("17:00:01", "bot", "bot").
		ev("17:00:01", "queued", "queued", "model_down", "sales", "", "").
		ev("17:10:01", "sla_breached", "queued", "first_response", "sales", "", "")
	// c10: Tuesday 00:30 local, outside the day.
	d.conv("c10", "u10").on(d.dayBase.AddDate(0, 0, 1)).ev("00:30:00", "opened", "bot", "", "", "", "").
		say("00:30:00", "customer", "")
	return d
}

func dur(count int64, median, p90, mean float64) *fd.DurationStats {
	return &fd.DurationStats{Count: count, MedianS: median, P90S: p90, MeanS: mean}
}

// figures is a hand-computed row; rates are derived by reports.Rates.
func figures(key string, f *fd.ReportFigures) *fd.ReportFigures {
	f.Key = key
	for _, d := range []**fd.DurationStats{&f.FirstResponse, &f.FirstBotResponse, &f.QueueWait, &f.Resolution, &f.LeftAnswer, &f.HandoffResponse} {
		if *d == nil {
			*d = &fd.DurationStats{}
		}
	}
	if f.CsatScores == nil {
		f.CsatScores = make([]int64, 5)
	}
	var sum int64
	f.Rated = 0
	for i, n := range f.CsatScores {
		f.Rated += n
		sum += int64(i+1) * n
	}
	if f.Rated > 0 {
		f.CsatAverage = float64(sum) / float64(f.Rated)
	}
	reports.Rates(f)
	return f
}

// The hand-computed table of the known day (times in seconds; percentiles are continuous:
// p90 of n sorted values is at position 0.9*(n-1)).
//
//	conv  handoff       assigned  transfer  abandoned  closed  reopened  msgs  first resp  first bot  queue wait  resolution  left answer
//	c0    -             -         -         -          -       -         2     -           8          -           -           -
//	c1    -             -         -         -          -       -         4     -           4          -           -           -
//	c2    -             -         -         -          yes     -         2     -           10         -           300         -
//	c3    phrase        a1        -         -          yes     yes       4     240         6          120         1200        -
//	c4    customer      a1->a2    yes       -          yes     -         4     120         3          60          1800        -
//	c5    tool          -         -         yes        yes     -         2     -           5          600         620         -
//	c6    direct        a2        -         -          yes     -         3     3720        -          3600        5400        3420
//	c7    bot_failures  a1,a2     -         -          yes     -         3     420         2          60+60       900         -
//	c8    -             -         -         -          -       -         2     -           1          -           -           -
//	c9    model_down    -         -         -          -       -         2     -           1          (waiting)   -           -
//
// Events that change no state, and what they add:
//
//	conv  rated (last)  labels       sla_breached (announced by the dispatcher)
//	c3    5             -            -
//	c4    2 (4 before)  vip          -
//	c6    4             billing,vip  first_response, resolution (an at-risk before: not counted)
//	c7    -             -            - (at risk only)
//	c9    -             -            first_response
//
// Offers (counted per agent by when they were made): on c4, a2 let one expire and a3, who has
// no conversation of the day, declined one.
//
// csat_scores index score-1; the average is over the rated conversations.
func wantKnownDay() *fd.ReportReply {
	total := figures("", &fd.ReportFigures{Opened: 10, BotOnly: 4, HandedOff: 6, Assigned: 4, Transferred: 1, Abandoned: 1,
		Closed: 6, Reopened: 1, Messages: 28, LeftMessages: 1, LeftAnswered: 1,
		SlaFirstResponseBreached: 2, SlaResolutionBreached: 1, CsatScores: []int64{0, 1, 0, 1, 1},
		OffersDeclined: 1, OffersMissed: 1,
		// 120 240 420 3720
		FirstResponse: dur(4, 330, 2730, 1125),
		// 1 1 2 3 4 5 6 8 10
		FirstBotResponse: dur(9, 4, 8.4, 40.0/9),
		// 60 120 120 600 3600
		QueueWait: dur(5, 120, 2400, 900),
		// 300 620 900 1200 1800 5400
		Resolution: dur(6, 1050, 3600, 10220.0/6),
		LeftAnswer: dur(1, 3420, 3420, 3420),
		// handoff to first human reply: 90 180 380 3720
		HandoffResponse: dur(4, 280, 2718, 1092.5),
	})
	series := proto.Clone(total).(*fd.ReportFigures)
	series.Key = "2026-03-02"
	series.OffersDeclined, series.OffersMissed = 0, 0 // offers are agents' figures
	heat := make([]int64, 168)
	for h, n := range map[int]int64{0: 1, 9: 2, 10: 1, 11: 1, 12: 1, 13: 1, 15: 1, 16: 1, 17: 1} {
		heat[h] = n // Monday
	}
	return &fd.ReportReply{
		Total: total,
		HandoffReasons: map[string]int64{"phrase": 1, "customer": 1, "tool": 1, "direct": 1,
			"bot_failures": 1, "model_down": 1},
		Agents: []*fd.ReportFigures{
			// c4 c6 c7
			figures("a2", &fd.ReportFigures{Opened: 3, HandedOff: 3, Assigned: 3, Transferred: 1, Closed: 3, Messages: 10,
				LeftMessages: 1, LeftAnswered: 1, SlaFirstResponseBreached: 1, SlaResolutionBreached: 1,
				CsatScores: []int64{0, 1, 0, 1, 0}, OffersMissed: 1,
				FirstResponse: dur(3, 420, 3060, 1420), FirstBotResponse: dur(2, 2.5, 2.9, 2.5),
				QueueWait: dur(3, 120, 2904, 3780.0/3), Resolution: dur(3, 1800, 4680, 8100.0/3),
				LeftAnswer: dur(1, 3420, 3420, 3420), HandoffResponse: dur(3, 380, 3052, 4190.0/3)}),
			// c3
			figures("a1", &fd.ReportFigures{Opened: 1, HandedOff: 1, Assigned: 1, Closed: 1, Reopened: 1, Messages: 4,
				CsatScores:    []int64{0, 0, 0, 0, 1},
				FirstResponse: dur(1, 240, 240, 240), FirstBotResponse: dur(1, 6, 6, 6),
				QueueWait: dur(1, 120, 120, 120), Resolution: dur(1, 1200, 1200, 1200), HandoffResponse: dur(1, 180, 180, 180)}),
			// no conversation of the day: its offers only
			figures("a3", &fd.ReportFigures{OffersDeclined: 1}),
		},
		Queues: []*fd.ReportFigures{
			// c3 c7 c9
			figures("sales", &fd.ReportFigures{Opened: 3, HandedOff: 3, Assigned: 2, Closed: 2, Reopened: 1, Messages: 9,
				SlaFirstResponseBreached: 1, CsatScores: []int64{0, 0, 0, 0, 1},
				FirstResponse: dur(2, 330, 402, 330), FirstBotResponse: dur(3, 2, 5.2, 3),
				QueueWait: dur(2, 120, 120, 120), Resolution: dur(2, 1050, 1170, 1050), HandoffResponse: dur(2, 280, 360, 280)}),
			// c4 c5 c6
			figures("support", &fd.ReportFigures{Opened: 3, HandedOff: 3, Assigned: 2, Transferred: 1, Abandoned: 1, Closed: 3,
				Messages: 9, LeftMessages: 1, LeftAnswered: 1, SlaFirstResponseBreached: 1, SlaResolutionBreached: 1,
				CsatScores:    []int64{0, 1, 0, 1, 0},
				FirstResponse: dur(2, 1920, 3360, 1920), FirstBotResponse: dur(2, 4, 4.8, 4),
				QueueWait: dur(3, 600, 3000, 4260.0/3), Resolution: dur(3, 1800, 4680, 7820.0/3),
				LeftAnswer: dur(1, 3420, 3420, 3420), HandoffResponse: dur(2, 1905, 3357, 1905)}),
		},
		Series:   []*fd.ReportFigures{series},
		Heatmap:  heat,
		TimeZone: "Europe/Paris",
	}
}

func report(t *testing.T, st *store.Store, d *dayScript, req *fd.ReportRequest) *fd.ReportReply {
	t.Helper()
	if req.From == nil {
		req.From, req.To = timestamppb.New(d.dayBase), timestamppb.New(d.dayBase.AddDate(0, 0, 1))
	}
	q, err := reports.Resolve("acme", req, "Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := st.Report(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// roundFloats rounds every duration and rate to microseconds: percentiles and means are
// computed in floating point.
func roundFloats(r *fd.ReportReply) *fd.ReportReply {
	r = proto.Clone(r).(*fd.ReportReply)
	round := func(x *float64) { *x = math.Round(*x*1e6) / 1e6 }
	all := append([]*fd.ReportFigures{r.Total}, r.Agents...)
	all = append(all, r.Queues...)
	for _, f := range append(all, r.Series...) {
		round(&f.DeflectionRate)
		round(&f.ReopenRate)
		round(&f.MessagesPerConversation)
		round(&f.CsatAverage)
		for _, d := range []*fd.DurationStats{f.FirstResponse, f.FirstBotResponse, f.QueueWait, f.Resolution, f.LeftAnswer, f.HandoffResponse} {
			round(&d.MedianS)
			round(&d.P90S)
			round(&d.MeanS)
		}
	}
	return r
}

// facts returns report_conversations as text rows, to compare two states of it.
func facts(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT r::text FROM report_conversations r ORDER BY tenant, conv`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeDay(t *testing.T, st *store.Store, evs []store.EventRow, msgs []store.MessageRow, batch int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < max(len(evs), len(msgs)); i += batch {
		if i < len(msgs) {
			if _, err := st.WriteMessages(ctx, msgs[i:min(i+batch, len(msgs))]); err != nil {
				t.Fatal(err)
			}
		}
		if i < len(evs) {
			if _, err := st.WriteEvents(ctx, evs[i:min(i+batch, len(evs))]); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A known day of conversations gives the hand-computed figures, whatever the batches and the
// interleaving of the two streams, and replaying all of it (twice, in other batches) changes
// neither the facts nor the report.
func TestReportKnownDay(t *testing.T) {
	t.Parallel()
	d := knownDay(t)
	tests := []struct {
		name  string
		write func(t *testing.T, st *store.Store)
	}{
		{"messages and events interleaved, batches of 5", func(t *testing.T, st *store.Store) {
			writeDay(t, st, d.events, d.msgs, 5)
		}},
		{"all messages before any event, one batch each", func(t *testing.T, st *store.Store) {
			writeDay(t, st, nil, d.msgs, len(d.msgs))
			writeDay(t, st, d.events, nil, len(d.events))
		}},
		{"events first, one at a time", func(t *testing.T, st *store.Store) {
			writeDay(t, st, d.events, nil, 1)
			writeDay(t, st, nil, d.msgs, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, pool := newStore(t)
			tt.write(t, st)
			got := report(t, st, d, &fd.ReportRequest{})
			if want := wantKnownDay(); !proto.Equal(roundFloats(got), roundFloats(want)) {
				t.Fatalf("report:\n got %v\nwant %v", got, want)
			}
			before := facts(t, pool)

			// Replay: everything again, twice, in other batch sizes and reversed order.
			revEvents, revMsgs := slices.Clone(d.events), slices.Clone(d.msgs)
			slices.Reverse(revEvents)
			slices.Reverse(revMsgs)
			writeDay(t, st, revEvents, d.msgs, 3)
			writeDay(t, st, d.events, revMsgs, 1)
			if after := facts(t, pool); !slices.Equal(before, after) {
				t.Fatalf("replay changed the facts:\nbefore %q\nafter  %q", before, after)
			}
			if again := report(t, st, d, &fd.ReportRequest{}); !proto.Equal(again, got) {
				t.Fatalf("replay changed the report:\n got %v\nwant %v", again, got)
			}
		})
	}
}

// The migration that computes the facts of conversations recorded before reports existed
// gives the same rows as the persister keeps live.
func TestReportBackfillMatchesLive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, pool := newStore(t)
	d := knownDay(t)
	writeDay(t, st, d.events, d.msgs, 4)
	live := facts(t, pool)

	all, err := migrate.All()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `TRUNCATE report_conversations`); err != nil {
		t.Fatal(err)
	}
	// Every backfill, in version order: 0007's, then those of the facts added since.
	n := 0
	for _, m := range all {
		if strings.HasSuffix(m.Name, "_backfill.sql") {
			if _, err := pool.Exec(ctx, m.SQL); err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			n++
		}
	}
	if n < 2 {
		t.Fatalf("%d report backfill migrations", n)
	}
	if got := facts(t, pool); !slices.Equal(got, live) {
		t.Fatalf("backfilled facts differ from the live ones:\n got %q\nwant %q", got, live)
	}
}

// Filters, buckets and zones on the known day: one agent's or one queue's report totals are
// that agent's or queue's row of the full report; hourly buckets are local hours; in UTC the
// day holds other conversations.
func TestReportFilters(t *testing.T) {
	t.Parallel()
	st, _ := newStore(t)
	d := knownDay(t)
	writeDay(t, st, d.events, d.msgs, 7)
	want := wantKnownDay()
	keyed := func(f *fd.ReportFigures) *fd.ReportFigures {
		f = proto.Clone(f).(*fd.ReportFigures)
		f.Key = ""
		return f
	}
	utcDay := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		req   *fd.ReportRequest
		check func(*fd.ReportReply) error
	}{
		{"agent a2", &fd.ReportRequest{Agent: "a2"}, func(r *fd.ReportReply) error {
			if !proto.Equal(roundFigures(r.Total), roundFigures(keyed(want.Agents[0]))) || len(r.Agents) != 1 {
				return fmt.Errorf("total %v, agents %v", r.Total, r.Agents)
			}
			return nil
		}},
		{"queue sales", &fd.ReportRequest{Queue: "sales"}, func(r *fd.ReportReply) error {
			if !proto.Equal(roundFigures(r.Total), roundFigures(keyed(want.Queues[0]))) || len(r.Queues) != 1 || len(r.Agents) != 2 {
				return fmt.Errorf("total %v, queues %v, agents %v", r.Total, r.Queues, r.Agents)
			}
			return nil
		}},
		// Breaches (clocks from the handoff): first response c5 (no reply, closed after 600 s),
		// c6 (3720 s), c9 (no reply, still waiting); resolution c4 (1770 s), c6 (5400 s). In
		// sales the first-response target is 400 s (c3 180, c7 380 are within it) and there
		// is no resolution target.
		{"service targets", &fd.ReportRequest{Targets: &fd.ServiceTargets{FirstResponseS: 200, ResolutionS: 1500},
			QueueTargets: map[string]*fd.ServiceTargets{"sales": {FirstResponseS: 400}}}, func(r *fd.ReportReply) error {
			got := []int64{r.Total.FirstResponseBreached, r.Total.ResolutionBreached,
				r.Queues[0].FirstResponseBreached, r.Queues[0].ResolutionBreached, r.Queues[1].FirstResponseBreached, r.Queues[1].ResolutionBreached,
				r.Agents[0].FirstResponseBreached, r.Agents[0].ResolutionBreached, r.Agents[1].FirstResponseBreached, r.Agents[1].ResolutionBreached}
			if want := []int64{3, 2, 1, 0, 2, 2, 1, 2, 0, 0}; !slices.Equal(got, want) {
				return fmt.Errorf("breaches (total, sales, support, a2, a1) %v, want %v", got, want)
			}
			return nil
		}},
		{"label vip", &fd.ReportRequest{Label: "vip"}, func(r *fd.ReportReply) error {
			// c4 (a1 labeled it, a2 closed it) and c6.
			if r.Total.Opened != 2 || r.Total.Rated != 2 || r.Total.SlaFirstResponseBreached != 1 || len(r.Agents) != 1 ||
				r.Agents[0].Key != "a2" {
				return fmt.Errorf("total %v, agents %v", r.Total, r.Agents)
			}
			return nil
		}},
		{"label billing", &fd.ReportRequest{Label: "billing"}, func(r *fd.ReportReply) error {
			if r.Total.Opened != 1 || r.Total.CsatAverage != 4 || r.Total.SlaResolutionBreached != 1 {
				return fmt.Errorf("total %v", r.Total)
			}
			return nil
		}},
		{"an agent with nothing", &fd.ReportRequest{Agent: "nobody"}, func(r *fd.ReportReply) error {
			if r.Total.GetOpened() != 0 || r.Total.GetFirstResponse().GetCount() != 0 || len(r.Series) != 0 || len(r.Heatmap) != 168 {
				return fmt.Errorf("report %v", r)
			}
			return nil
		}},
		{"hourly", &fd.ReportRequest{Bucket: "hour"}, func(r *fd.ReportReply) error {
			var keys []string
			for _, s := range r.Series {
				keys = append(keys, fmt.Sprint(s.Key, "=", s.Opened))
			}
			wantKeys := []string{"2026-03-02T00=1", "2026-03-02T09=2", "2026-03-02T10=1", "2026-03-02T11=1", "2026-03-02T12=1",
				"2026-03-02T13=1", "2026-03-02T15=1", "2026-03-02T16=1", "2026-03-02T17=1"}
			if !slices.Equal(keys, wantKeys) {
				return fmt.Errorf("series %q, want %q", keys, wantKeys)
			}
			return nil
		}},
		{"UTC day", &fd.ReportRequest{TimeZone: "UTC", From: timestamppb.New(utcDay), To: timestamppb.New(utcDay.AddDate(0, 0, 1))},
			func(r *fd.ReportReply) error {
				// c1..c10: c0 opened on Sunday in UTC, c10 late on Monday.
				if r.TimeZone != "UTC" || r.Total.Opened != 10 || r.Heatmap[8] != 2 || r.Heatmap[23] != 1 || r.Heatmap[0] != 0 ||
					len(r.Series) != 1 || r.Series[0].Key != "2026-03-02" {
					return fmt.Errorf("zone %s, opened %d, heat map %v, series %v", r.TimeZone, r.Total.Opened, r.Heatmap, r.Series)
				}
				return nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(report(t, st, d, tt.req)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func roundFigures(f *fd.ReportFigures) *fd.ReportFigures {
	return roundFloats(&fd.ReportReply{Total: f}).Total
}
