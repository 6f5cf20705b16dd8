package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Keys of the dispatcher's own bucket (fd_dispatcher). Tenant and ids are subject tokens, so
// the keys are valid KV keys.
func convRecordKey(tenant, conv string) string { return "conv." + tenant + "." + conv }
func convRecordFilter(tenant string) string    { return "conv." + tenant + ".*" }
func agentRecordKey(tenant, agent string) string {
	return "agent." + tenant + "." + agent
}
func agentRecordFilter(tenant string) string { return "agent." + tenant + ".*" }
func cursorKey(tenant string) string         { return "cursor." + tenant }

// convRecord is the dispatcher's durable note about a conversation it manages (queued or
// assigned): its place in the queue, which fd_conversations does not hold, and the last
// command applied to it, so a replayed command is not applied twice.
type convRecord struct {
	// Seq is the queue order (lower is older).
	Seq uint64 `json:"seq,omitempty"`
	// Front marks a conversation re-queued ahead of the line.
	Front bool `json:"front,omitempty"`
	// Since is when it joined the queue.
	Since time.Time `json:"since"`
	// Cmd is the stream sequence of the last command applied to it.
	Cmd uint64 `json:"cmd,omitempty"`
	// By and Reason are the actor and reason of the event the record marks as owed (owe), when
	// the conversation does not tell them: who closed it, and why (rebuild.go owedEvent).
	By     *recordActor `json:"by,omitempty"`
	Reason string       `json:"reason,omitempty"`
}

// recordActor is a participant as a record keeps it.
type recordActor struct {
	ID   string `json:"id"`
	Role string `json:"role,omitempty"`
	Name string `json:"name,omitempty"`
}

func actorOf(p *fd.Participant) *recordActor {
	if p == nil {
		return nil
	}
	return &recordActor{ID: p.GetId(), Role: p.GetRole(), Name: p.GetName()}
}

func (a *recordActor) participant() *fd.Participant {
	if a == nil {
		return nil
	}
	return &fd.Participant{Id: a.ID, Role: a.Role, Name: a.Name}
}

// agentRecord is an agent's durable state: the status they chose persists across sessions
// and replicas.
type agentRecord struct {
	Name         string    `json:"name,omitempty"`
	Status       string    `json:"status"`
	MaxChats     int       `json:"max_chats,omitempty"`
	Skills       []string  `json:"skills,omitempty"`
	LastAssigned time.Time `json:"last_assigned"`
	Missed       int       `json:"missed,omitempty"`
}

// loadPrefix reads every current value under filter.
func loadPrefix(ctx context.Context, kv jetstream.KeyValue, filter string) (map[string][]byte, error) {
	w, err := kv.Watch(ctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e := <-w.Updates():
			if e == nil {
				return out, nil
			}
			out[e.Key()] = e.Value()
		}
	}
}

func loadCursor(ctx context.Context, kv jetstream.KeyValue, tenant string) (uint64, error) {
	e, err := kv.Get(ctx, cursorKey(tenant))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// isMismatch reports a failed compare-and-set (Update with a stale revision).
func isMismatch(err error) bool {
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}
