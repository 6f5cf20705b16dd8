// Command consumer is the example a platform team starts from to build on Frontdesk without
// changing any service: a durable JetStream consumer of every conversation message that counts
// messages per tenant and sender role and prints the running totals as JSON lines.
//
//	go run ./examples/consumer -nats nats://127.0.0.1:4222 -durable analytics
//
// With the deployment's NATS security on, give it its own credentials (deploy/README.md):
// `natsauth -consumer analytics:FD_MESSAGES` issues a user that may only read FD_MESSAGES through
// the durable analytics-messages; run it with -creds consumer-analytics.creds -durable
// analytics-messages. The events example (./examples/consumer/events) is its sibling.
//
// Everything it knows about Frontdesk comes from the proto module: the stream name and subject
// functions from package subjects, the payload type from the generated frontdeskv1 package.
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
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	url := fs.String("nats", nats.DefaultURL, "NATS server URL")
	creds := fs.String("creds", "", "NATS credentials file (from natsauth -consumer)")
	durable := fs.String("durable", "analytics", "durable consumer name (shared by all replicas of this consumer)")
	every := fs.Duration("every", 5*time.Second, "how often to print the totals")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	opts := []nats.Option{nats.Name("frontdesk-example-consumer"), nats.MaxReconnects(-1)}
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
	counts := NewCounts()
	enc := json.NewEncoder(stdout)
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	// The consuming goroutine is owned here: every return below ends it and waits for it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- Consume(ctx, js, *durable, counts) }()
	for {
		select {
		case <-ticker.C:
			if err := enc.Encode(counts.Snapshot()); err != nil {
				cancel()
				<-errc
				return fmt.Errorf("print totals: %w", err)
			}
		case err := <-errc:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}
