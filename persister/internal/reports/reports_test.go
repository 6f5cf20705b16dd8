package reports

import (
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func ev(seq int64, s int, typ, state, reason, agent string) Event {
	return Event{Seq: seq, Type: typ, State: state, Reason: reason, AgentID: agent, CustomerID: "u1", Queue: "q", At: at(s)}
}

func TestFold(t *testing.T) {
	t.Parallel()
	f64 := func(x float64) *float64 { return &x }
	str := func(s string) *string { return &s }
	tm := func(s int) *time.Time { x := at(s); return &x }
	tests := []struct {
		name   string
		events []Event
		want   Fact
	}{
		{"bot only, still open", []Event{ev(1, 0, "opened", "bot", "", "")},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q"}},
		{"handed off, assigned, closed", []Event{ev(1, 0, "opened", "bot", "", ""), ev(2, 10, "queued", "queued", "phrase", ""),
			ev(3, 70, "assigned", "assigned", "", "a1"), ev(4, 100, "closed", "closed", "closed_by_agent", "")},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q", AgentID: "a1", Handoff: str("phrase"), HandoffAt: tm(10),
				AssignedAt: tm(70), QueueWaitS: f64(60), ClosedAt: tm(100)}},
		{"opened queued (bot off), abandoned", []Event{ev(1, 0, "opened", "queued", "", ""), ev(2, 30, "closed", "closed", "closed_by_customer", "")},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q", Handoff: str("direct"), HandoffAt: tm(0), QueueWaitS: f64(30),
				ClosedAt: tm(30), Abandoned: true}},
		{"requeued: both stays count, closing after an agent is not abandoned", []Event{ev(1, 0, "opened", "bot", "", ""),
			ev(2, 5, "queued", "queued", "", ""), ev(3, 15, "assigned", "assigned", "", "a1"),
			ev(4, 20, "requeued", "queued", "agent_offline", ""), ev(5, 50, "message_left", "queued", "", ""),
			ev(6, 60, "closed", "closed", "closed_by_customer", "")},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q", AgentID: "a1", Handoff: str("other"), HandoffAt: tm(5),
				AssignedAt: tm(15), QueueWaitS: f64(50), ClosedAt: tm(60), LeftAt: tm(50)}},
		{"transferred twice; back to the bot and out again", []Event{ev(1, 0, "opened", "bot", "", ""),
			ev(2, 5, "queued", "queued", "tool", ""), ev(3, 6, "state", "bot", "to_bot", ""),
			ev(4, 20, "queued", "queued", "customer", ""), ev(5, 30, "assigned", "assigned", "", "a1"),
			ev(6, 40, "transferred", "assigned", "transfer", "a2"), ev(7, 50, "transferred", "queued", "transfer", ""),
			ev(8, 90, "assigned", "assigned", "", "a3")},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q", AgentID: "a3", Handoff: str("tool"), HandoffAt: tm(5),
				AssignedAt: tm(30), Transfers: 2, QueueWaitS: f64(1 + 10 + 40)}},
		{"service levels, rating and labels change no state; the last rating and labels count", []Event{
			ev(1, 0, "opened", "bot", "", ""), ev(2, 10, "queued", "queued", "customer", ""),
			{Seq: 3, Type: "sla_at_risk", State: "queued", Reason: "first_response", Queue: "other", At: at(40)},
			{Seq: 4, Type: "labeled", State: "queued", Labels: []string{"billing"}, At: at(45)},
			{Seq: 5, Type: "sla_breached", State: "queued", Reason: "first_response", At: at(50)},
			ev(6, 70, "assigned", "assigned", "", "a1"), ev(7, 100, "closed", "closed", "closed_by_agent", ""),
			{Seq: 8, Type: "rated", State: "closed", Score: 2, At: at(200)},
			{Seq: 9, Type: "rated", State: "closed", Score: 4, At: at(210)},
			{Seq: 10, Type: "rated", State: "closed", Score: 9, At: at(220)}, // out of range: ignored
			{Seq: 11, Type: "labeled", State: "closed", Labels: []string{"billing", "vip"}, At: at(230)},
			{Seq: 12, Type: "transcript_requested", State: "closed", AgentID: "someone", At: at(240)}},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q", AgentID: "a1", Handoff: str("customer"), HandoffAt: tm(10),
				AssignedAt: tm(70), QueueWaitS: f64(60), ClosedAt: tm(100), SLAFirstResponseBreached: true,
				CSAT: func() *int16 { x := int16(4); return &x }(), Labels: []string{"billing", "vip"}}},
		{"a resolution breach while queued, then abandoned", []Event{ev(1, 0, "opened", "queued", "", ""),
			{Seq: 2, Type: "sla_breached", State: "queued", Reason: "resolution", At: at(3600)},
			ev(3, 3700, "closed", "closed", "closed_by_customer", "")},
			Fact{OpenedAt: tm(0), CustomerID: "u1", Queue: "q", Handoff: str("direct"), HandoffAt: tm(0), QueueWaitS: f64(3700),
				ClosedAt: tm(3700), Abandoned: true, SLAResolutionBreached: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Fold(tt.events)
			if !factEqual(got, tt.want) {
				t.Fatalf("Fold:\n got %+v\nwant %+v", show(got), show(tt.want))
			}
		})
	}
}

