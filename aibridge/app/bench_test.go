package app_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/aibridge/internal/llmtest"
)

// BenchmarkReplyLatency measures, through a real JetStream server, the time from publishing a
// customer message (as the gateway does, PubAck included) to the bot's reply arriving on the conversation subject (what gateways
// push), one question at a time, ten questions per conversation. "model" uses the in-test SSE
// server answering at once, so it measures the bridge's own overhead (history read, prompt,
// streaming, fencing re-read, publish) and also reports the time to the first partial frame.
//
//	go test -run '^$' -bench ReplyLatency -benchtime 400x -count 3 ./app
func BenchmarkReplyLatency(b *testing.B) {
	for _, mode := range []string{"knowledge", "model"} {
		b.Run(mode, func(b *testing.B) {
			srv := llmtest.New(b, func(int, llmtest.Request) llmtest.Response {
				return llmtest.Text("Standard delivery takes 2-4 business days.")
			})
			tenant := knowledgeTenant(b, "acme")
			if mode == "model" {
				tenant = modelTenant(b, "acme", srv.URL())
			}
			h := newHarness(b, tenant, options{env: acmeKey})
			h.t.Helper()
			replies := make(chan string, 16)
			partials := make(chan string, 1024)
			sub, err := h.nc.Subscribe(subjects.TenantMessages("acme"), func(m *nats.Msg) {
				msg := &fd.Message{}
				if proto.Unmarshal(m.Data, msg) == nil && msg.GetFrom().GetRole() == frames.RoleBot {
					replies <- msg.GetReplyTo()
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = sub.Unsubscribe() }()
			lsub, err := h.nc.Subscribe(subjects.Live("acme", "*"), func(m *nats.Msg) {
				select {
				case partials <- m.Subject:
				default:
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = lsub.Unsubscribe() }()
			_ = h.nc.Flush()

			total := make([]time.Duration, 0, b.N)
			first := make([]time.Duration, 0, b.N)
			conv := ""
			b.ResetTimer()
			for i := range b.N {
				if i%10 == 0 {
					b.StopTimer()
					conv = fmt.Sprintf("c%d", i)
					h.openConversation("acme", conv, frames.StateBot)
					b.StartTimer()
				}
				start := time.Now()
				q := h.customer("acme", conv, "How long does shipping take?")
				gotFirst := false
				for {
					select {
					case id := <-replies:
						if id != q.GetId() {
							continue
						}
					case <-partials:
						if !gotFirst {
							gotFirst = true
							first = append(first, time.Since(start))
						}
						continue
					case <-time.After(wait):
						b.Fatal("no reply")
					}
					break
				}
				total = append(total, time.Since(start))
			}
			b.StopTimer()
			report(b, "reply", total)
			if len(first) > 0 {
				report(b, "first-partial", first)
			}
		})
	}
}

func report(b *testing.B, name string, d []time.Duration) {
	slices.Sort(d)
	q := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), name+"-p50-ms")
	b.ReportMetric(q(0.99), name+"-p99-ms")
}

// BenchmarkThroughput measures how many customer questions one replica answers per second from
// the knowledge base: b.N questions over 200 conversations published at once, timed until every
// reply is stored (each answer reads the conversation twice, its history once, and stores one
// message).
//
//	go test -run '^$' -bench Throughput -benchtime 4000x -count 3 ./app
func BenchmarkThroughput(b *testing.B) {
	h := newHarness(b, knowledgeTenant(b, "acme"), options{})
	const convs = 200
	for i := range convs {
		h.openConversation("acme", fmt.Sprintf("c%d", i), frames.StateBot)
	}
	done := make(chan struct{}, b.N)
	sub, err := h.nc.Subscribe(subjects.TenantMessages("acme"), func(m *nats.Msg) {
		msg := &fd.Message{}
		if proto.Unmarshal(m.Data, msg) == nil && msg.GetFrom().GetRole() == frames.RoleBot {
			done <- struct{}{}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	questions := []string{"How do I reset my password?", "退款需要多久？", "where is my parcel", "is the blue sweater in stock"}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		conv := fmt.Sprintf("c%d", i%convs)
		m := &fd.Message{Id: fmt.Sprintf("m_b%d", i), Tenant: "acme", Conv: conv,
			From: &fd.Participant{Id: "cust-" + conv, Role: frames.RoleCustomer}, Kind: frames.KindText, Text: questions[i%len(questions)]}
		data, _ := proto.Marshal(m)
		if _, err := h.js.PublishAsync(subjects.Messages("acme", conv), data); err != nil {
			b.Fatal(err)
		}
	}
	for range b.N {
		select {
		case <-done:
		case <-time.After(time.Minute):
			b.Fatal("replies missing")
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "answers/s")
}
