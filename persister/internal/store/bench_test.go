package store_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// BenchmarkWriteMessages measures the database side of ingest alone (no NATS): one batch of
// FD_BENCH_BATCH (default 1000) messages per iteration. FD_BENCH_SQL, when set, runs first (to try schema variants).
func BenchmarkWriteMessages(b *testing.B) {
	st, pool := newStore(b)
	_ = pool
	ctx := context.Background()
	if q := os.Getenv("FD_BENCH_SQL"); q != "" {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	batch := 1000
	if v, err := strconv.Atoi(os.Getenv("FD_BENCH_BATCH")); err == nil && v > 0 {
		batch = v
	}
	words := strings.Fields("hello I would like to know where my order is it was supposed to arrive yesterday can you help me with a refund")
	seq := int64(0)
	now := timestamppb.New(time.Now())
	b.ResetTimer()
	for b.Loop() {
		rows := make([]store.MessageRow, batch)
		for i := range rows {
			seq++
			w := 6 + int(seq%12)
			rows[i] = store.MessageRow{Seq: seq, Msg: &fd.Message{
				Id: fmt.Sprint("m_", seq), Tenant: "bench", Conv: fmt.Sprint("c_", seq%1000),
				From: &fd.Participant{Id: fmt.Sprint("u", seq%1000), Role: "customer", Name: "x"},
				Kind: "text", Text: strings.Join(words[:w], " "), CreatedAt: now,
			}}
		}
		if _, err := st.WriteMessages(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteEvents measures the database side of event ingest: one batch of 500
// lifecycle events per iteration, five per conversation (opened, queued, assigned, a
// transfer, closed) as a desk produces them, each conversation's events spread over two
// consecutive batches. The record starts with a history of 100,000 conversations (their
// events, conversations and report facts), analyzed, as a running desk has: on a new, empty
// and never analyzed table every plan is a sequential scan that grows with each batch.
func BenchmarkWriteEvents(b *testing.B) {
	st, pool := newStore(b)
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO events (id, tenant, conv, seq, type, state, customer_id, at)
			SELECT 'h' || i, 'bench', 'h' || (i / 5), -i, 'queued', 'queued', 'u' || (i / 5 % 5000), now() - interval '30 days' + i * interval '1 s'
			FROM generate_series(1, 500000) i`,
		`INSERT INTO conversations (tenant, id, state, customer_id, opened_at)
			SELECT 'bench', 'h' || i, 'closed', 'u' || (i % 5000), now() - interval '30 days' + i * interval '5 s' FROM generate_series(0, 100000) i`,
		`INSERT INTO report_conversations (tenant, conv, opened_at, customer_id, closed_at)
			SELECT 'bench', 'h' || i, now() - interval '30 days' + i * interval '5 s', 'u' || (i % 5000),
				now() - interval '30 days' + i * interval '5 s' + interval '10 minutes' FROM generate_series(0, 100000) i`,
		`ANALYZE`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	const batch = 500
	types := []struct{ typ, state, agent string }{
		{"opened", "bot", ""}, {"queued", "queued", ""}, {"assigned", "assigned", "a1"},
		{"transferred", "assigned", "a2"}, {"closed", "closed", ""},
	}
	seq := int64(0)
	start := time.Now().Add(-time.Hour)
	b.ResetTimer()
	for b.Loop() {
		rows := make([]store.EventRow, batch)
		for i := range rows {
			seq++
			conv, step := (seq+2)/5, types[(seq+2)%5]
			ev := &fd.ConversationEvent{Id: fmt.Sprint("e", seq), Tenant: "bench", Conv: fmt.Sprint("c", conv),
				Type: step.typ, State: step.state, At: timestamppb.New(start.Add(time.Duration(seq) * time.Second)),
				Customer: &fd.Participant{Id: fmt.Sprint("u", conv%5000), Role: "customer"}, Queue: "q"}
			if step.agent != "" {
				ev.Agent = &fd.Participant{Id: step.agent, Role: "agent"}
			}
			rows[i] = store.EventRow{Seq: seq, Event: ev}
		}
		if _, err := st.WriteEvents(ctx, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
