// Package example is what the consumer examples share: the part of a platform consumer that is
// not about Frontdesk's payloads. It configures a durable pull consumer, reads it until the
// context ends, and runs it as a command that connects with its own credentials and prints its
// figures as JSON lines. An example's own package holds only what it computes.
package example

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

// ConsumerConfig is the durable consumer an example reads a stream with: the subjects matching
// filter from the beginning, explicit acks, at most ten deliveries with a growing back-off.
func ConsumerConfig(durable, filter string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    10,
		BackOff:       []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// Consume creates or updates the durable consumer cfg on stream and hands every delivery to
// handle until ctx ends (then it returns ctx's error). Several processes with the same durable
// share the work. handle acks or terminates the delivery itself; an error from it ends Consume.
func Consume(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig, handle func(jetstream.Msg) error) error {
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", cfg.Durable, stream, err)
	}
	iter, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	// Stopping the iterator is what ends the loop below when ctx ends; no goroutine outlives
	// Consume.
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	defer iter.Stop()
	for {
		msg, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("next delivery on %s: %w", cfg.Durable, err)
		}
		if err := handle(msg); err != nil {
			return err
		}
	}
}

// Command is an example as a program.
type Command struct {
	// Name is the command's name: the prefix of its errors, and of its NATS connection's name
	// (frontdesk-example-<Name>).
	Name string
	// Durable is the default of -durable.
	Durable string
	// Figures names what it prints (totals, figures) in its help and errors.
	Figures string
	// Consume runs the example's consumer, with the durable name given, until ctx ends.
	Consume func(ctx context.Context, js jetstream.JetStream, durable string) error
	// Snapshot is what is printed, as one JSON line, every -every.
	Snapshot func() any
}

// Main runs c as the process until SIGINT or SIGTERM, and exits with status 1 on an error.
func (c Command) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := c.Run(ctx, os.Args, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
		os.Exit(1)
	}
}

// Run parses args (-nats, -creds, -durable, -every), connects and consumes until ctx ends,
// writing c.Snapshot to stdout every -every.
func (c Command) Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	url := fs.String("nats", nats.DefaultURL, "NATS server URL")
	creds := fs.String("creds", "", "NATS credentials file (from natsauth -consumer)")
	durable := fs.String("durable", c.Durable, "durable consumer name (shared by all replicas of this consumer)")
	every := fs.Duration("every", 5*time.Second, "how often to print the "+c.Figures)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	opts := []nats.Option{nats.Name("frontdesk-example-" + c.Name), nats.MaxReconnects(-1)}
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
	enc := json.NewEncoder(stdout)
	ticker := time.NewTicker(*every)
	defer ticker.Stop()
	// The consuming goroutine is owned here: every return below ends it and waits for it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- c.Consume(ctx, js, *durable) }()
	for {
		select {
		case <-ticker.C:
			if err := enc.Encode(c.Snapshot()); err != nil {
				cancel()
				<-errc
				return fmt.Errorf("print %s: %w", c.Figures, err)
			}
		case err := <-errc:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}