func factEqual(a, b Fact) bool { return show(a) == show(b) }

// show prints a fact with its pointers followed.
func show(f Fact) string {
	var b strings.Builder
	tp := func(name string, t *time.Time) {
		if t != nil {
			b.WriteString(name + "=" + t.Format(time.TimeOnly) + " ")
		}
	}
	tp("opened", f.OpenedAt)
	tp("handoff", f.HandoffAt)
	tp("assigned", f.AssignedAt)
	tp("closed", f.ClosedAt)
	tp("left", f.LeftAt)
	if f.Handoff != nil {
		b.WriteString("reason=" + *f.Handoff + " ")
	}
	if f.QueueWaitS != nil {
		b.WriteString("wait=" + time.Duration(*f.QueueWaitS*float64(time.Second)).String() + " ")
	}
	b.WriteString("customer=" + f.CustomerID + " queue=" + f.Queue + " agent=" + f.AgentID)
	if f.Transfers > 0 {
		b.WriteString(" transfers=" + string(rune('0'+f.Transfers)))
	}
	if f.Abandoned {
		b.WriteString(" abandoned")
	}
	if f.SLAFirstResponseBreached {
		b.WriteString(" sla_first_response")
	}
	if f.SLAResolutionBreached {
		b.WriteString(" sla_resolution")
	}
	if f.CSAT != nil {
		b.WriteString(" csat=" + strconv.Itoa(int(*f.CSAT)))
	}
	if len(f.Labels) > 0 {
		b.WriteString(" labels=" + strings.Join(f.Labels, ","))
	}
	return b.String()
}

// Percentile agrees with sorting and interpolating (percentile_cont) on random data, with
// runs of equal values and sorted input.
func TestPercentile(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	ref := func(xs []float32, p float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		pos := p * float64(len(s)-1)
		k := int(pos)
		if k+1 >= len(s) {
			return float64(s[k])
		}
		return float64(s[k]) + (pos-float64(k))*(float64(s[k+1])-float64(s[k]))
	}
	for _, n := range []int{1, 2, 3, 10, 101, 1000, 4096} {
		for _, gen := range []struct {
			name string
			f    func(i int) float32
		}{
			{"random", func(int) float32 { return float32(rng.IntN(100000)) / 10 }},
			{"few values", func(int) float32 { return float32(rng.IntN(3)) }},
			{"sorted", func(i int) float32 { return float32(i) }},
			{"reversed", func(i int) float32 { return float32(n - i) }},
		} {
			xs := make([]float32, n)
			for i := range xs {
				xs[i] = gen.f(i)
			}
			for _, p := range []float64{0, 0.5, 0.9, 1} {
				want := ref(xs, p)
				if got := Percentile(slices.Clone(xs), p); math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
					t.Fatalf("%s n=%d p=%v: got %v, want %v", gen.name, n, p, got, want)
				}
			}
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	from := timestamppb.New(t0)
	day := timestamppb.New(t0.Add(24 * time.Hour))
	tests := []struct {
		name     string
		req      *fd.ReportRequest
		tz       string
		wantZone string
		wantErr  bool
	}{
		{"defaults: UTC, day", &fd.ReportRequest{From: from, To: day}, "", "UTC", false},
		{"tenant zone", &fd.ReportRequest{From: from, To: day}, "Asia/Kolkata", "Asia/Kolkata", false},
		{"request zone wins", &fd.ReportRequest{From: from, To: day, TimeZone: "America/New_York"}, "Asia/Kolkata", "America/New_York", false},
		{"unknown zone", &fd.ReportRequest{From: from, To: day, TimeZone: "Mars/Olympus"}, "", "", true},
		{"no range", &fd.ReportRequest{}, "", "", true},
		{"empty range", &fd.ReportRequest{From: day, To: from}, "", "", true},
		{"too long", &fd.ReportRequest{From: from, To: timestamppb.New(t0.Add(MaxRange + time.Hour))}, "", "", true},
		{"bad bucket", &fd.ReportRequest{From: from, To: day, Bucket: "week"}, "", "", true},
		{"label", &fd.ReportRequest{From: from, To: day, Label: "vip 客户"}, "", "UTC", false},
		{"label with a control character", &fd.ReportRequest{From: from, To: day, Label: "a\x1fb"}, "", "", true},
		{"label too long", &fd.ReportRequest{From: from, To: day, Label: strings.Repeat("x", MaxLabelBytes+1)}, "", "", true},
		{"hours of a month", &fd.ReportRequest{From: from, To: timestamppb.New(t0.Add(MaxHourlyRange)), Bucket: "hour"}, "", "UTC", false},
		{"hours of more than a month", &fd.ReportRequest{From: from, To: timestamppb.New(t0.Add(MaxHourlyRange + time.Hour)), Bucket: "hour"}, "", "", true},
		{"bad format", &fd.ReportRequest{From: from, To: day, Format: "xlsx"}, "", "", true},
		{"bad agent", &fd.ReportRequest{From: from, To: day, Agent: "a b"}, "", "", true},
		{"targets", &fd.ReportRequest{From: from, To: day, Targets: &fd.ServiceTargets{FirstResponseS: 60},
			QueueTargets: map[string]*fd.ServiceTargets{"sales": {ResolutionS: 3600}}}, "", "UTC", false},
		{"negative target", &fd.ReportRequest{From: from, To: day, Targets: &fd.ServiceTargets{FirstResponseS: -1}}, "", "", true},
		{"bad queue of a target", &fd.ReportRequest{From: from, To: day,
			QueueTargets: map[string]*fd.ServiceTargets{"a.b": {ResolutionS: 1}}}, "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q, err := Resolve("acme", tt.req, tt.tz)
			if tt.wantErr {
				if !errors.Is(err, ErrBadRequest) {
					t.Fatalf("err = %v, want ErrBadRequest", err)
				}
				return
			}
			if err != nil || q.Zone != tt.wantZone {
				t.Fatalf("Resolve = %+v, %v; want zone %s", q, err, tt.wantZone)
			}
		})
	}
}

