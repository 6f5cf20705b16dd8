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

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/examples/consumer/example"
)

func main() {
	stats := NewStats()
	example.Command{
		Name: "events", Durable: "analytics-events", Figures: "figures",
		Consume: func(ctx context.Context, js jetstream.JetStream, durable string) error {
			return Consume(ctx, js, durable, stats)
		},
		Snapshot: func() any { return stats.Snapshot() },
	}.Main()
}
