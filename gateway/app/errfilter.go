package app

import (
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// quietWhileStopping wraps the connection's async error handler: while the gateway stops, a
// consumer that vanished (deleted by its own unsubscribe or the drain, or by the server's
// inactivity cleanup) is the expected end of it, not an error worth a stack trace. Everything
// else still goes to next.
func quietWhileStopping(next nats.ErrHandler, stopping func() bool, log *zap.Logger) nats.ErrHandler {
	return func(nc *nats.Conn, sub *nats.Subscription, err error) {
		if (stopping() || nc.IsDraining() || nc.IsClosed()) && consumerGone(err) {
			log.Debug("consumer gone while stopping", zap.Error(err))
			return
		}
		if next != nil {
			next(nc, sub, err)
		}
	}
}

func consumerGone(err error) bool {
	for _, e := range []error{nats.ErrConsumerNotFound, nats.ErrConsumerDeleted, nats.ErrConsumerNotActive,
		jetstream.ErrConsumerNotFound, jetstream.ErrConsumerDeleted} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
