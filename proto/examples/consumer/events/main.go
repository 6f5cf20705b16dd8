// Command events is the second example a platform team starts from: a durable JetStream
// consumer of every conversation lifecycle event that keeps, per tenant, how many conversations
// were opened, queued, assigned, transferred, requeued, closed (and abandoned in a queue), and
// the median time from entering a queue to being assigned, and prints them as JSON lines.
//
//	go run ./examples/consumer/events -nats nats://127.0.0.1:4222 -durable analytics-events
//
// With the deployment's NATS security on, give it its own credentials (see deploy/README.md):
// `natsauth -consumer analytics:FD_EVENTS` issues a user that may only read FD_EVENTS through
// the durable analytics-events (this command's default -durable); pass its file with -creds.
//
// Everything it knows about Frontdesk comes from the proto module: the stream name and subjects
// from package subjects, the event types from package frames, the payload type from the
// generated frontdeskv1 package.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "events:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	url := fs.String("nats", nats.DefaultURL, "NATS server URL")
	creds := fs.String("creds", "", "NATS credentials file (from natsauth -consumer)")
	durable := fs.String("durable", "analytics-events", "durable consumer name (shared by all replicas of this consumer)")
	every := fs.Duration("every", 5*time.Second, "how often to print the figures")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	opts := []nats.Option{nats.Name("frontdesk-example-events"), nats.MaxReconnects(-1)}
	if *creds != "" {
		opts = append(opts, nats.UserCredentials(*creds))
	}
	nc, err := nats.Connect(*url, opts...)
	if err != nil {
		return fmt.Errorf("connect %s: %w", *url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	stats := NewStats()
	enc := json.NewEncoder(stdout)
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	// The consuming goroutine is owned here: every return below ends it and waits for it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- Consume(ctx, js, *durable, stats) }()
	for {
		select {
		case <-ticker.C:
			if err := enc.Encode(stats.Snapshot()); err != nil {
				cancel()
				<-errc
				return fmt.Errorf("print figures: %w", err)
			}
		case err := <-errc:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}
