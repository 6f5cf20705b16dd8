package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/persister/internal/bus"
	"github.com/frontdesk-chat/frontdesk/persister/internal/erase"
	"github.com/frontdesk-chat/frontdesk/services/natsconn"
	"github.com/frontdesk-chat/frontdesk/services/pg"
	"github.com/frontdesk-chat/frontdesk/services/quota"
)

// eraseTimeout bounds one erase request; an erase cut short is resumed by the next retention
// run or request.
const eraseTimeout = 2 * time.Minute

// EraseTables are Postgres tables other features add that hold a customer's data (contacts,
// notes): each is erased with the record's own tables, before them, in the same transaction.
// Add an entry here (or pass it to erase.Default) to plug a new table in.
var EraseTables = []erase.Table{
	// Staff's private notes in the customer's conversations (they may name the customer).
	{Name: "notes", Where: "tenant = $1 AND (conv = ANY($3) OR author_id = $2)"},
	// Transcripts asked for in their conversations or to their contact's address (one still
	// waiting is never sent once its row is gone). Before the contact, which it reads.
	{Name: "transcript_mails", Where: "tenant = $1 AND (conv = ANY($3) OR email = (SELECT lower(email) FROM contacts WHERE tenant = $1 AND id = $2))"},
	// The customer's contact: name, email, phone, attributes, agents' notes on them.
	{Name: "contacts", Where: "tenant = $1 AND id = $2"},
}

// newEraser builds the erase registry and runner over the service's stores: js erases (the
// retention identity when there is one), own is the persister's identity (its durables).
func newEraser(pool *pgxpool.Pool, js, own jetstream.JetStream, b *bus.Bus, log *zap.Logger) *erase.Runner {
	return erase.NewRunner(erase.Default(pool, js, own, b, log, EraseTables...), erase.NewAudit(pool), log)
}

// openBus binds the quota counter (attachments deleted give their bytes back) and the bus.
func openBus(ctx context.Context, js jetstream.JetStream) (*bus.Bus, error) {
	q, err := quota.Open(ctx, js)
	if err != nil {
		return nil, err
	}
	return bus.New(js, q), nil
}

// Erase is the `persister erase <tenant> <user> <requested-by>` command: it erases one
// customer everywhere with the persister's own connections (no running persister needed),
// resuming an unfinished erase of the same customer, and prints the audit id and counts.
func Erase(ctx context.Context, cfg Config, log *zap.Logger, args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: persister erase [-config file] <tenant> <user> <requested-by>: %w", erase.ErrBadRequest)
	}
	own, closeOwn, err := connectJS(ctx, cfg, log.Named("nats"))
	if err != nil {
		return err
	}
	defer closeOwn()
	js := own
	// Everything an erase removes from the bus is the retention identity's when it has one;
	// the persister's own identity looks at its durables (the erase waits for their ingest).
	if cfg.Persister.RetentionCreds != "" {
		var closeRetention func()
		if js, closeRetention, err = connectJS(ctx, retentionNATS(cfg), log.Named("nats-retention")); err != nil {
			return err
		}
		defer closeRetention()
	}
	pool, err := pg.Connect(ctx, cfg.Database, log.Named("pg"))
	if err != nil {
		return err
	}
	defer pool.Close()
	b, err := openBus(ctx, js)
	if err != nil {
		return err
	}
	res, err := newEraser(pool, js, own, b, log).Erase(ctx, args[0], args[1], "cli:"+args[2])
	if err != nil {
		return errors.Join(err, errors.New("run the same command again to resume"))
	}
	out, _ := json.Marshal(map[string]any{"id": res.ID, "counts": res.Counts})
	log.Info("erased", zap.ByteString("result", out))
	return nil
}

// connectJS connects with cfg's NATS settings; the caller calls close when done.
func connectJS(ctx context.Context, cfg Config, log *zap.Logger) (js jetstream.JetStream, close func(), err error) {
	nc, err := natsconn.Connect(ctx, cfg.NATS, log, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := natsconn.WaitConnected(ctx, nc); err != nil {
		nc.Close()
		return nil, nil, err
	}
	if js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nc.Close, nil
}
