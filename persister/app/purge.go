package app

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/services/natsconn"
)

// retentionNATS is the connection settings of the retention identity: the service's own with
// the retention credentials and a name of its own.
func retentionNATS(cfg Config) Config {
	cfg.NATS.Creds = cfg.Persister.RetentionCreds
	cfg.NATS.Name = cfg.NATS.Name + "-retention"
	return cfg
}

// connectRetention opens the connection retention and erasure remove data with: with
// persister.retention_creds, a second connection as the retention identity (the ingest
// identity may not purge or delete anything); without, the service's own connection (a NATS
// without auth, or one identity for both). The connection is drained at shutdown after the
// workers stopped.
func (s *Service) connectRetention(ctx context.Context) (jetstream.JetStream, error) {
	if s.cfg.Persister.RetentionCreds == "" {
		return s.js, nil
	}
	nc, err := natsconn.Connect(ctx, retentionNATS(s.cfg).NATS, s.log.Named("nats-retention"), nil)
	if err != nil {
		return nil, fmt.Errorf("retention connection: %w", err)
	}
	s.stack.Push("nats-retention", func(ctx context.Context) error { return natsconn.Drain(ctx, nc) })
	s.ops.AddCheck("nats-retention", natsconn.Ready(nc))
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("retention jetstream: %w", err)
	}
	if err := natsconn.WaitConnected(ctx, nc); err != nil {
		return nil, err
	}
	s.log.Info("retention and erasure use their own NATS identity", zap.String("creds", s.cfg.Persister.RetentionCreds))
	return js, nil
}
