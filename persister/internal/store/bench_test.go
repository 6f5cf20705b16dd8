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