// The CSV parses back with one row per figure set and defuses a formula in a key.
func TestCSV(t *testing.T) {
	t.Parallel()
	g, err := NewAggregator(Query{Zone: "Europe/Paris", Bucket: "hour"})
	if err != nil {
		t.Fatal(err)
	}
	nan := math.NaN()
	for i, agent := range []string{"a1", "a1", "=cmd", ""} {
		g.Add(&Row{Agent: []byte(agent), Queue: []byte("sales"), HandedOff: agent != "", Handoff: []byte("phrase"),
			Opened: at(i * 3600), Messages: 3, Durations: [numDurations]float64{float64(10 * i), 1, nan, nan, nan, nan},
			ReplyClock: nan, CloseClock: nan})
	}
	rows, err := csv.NewReader(strings.NewReader(string(CSV(g.Reply())))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	for _, r := range rows[1:] {
		if len(r) != len(csvHeader) {
			t.Fatalf("row %q has %d cells, want %d", r, len(r), len(csvHeader))
		}
		sections = append(sections, r[0]+":"+r[1])
	}
	want := []string{"total:", "agent:a1", "agent:'=cmd", "queue:sales", "series:2026-03-02T10", "series:2026-03-02T11",
		"series:2026-03-02T12", "series:2026-03-02T13", "handoff_reason:phrase"}
	if !slices.Equal(sections[:len(want)], want) || len(sections) != len(want)+168 {
		t.Fatalf("sections = %q", sections)
	}
	if rows[1][2] != "4" || rows[2][2] != "2" || rows[2][16] != "2" || rows[2][17] != "5" || rows[2][18] != "9" {
		t.Fatalf("total %q, a1 %q", rows[1], rows[2])
	}
}

// BenchmarkAggregate measures the Go side of a year's report of a busy tenant: a million
// conversations through Add, then Reply (60 agents, 5 queues, 365 days).
func BenchmarkAggregate(b *testing.B) {
	rows := make([]Row, 1_000_000)
	agents := make([][]byte, 60)
	for i := range agents {
		agents[i] = []byte("a" + strconv.Itoa(i))
	}
	queues := [][]byte{[]byte("q0"), []byte("q1"), []byte("q2"), []byte("q3"), []byte("q4")}
	nan := math.NaN()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		r := &rows[i]
		r.Opened = start.Add(time.Duration(i) * 31536 * time.Millisecond)
		r.Durations = [numDurations]float64{nan, float64(1 + i%9), nan, float64(600 + i%3600), nan, nan}
		r.ReplyClock, r.CloseClock = nan, nan
		if i%5 < 2 {
			r.HandedOff, r.Handoff, r.Agent, r.Queue = true, []byte("phrase"), agents[i/3%60], queues[i/7%5]
			r.Durations[DurFirstResponse], r.Durations[DurQueueWait], r.Durations[DurHandoffResponse] =
				float64(60+i%900), float64(i%300), float64(20+i%900)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		g, err := NewAggregator(Query{Zone: "Europe/Paris", Bucket: "day"})
		if err != nil {
			b.Fatal(err)
		}
		for i := range rows {
			g.Add(&rows[i])
		}
		if g.Reply().GetTotal().GetOpened() != int64(len(rows)) {
			b.Fatal("wrong total")
		}
	}
}
