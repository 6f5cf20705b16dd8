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

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/examples/consumer/example"
)

func main() {
	counts := NewCounts()
	example.Command{
		Name: "consumer", Durable: "analytics", Figures: "totals",
		Consume: func(ctx context.Context, js jetstream.JetStream, durable string) error {
			return Consume(ctx, js, durable, counts)
		},
		Snapshot: func() any { return counts.Snapshot() },
	}.Main()
}
