package engine

import (
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Agents' status events (frontdesk.v1.AgentStatusEvent): the dispatcher owns each agent's
// status, load and capacity, so it states them for reports (the persister turns them into time
// available, away and occupancy) and for platform consumers. Stated in the coalesced round
// when they changed, at takeover (the new owner knows nothing was stated), and restated every
// occupancyRestate while the agent is connected, so any window of two restatements holds every
// connected agent's state (the persister's report reads back that far).

// occupancyRestate is how often a connected agent's unchanged state is stated again. The
// persister reads events back twice as far before a report's range (store/reports_occupancy.go).
const occupancyRestate = time.Hour

// agentState is what an agent status event states.
type agentState struct {
	status, name   string
	load, capacity int
	at             time.Time // when it was stated
}

// sameState reports whether a and b state the same thing (the time aside).
func sameState(a, b agentState) bool {
	return a.status == b.status && a.load == b.load && a.capacity == b.capacity
}

// agentStatements decides which agents' states to state at now: those that changed since the
// last statement, were never stated, or, when connected, were last stated occupancyRestate
// ago. prev is what was stated; rows what the actor holds now.
func agentStatements(prev map[string]agentState, rows []agentRow, now time.Time) map[string]agentState {
	out := map[string]agentState{}
	for _, r := range rows {
		cur := agentState{status: r.status, name: r.name, load: r.load, capacity: r.capacity, at: now}
		p, ok := prev[r.id]
		switch {
		case !ok, !sameState(p, cur):
		case r.status != frames.StatusOffline && now.Sub(p.at) >= occupancyRestate:
		default:
			continue
		}
		out[r.id] = cur
	}
	return out
}

// agentRows are the actor's agents as the board shows them.
func (t *tenant) agentRows() []agentRow {
	var rows []agentRow
	t.d.Agents.Each(func(a *assign.Agent) {
		status := a.Status
		if !a.Online() {
			status = frames.StatusOffline
		}
		rows = append(rows, agentRow{id: a.ID, name: a.Name, status: status, load: a.Load(), capacity: t.d.Agents.Capacity(a)})
	})
	return rows
}

// occupancyRetry is the pause after a statement JetStream refused: the round goes on, and the
// next statements wait rather than pile up during an outage.
const occupancyRetry = 5 * time.Second

// statement is a published statement whose acknowledgement has not been looked at yet.
type statement struct {
	st  agentState
	ack jetstream.PubAckFuture
}

// publishAgentStatus states what agentStatements decides, without waiting in the round: each
// statement is published asynchronously and taken as stated once JetStream acknowledged it
// (looked at in a later round). A statement JetStream refused is made again after
// occupancyRetry (with that round's time): the report counts the previous state a little
// longer rather than losing the change.
func (t *tenant) publishAgentStatus(now time.Time) {
	if t.stated == nil {
		t.stated, t.statements = map[string]agentState{}, map[string]statement{}
	}
	for id, p := range t.statements {
		select {
		case <-p.ack.Ok():
			t.stated[id] = p.st
		case err := <-p.ack.Err():
			t.log.Debug("agent status event waits", zap.String("agent", id), zap.Error(err))
			t.statedRetry = now.Add(occupancyRetry)
		default:
			continue // not acknowledged yet
		}
		delete(t.statements, id)
	}
	if now.Before(t.statedRetry) {
		return
	}
	for id, st := range agentStatements(t.stated, t.agentRows(), now) {
		if _, waiting := t.statements[id]; waiting || !subjects.ValidToken(id) {
			continue
		}
		evID := t.id + "." + id + "." + strconv.FormatInt(now.UnixNano(), 36)
		data, _ := proto.Marshal(&fd.AgentStatusEvent{Id: evID, Tenant: t.id, Agent: id, Name: st.name, Status: st.status,
			Load: int32(st.load), Capacity: int32(st.capacity), At: timestamppb.New(now)})
		msg := nats.NewMsg(subjects.AgentStatus(t.id, id))
		msg.Data = data
		ack, err := t.e.js.PublishMsgAsync(msg, jetstream.WithMsgID(evID))
		if err != nil {
			t.log.Debug("agent status event waits", zap.String("agent", id), zap.Error(err))
			t.statedRetry = now.Add(occupancyRetry)
			return
		}
		t.statements[id] = statement{st: st, ack: ack}
	}
}
