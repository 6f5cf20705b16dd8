// Command ingestbench measures the persister's ingest throughput: it fills FD_MESSAGES on an
// in-process JetStream server with a backlog of messages, then times how fast they become
// committed rows in Postgres, with the persister's batched path (ingest.Consumer +
// store.WriteMessages: COPY into a staging table, one INSERT ... SELECT per batch) and with
// naive one-row INSERTs (one implicit transaction and one ack per message).
//
//	go run ./persister/cmd/ingestbench -n 200000 -runs 3
//
// Each run uses a fresh database created on the server of -db (dropped afterwards), so the
// tables and indexes start empty every time.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

type options struct {
	n, naiveN, runs, batch, convs, workers int
	db                                     string
	skipNaive                              bool
	cpuprofile                             string
	setupSQL                               string
	// wait is the batch wait; rate and duration select the latency mode (latency.go).
	wait     time.Duration
	fill     int
	rate     int
	duration time.Duration
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 200000, "messages in the backlog")
	flag.IntVar(&o.naiveN, "naive-n", 0, "messages for the naive run (0: same as -n)")
	flag.IntVar(&o.runs, "runs", 3, "runs of the batched path (the median is reported)")
	defaults := app.DefaultConfig().Persister
	flag.IntVar(&o.batch, "batch", defaults.BatchSize, "batch size of the batched path (default: the service's)")
	flag.IntVar(&o.workers, "workers", defaults.Workers, "concurrent batch writers of the batched path (default: the service's)")
	flag.IntVar(&o.convs, "convs", 1000, "conversations the messages are spread over")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the batched runs to this file")
	flag.StringVar(&o.setupSQL, "setup-sql", "", "SQL run on each fresh database after the migrations (to try schema variants)")
	flag.BoolVar(&o.skipNaive, "skip-naive", false, "skip the naive one-row INSERT run")
	flag.DurationVar(&o.wait, "wait", defaults.BatchWait, "how long a batch waits after its first message for more (default: the service's, 0: group commit only)")
	flag.IntVar(&o.fill, "fill", defaults.BatchFill, "a batch stops waiting once it holds this many messages (default: the service's, 0: the whole wait)")
	flag.IntVar(&o.rate, "rate", 0, "latency mode: publish this many messages a second and report ack->commit latency")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "latency mode: how long to publish")
	def := os.Getenv("FRONTDESK_TEST_DATABASE_URL")
	if def == "" {
		def = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	flag.StringVar(&o.db, "db", def, "admin URL of a Postgres server where the benchmark may create databases")
	flag.Parse()
	if o.naiveN <= 0 {
		o.naiveN = o.n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runner := run
	if o.rate > 0 {
		runner = runLatency
	}
	if err := runner(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	js, stop, err := startBus(ctx)
	if err != nil {
		return err
	}
	defer stop()
	total := max(o.n, o.naiveN)
	fmt.Printf("publishing %d messages over %d conversations...\n", total, o.convs)
	t0 := time.Now()
	if err := fill(ctx, js, total, o.convs); err != nil {
		return err
	}
	fmt.Printf("backlog ready in %s\n", time.Since(t0).Round(time.Millisecond))

	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	var rates []float64
	for i := range o.runs {
		rate, err := measure(ctx, o, js, fmt.Sprint("bench-batched-", i), o.n, batched(o))
		if err != nil {
			return err
		}
		fmt.Printf("batched run %d: %d rows in %s = %.0f rows/s\n", i+1, o.n, time.Duration(float64(o.n)/rate*float64(time.Second)).Round(time.Millisecond), rate)
		rates = append(rates, rate)
	}
	pprof.StopCPUProfile()
	slices.Sort(rates)
	fmt.Printf("BATCHED median: %.0f rows/s (batch %d, %d workers, %d runs)\n", rates[len(rates)/2], o.batch, o.workers, o.runs)
	if o.skipNaive {
		return nil
	}
	rate, err := measure(ctx, o, js, "bench-naive", o.naiveN, naive)
	if err != nil {
		return err
	}
	fmt.Printf("NAIVE one-row INSERTs: %d rows at %.0f rows/s\n", o.naiveN, rate)
	return nil
}

var words = strings.Fields("hello I would like to know where my order is it was supposed to arrive yesterday " +
	"can you help me with a refund the package was damaged thanks for your patience agent will be with you shortly")

var zh = []string{"你好，我想查询一下我的订单", "包裹什么时候能到？", "我想申请退款，谢谢", "请问可以换货吗"}

func fill(ctx context.Context, js jetstream.JetStream, n, convs int) error {
	now := timestamppb.Now()
	for i := range n {
		conv := fmt.Sprintf("c_%05d", i%convs)
		var text string
		if i%10 == 0 {
			text = zh[i%len(zh)]
		} else {
			w := 6 + i%12
			parts := make([]string, w)
			for j := range w {
				parts[j] = words[(i*7+j*3)%len(words)]
			}
			text = strings.Join(parts, " ")
		}
		role, sender := "customer", "cust_"+conv
		if i%2 == 1 {
			role, sender = "agent", fmt.Sprintf("agent_%02d", i%37)
		}
		m := &fd.Message{
			Id: fmt.Sprintf("m_%08d", i), ClientId: fmt.Sprint("cl", i), Tenant: "bench", Conv: conv,
			From: &fd.Participant{Id: sender, Role: role, Name: sender}, Kind: "text", Text: text, CreatedAt: now,
		}
		data, err := proto.Marshal(m)
		if err != nil {
			return err
		}
		if _, err := js.PublishAsync(subjects.Messages("bench", conv), data, jetstream.WithMsgID(m.Id)); err != nil {
			return err
		}
		if i%1000 == 999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ingester consumes the backlog into pool with durable until ctx ends, adding committed rows
// to *committed.
type ingester func(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, durable string, committed *atomic.Int64) error

// measure creates a fresh database, runs ing and returns rows/s from the consumer's start to
// the commit of the n-th row.
func measure(ctx context.Context, o options, js jetstream.JetStream, durable string, n int, ing ingester) (float64, error) {
	pool, drop, err := freshDatabase(ctx, o)
	if err != nil {
		return 0, err
	}
	defer drop()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	cpu0 := processCPU()
	errc := make(chan error, 1)
	var committed atomic.Int64
	go func() { errc <- ing(rctx, js, pool, durable, &committed) }()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case err := <-errc:
			if err != nil {
				return 0, err
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C:
		}
		// Polling count(*) would itself load Postgres; the ingester counts committed rows.
		if committed.Load() < int64(n) {
			continue
		}
		elapsed := time.Since(start)
		goCPU := processCPU() - cpu0
		cancel()
		pgCPU, err := backendCPU(ctx, pool)
		if err != nil {
			return 0, err
		}
		fmt.Printf("  cpu: benchmark process (NATS server + consumer) %s, postgres backends %s: %.0f rows per cpu-second\n",
			goCPU.Round(time.Millisecond), pgCPU.Round(time.Millisecond), float64(n)/(goCPU+pgCPU).Seconds())
		var rows int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&rows); err != nil {
			return 0, err
		}
		if rows < n {
			return 0, fmt.Errorf("ingester reported %d rows committed but the table holds %d", committed.Load(), rows)
		}
		return float64(n) / elapsed.Seconds(), nil
	}
}

// processCPU is this process's user+system CPU time (it includes the in-process NATS server
// and the publisher's leftovers, so it overstates the consumer's share a little).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU sums the CPU time of the Postgres backends serving the benchmark database, read
// from /proc (the server runs on this machine). Postgres's background writers are not counted.
func backendCPU(ctx context.Context, pool *pgxpool.Pool) (time.Duration, error) {
	rows, err := pool.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
	if err != nil {
		return 0, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, err
	}
	const clockTicks = 100 // USER_HZ on Linux
	var total time.Duration
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // not on this machine, or gone
		}
		// Fields after the parenthesised command name; utime and stime are the 14th and 15th.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(u+st) * time.Second / clockTicks
	}
	return total, nil
}

func batched(o options) ingester {
	return func(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, durable string, committed *atomic.Int64) error {
		st := store.New(pool)
		write := func(ctx context.Context, rows []store.MessageRow) (store.WriteResult, error) {
			res, err := st.WriteMessages(ctx, rows)
			if err == nil {
				committed.Add(res.Inserted)
			}
			return res, err
		}
		return serviceConsumer(js, o, durable, write).Run(ctx)
	}
}

func naive(ctx context.Context, js jetstream.JetStream, pool *pgxpool.Pool, durable string, committed *atomic.Int64) error {
	st := store.New(pool)
	cons, err := js.CreateOrUpdateConsumer(ctx, subjects.StreamMessages, jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 20000,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		md, err := m.Metadata()
		if err != nil {
			return err
		}
		row, _, err := ingest.DecodeMessage(m.Subject(), md.Sequence.Stream, m.Data())
		if err != nil {
			return err
		}
		inserted, err := st.WriteMessageNaive(ctx, row)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if inserted {
			committed.Add(1)
		}
		if err := m.Ack(); err != nil {
			return err
		}
	}
}

func createDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "fd_ingestbench_" + hex.EncodeToString(b)
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, errors.New("-db must be a postgres:// URL")
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", nil, fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}
