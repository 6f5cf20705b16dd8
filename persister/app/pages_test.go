package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/testkit"
)

// TestHistoryPagesFitOnTheBus: 50 messages of 32 KiB make a page over the server's 1 MiB
// max_payload, which used to go unanswered (the gateway's sync from the record then timed out
// and reported recovered:false forever). Pages are cut to fit, with more set, and paging
// forward and backward still reads every message exactly once.
func TestHistoryPagesFitOnTheBus(t *testing.T) {
	t.Parallel()
	dbURL := testkit.Database(t)
	natsURL, nc, js := natsEnv(t)
	start(t, testConfig(natsURL, dbURL))
	ctx := context.Background()
	const n = 50
	big := strings.Repeat("<", 32<<10)
	for i := range n {
		m := &fd.Message{Id: fmt.Sprintf("m_big_%03d", i), Tenant: "acme", Conv: "cbig",
			From: &fd.Participant{Id: "cust", Role: "customer"}, Kind: "text", Text: big, CreatedAt: timestamppb.Now()}
		data, _ := proto.Marshal(m)
		if _, err := js.Publish(ctx, subjects.Messages("acme", "cbig"), data, jetstream.WithMsgID(m.Id)); err != nil {
			t.Fatal(err)
		}
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	waitExactly(t, pool, js, n) // every message stored: batches commit in any order
	tests := []struct {
		name string
		next func(last *fd.HistoryReply) *fd.HistoryRequest // nil last: the first page
	}{
		{name: "forward", next: func(last *fd.HistoryReply) *fd.HistoryRequest {
			after := int64(1) // after 0 means the latest page; start after the first message
			if last != nil {
				after = last.Messages[len(last.Messages)-1].Seq
			}
			return &fd.HistoryRequest{Conv: "cbig", After: after, Limit: 200}
		}},
		{name: "backward", next: func(last *fd.HistoryReply) *fd.HistoryRequest {
			if last == nil {
				return &fd.HistoryRequest{Conv: "cbig", Limit: 200}
			}
			return &fd.HistoryRequest{Conv: "cbig", Before: last.Messages[0].Seq, Limit: 200}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[int64]bool{}
			var last *fd.HistoryReply
			for pages := 0; ; pages++ {
				if pages > n {
					t.Fatal("paging does not end")
				}
				rep := request(t, nc, subjects.HistoryQuery("acme"), tc.next(last), &fd.HistoryReply{})
				if rep.Error != "" || len(rep.Messages) == 0 {
					t.Fatalf("page %d: %d messages, error %q", pages, len(rep.Messages), rep.Error)
				}
				if pages == 0 && (!rep.More || len(rep.Messages) >= n-1) {
					t.Fatalf("first page has %d messages, more=%v: not cut to fit", len(rep.Messages), rep.More)
				}
				for _, m := range rep.Messages {
					if seen[m.Seq] {
						t.Fatalf("seq %d twice", m.Seq)
					}
					seen[m.Seq] = true
				}
				last = rep
				if !rep.More {
					break
				}
			}
			want := n
			if tc.name == "forward" {
				want = n - 1
			}
			if len(seen) != want {
				t.Fatalf("read %d messages, want %d", len(seen), want)
			}
		})
	}
}
