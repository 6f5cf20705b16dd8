package store

// Labels: the conversations' labels as their newest `labeled` events say (migration 0100),
// written in the transaction that stores the events.

import (
	"github.com/jackc/pgx/v5"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// upsertLabelsSQL sets a conversation's labels from a labeled event unless a newer one
// (labels_seq) was applied: events of one batch, of replicas' concurrent batches and of
// redeliveries arrive in any order. A conversation not recorded yet gets its row here; the
// event fold fills the rest.
const upsertLabelsSQL = `INSERT INTO conversations AS c (tenant, id, tags, labels_seq) VALUES ($1, $2, $3, $4)
ON CONFLICT (tenant, id) DO UPDATE SET tags = EXCLUDED.tags, labels_seq = EXCLUDED.labels_seq, updated_at = now()
WHERE c.labels_seq < EXCLUDED.labels_seq`

// labelFold is a conversation's newest labels in a batch.
type labelFold struct {
	labels []string
	seq    int64
}

// noteLabels keeps the labels of ev (at seq) if it is a labeled event newer than the one kept.
func noteLabels(m map[userKey]*labelFold, seq int64, ev *fd.ConversationEvent) {
	if ev.GetType() != frames.EventLabeled {
		return
	}
	k := userKey{ev.GetTenant(), ev.GetConv()}
	if f := m[k]; f != nil && f.seq >= seq {
		return
	}
	labels := ev.GetLabels()
	if labels == nil {
		labels = []string{} // the column is NOT NULL: no labels is an empty array
	}
	m[k] = &labelFold{labels: labels, seq: seq}
}

// queueLabels queues the label upserts in key order (the order the conversations were locked).
func queueLabels(b *pgx.Batch, m map[userKey]*labelFold) {
	for _, k := range sortedKeys(m) {
		b.Queue(upsertLabelsSQL, k.tenant, k.id, m[k].labels, m[k].seq)
	}
}
