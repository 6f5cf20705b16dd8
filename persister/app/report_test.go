package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// A report over NATS counts what went through the streams, in the tenant's time zone
// (Asia/Kolkata, UTC+5:30: a zone an hourly UTC roll-up could not serve), as protobuf and as
// CSV; events published again under other message ids (a republish past the dedup window)
// change nothing.
func TestReportOverNATS(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, nc, js := natsEnv(t)
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, subjects.BucketTenants)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "acme", []byte(`{"id":"acme","name":"Acme","hours":{"time_zone":"Asia/Kolkata"}}`)); err != nil {
		t.Fatal(err)
	}
	start(t, testConfig(natsURL, dbURL))

	base := time.Date(2026, 3, 2, 20, 0, 0, 0, time.UTC) // Tuesday 01:30 in Kolkata
	at := func(s int) *timestamppb.Timestamp { return timestamppb.New(base.Add(time.Duration(s) * time.Second)) }
	cust := func(id string) *fd.Participant { return &fd.Participant{Id: id, Role: "customer"} }
	events := []*fd.ConversationEvent{
		{Id: "k1.opened", Conv: "k1", Type: "opened", State: "bot", At: at(0), Customer: cust("u1")},
		{Id: "k2.opened", Conv: "k2", Type: "opened", State: "bot", At: at(600), Customer: cust("u2")},
		{Id: "k2.queued", Conv: "k2", Type: "queued", State: "queued", Reason: "customer", Queue: "sales", At: at(630), Customer: cust("u2")},
		{Id: "k2.assigned", Conv: "k2", Type: "assigned", State: "assigned", Queue: "sales", At: at(690), Customer: cust("u2"),
			Agent: &fd.Participant{Id: "a1", Role: "agent"}},
		{Id: "k2.closed", Conv: "k2", Type: "closed", State: "closed", Queue: "sales", At: at(1200), Customer: cust("u2"),
			PreviousAgent: &fd.Participant{Id: "a1", Role: "agent"}},
	}
	messages := []*fd.Message{
		{Id: "m1", Conv: "k1", From: cust("u1"), CreatedAt: at(0)},
		{Id: "m2", Conv: "k1", From: &fd.Participant{Id: "bot", Role: "bot"}, CreatedAt: at(5)},
		{Id: "m3", Conv: "k2", From: cust("u2"), CreatedAt: at(600)},
		{Id: "m4", Conv: "k2", From: &fd.Participant{Id: "a1", Role: "agent"}, CreatedAt: at(720)},
	}
	publish := func(round int) {
		t.Helper()
		for _, ev := range events {
			ev.Tenant = "acme"
			data, _ := proto.Marshal(ev)
			if _, err := js.Publish(ctx, subjects.Events("acme", ev.Conv), data, jetstream.WithMsgID(fmt.Sprint(ev.Id, "/", round))); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range messages {
			m.Tenant, m.Kind, m.Text = "acme", "text", "x"
			data, _ := proto.Marshal(m)
			if _, err := js.Publish(ctx, subjects.Messages("acme", m.Conv), data, jetstream.WithMsgID(fmt.Sprint(m.Id, "/", round))); err != nil {
				t.Fatal(err)
			}
		}
	}
	day := &fd.ReportRequest{From: timestamppb.New(time.Date(2026, 3, 2, 18, 30, 0, 0, time.UTC)),
		To: timestamppb.New(time.Date(2026, 3, 3, 18, 30, 0, 0, time.UTC))}
	check := func(rep *fd.ReportReply) error {
		tot := rep.GetTotal()
		switch {
		case rep.GetError() != "":
			return fmt.Errorf("error %q", rep.GetError())
		case tot.GetOpened() != 2 || tot.GetBotOnly() != 1 || tot.GetClosed() != 1 || tot.GetMessages() != 4:
			return fmt.Errorf("total %v", tot)
		case tot.GetFirstResponse().GetMedianS() != 120 || tot.GetQueueWait().GetMedianS() != 60 ||
			tot.GetFirstBotResponse().GetMedianS() != 5 || tot.GetResolution().GetMedianS() != 600:
			return fmt.Errorf("durations %v", tot)
		case rep.GetTimeZone() != "Asia/Kolkata" || rep.GetHeatmap()[1*24+1] != 2 || rep.GetHandoffReasons()["customer"] != 1:
			return fmt.Errorf("zone %s, heat map %v, reasons %v", rep.GetTimeZone(), rep.GetHeatmap(), rep.GetHandoffReasons())
		case len(rep.GetSeries()) != 1 || rep.GetSeries()[0].GetKey() != "2026-03-03" || len(rep.GetAgents()) != 1:
			return fmt.Errorf("series %v, agents %v", rep.GetSeries(), rep.GetAgents())
		}
		return nil
	}
	publish(1)
	testkit.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		return check(request(t, nc, subjects.ReportQuery("acme"), day, &fd.ReportReply{}))
	})
	first := request(t, nc, subjects.ReportQuery("acme"), day, &fd.ReportReply{})

	// Everything again under new message ids: the persister stores nothing new. A marker
	// conversation published after them tells when the persister has seen them all.
	publish(2)
	marker, _ := proto.Marshal(&fd.ConversationEvent{Id: "k3.opened", Tenant: "acme", Conv: "k3", Type: "opened",
		State: "bot", At: at(3600), Customer: cust("u3")})
	if _, err := js.Publish(ctx, subjects.Events("acme", "k3"), marker, jetstream.WithMsgID("k3.opened")); err != nil {
		t.Fatal(err)
	}
	mark, _ := proto.Marshal(&fd.Message{Id: "m5", Tenant: "acme", Conv: "k3", From: cust("u3"), Kind: "text", Text: "x", CreatedAt: at(3600)})
	if _, err := js.Publish(ctx, subjects.Messages("acme", "k3"), mark, jetstream.WithMsgID("m5")); err != nil {
		t.Fatal(err)
	}
	testkit.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		rep := request(t, nc, subjects.ReportQuery("acme"), day, &fd.ReportReply{})
		if rep.GetTotal().GetOpened() != 3 || rep.GetTotal().GetMessages() != 5 {
			return fmt.Errorf("marker not counted yet: %v", rep.GetTotal())
		}
		return nil
	})
	again := request(t, nc, subjects.ReportQuery("acme"), &fd.ReportRequest{From: day.From, To: timestamppb.New(base.Add(time.Hour))}, &fd.ReportReply{})
	if !proto.Equal(again, first) {
		t.Fatalf("republished events changed the report:\n got %v\nwant %v", again, first)
	}

	csvReq := proto.Clone(day).(*fd.ReportRequest)
	csvReq.Format = "csv"
	csv := request(t, nc, subjects.ReportQuery("acme"), csvReq, &fd.ReportReply{})
	lines := strings.Split(csv.GetCsv(), "\n")
	if csv.GetError() != "" || csv.GetTotal() != nil || !strings.HasPrefix(lines[0], "section,key,opened,") ||
		!strings.HasPrefix(lines[1], "total,,3,2,1,1,0,0,1,0,5,") || !strings.HasPrefix(lines[2], "agent,a1,1,") {
		t.Fatalf("csv reply: %v", csv)
	}
	bad := request(t, nc, subjects.ReportQuery("acme"), &fd.ReportRequest{From: day.From, To: day.To, Bucket: "week"}, &fd.ReportReply{})
	if !strings.HasPrefix(bad.GetError(), "bad request") {
		t.Fatalf("bad bucket: %v", bad)
	}
}
