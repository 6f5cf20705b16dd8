package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/streams"

	"github.com/frontdesk-chat/frontdesk/persister/internal/ingest"
	"github.com/frontdesk-chat/frontdesk/persister/internal/migrate"
	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// The setup both modes share: the bus, a fresh database and the service's consumer.

// startBus starts an in-process JetStream server with the persister's message streams
// provisioned; stop shuts it down and removes its store.
func startBus(ctx context.Context) (js jetstream.JetStream, stop func(), err error) {
	dir, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		return nil, nil, err
	}
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	undo = append(undo, func() { _ = os.RemoveAll(dir) })
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("nats-server: %w", err)
	}
	go srv.Start()
	undo = append(undo, srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		stop()
		return nil, nil, errors.New("nats-server did not start")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("connect: %w", err)
	}
	undo = append(undo, nc.Close)
	if js, err = jetstream.New(nc); err == nil {
		topo := streams.Declared(streams.Options{Replicas: 1}).Only(subjects.StreamMessages, subjects.StreamDeadLetters)
		err = streams.Provision(ctx, js, topo)
	}
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("provision streams: %w", err)
	}
	return js, stop, nil
}

// freshDatabase creates a database on the server of o.db, migrated and with o.setupSQL run,
// so tables and indexes start empty; drop closes the pool and drops the database.
func freshDatabase(ctx context.Context, o options) (pool *pgxpool.Pool, drop func(), err error) {
	dbURL, dropDB, err := createDatabase(ctx, o.db)
	if err != nil {
		return nil, nil, err
	}
	if pool, err = pgxpool.New(ctx, dbURL); err != nil {
		dropDB()
		return nil, nil, err
	}
	drop = func() { pool.Close(); dropDB() }
	if _, err := migrate.Apply(ctx, pool, nil); err != nil {
		drop()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	if o.setupSQL != "" {
		if _, err := pool.Exec(ctx, o.setupSQL); err != nil {
			drop()
			return nil, nil, fmt.Errorf("setup sql: %w", err)
		}
	}
	return pool, drop, nil
}

// serviceConsumer is the persister's batched consumer of FD_MESSAGES with o's batch size, wait
// and workers, storing each batch with write.
func serviceConsumer(js jetstream.JetStream, o options, durable string, write func(context.Context, []store.MessageRow) (store.WriteResult, error)) *ingest.Consumer[store.MessageRow] {
	return ingest.NewConsumer(js, ingest.Options{
		Stream: subjects.StreamMessages, Durable: durable, BatchSize: o.batch, BatchWait: o.wait, BatchFill: o.fill, Workers: o.workers,
	}, ingest.Handler[store.MessageRow]{Decode: ingest.DecodeMessage, Write: write},
		ingest.NewMetrics(prometheus.NewRegistry()), zap.NewNop())
}
