package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// runLatency is the latency mode (-rate): messages are published at a constant rate while the
// service's consumer runs, and each row's latency is from its publish being acknowledged
// (the moment a client would get its ack) to the commit of the transaction that stored it.
func runLatency(ctx context.Context, o options) error {
	js, stop, err := startBus(ctx)
	if err != nil {
		return err
	}
	defer stop()
	pool, drop, err := freshDatabase(ctx, o)
	if err != nil {
		return err
	}
	defer drop()

	total := int(float64(o.rate) * o.duration.Seconds())
	acked := make([]atomic.Int64, total)
	var (
		mu         sync.Mutex
		lat        []time.Duration
		unmeasured int
		committed  atomic.Int64
		txns       atomic.Int64
	)
	st := store.New(pool)
	write := func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
		res, err := st.WriteMessages(ctx, rows)
		if err != nil {
			return res, err
		}
		now := time.Now().UnixNano()
		mu.Lock()
		for _, r := range rows {
			i, err := strconv.Atoi(strings.TrimPrefix(r.Msg.GetId(), "l_"))
			if err != nil || i >= total || acked[i].Load() == 0 {
				unmeasured++
				continue
			}
			lat = append(lat, time.Duration(now-acked[i].Load()))
		}
		mu.Unlock()
		committed.Add(res.Inserted)
		txns.Add(1)
		return res, nil
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := serviceConsumer(js, o, "bench-latency", write)
	consumerDone := make(chan error, 1)
	go func() { consumerDone <- c.Run(cctx) }()

	// Publishers: each sends every publishers-th message at its scheduled time (open loop:
	// a late publish does not delay the next one's schedule) and waits for its ack.
	const publishers = 16
	fmt.Printf("publishing %d messages/s for %s over %d conversations (batch %d, wait %s, fill %d, %d workers)...\n",
		o.rate, o.duration, o.convs, o.batch, o.wait, o.fill, o.workers)
	start := time.Now().Add(100 * time.Millisecond)
	cpu0 := processCPU()
	var wg sync.WaitGroup
	var pubErr atomic.Value
	for k := range publishers {
		wg.Go(func() {
			for i := k; i < total; i += publishers {
				at := start.Add(time.Duration(float64(i) / float64(o.rate) * float64(time.Second)))
				if d := time.Until(at); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				conv := fmt.Sprintf("c_%05d", i%o.convs)
				m := &fd.Message{Id: fmt.Sprintf("l_%08d", i), ClientId: fmt.Sprint("cl", i), Tenant: "bench", Conv: conv,
					From: &fd.Participant{Id: "cust_" + conv, Role: "customer", Name: "Customer"}, Kind: "text",
					Text: words[i%len(words)] + " " + words[(i*7)%len(words)] + " " + words[(i*3)%len(words)], CreatedAt: timestamppb.Now()}
				data, _ := proto.Marshal(m)
				if _, err := js.Publish(ctx, subjects.Messages("bench", conv), data, jetstream.WithMsgID(m.Id)); err != nil {
					pubErr.Store(err)
					return
				}
				acked[i].Store(time.Now().UnixNano())
			}
		})
	}
	wg.Wait()
	if err, _ := pubErr.Load().(error); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	deadline := time.After(time.Minute)
	for committed.Load() < int64(total) {
		select {
		case err := <-consumerDone:
			return fmt.Errorf("consumer stopped: %v", err)
		case <-deadline:
			return fmt.Errorf("%d of %d rows committed a minute after the last publish", committed.Load(), total)
		case <-time.After(10 * time.Millisecond):
		}
	}
	goCPU := processCPU() - cpu0
	pgCPU, err := backendCPU(ctx, pool)
	if err != nil {
		return err
	}
	cancel()
	<-consumerDone
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))].Round(10 * time.Microsecond) }
	fmt.Printf("ack->commit over %d rows (%d unmeasured): p50 %s, p90 %s, p99 %s, p99.9 %s, max %s\n",
		len(lat), unmeasured, q(0.5), q(0.9), q(0.99), q(0.999), q(1))
	fmt.Printf("  cpu: benchmark process (NATS server + publishers + consumer) %s, postgres backends %s\n",
		goCPU.Round(time.Millisecond), pgCPU.Round(time.Millisecond))
	fmt.Printf("  %d transactions, %.1f rows each on average\n", txns.Load(), float64(committed.Load())/float64(max(txns.Load(), 1)))
	return nil
}
