package engine

import (
	"cmp"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/assign"
	"github.com/frontdesk-chat/frontdesk/dispatcher/internal/queue"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// The supervisor's live board and the staff roster: what the actor already knows (the line,
// the conversations it manages, the agents with their sessions and load) as one picture per
// tenant, published on the tenant's own subjects (subjects.Board for supervisors,
// subjects.Roster for every staff session's transfer picker) when it changes, in the coalesced
// round, so consoles follow it live without polling.

// boardView is what makeBoard reads: plain values, so the board is a pure function of them.
type boardView struct {
	queues  []string // the tenant's queues, in its order
	waiting []waitingRow
	held    []*fd.Conversation // assigned conversations
	agents  []agentRow
}

type waitingRow struct {
	e   queue.Entry
	pos int
	c   *fd.Conversation // nil when the actor holds no record of it
}

type agentRow struct {
	id, name, status string
	load, capacity   int
	skills           []string
	routable         bool
}

// makeBoard is the tenant's board: waiting conversations in line order, then assigned ones by
// assignment time; agents by name; queues in the tenant's order (then any other a conversation
// waits in).
func makeBoard(v boardView) *fd.Board {
	b := &fd.Board{}
	waiting := map[string]*fd.BoardQueue{}
	queueOf := func(name string) *fd.BoardQueue {
		q := waiting[name]
		if q == nil {
			q = &fd.BoardQueue{Name: name}
			waiting[name] = q
			b.Queues = append(b.Queues, q)
		}
		return q
	}
	for _, name := range v.queues {
		queueOf(name)
	}
	for _, w := range v.waiting {
		row := &fd.BoardConversation{Conv: w.e.Conv, State: frames.StateQueued, CustomerId: w.e.Customer, Queue: w.e.Queue,
			Priority: w.e.Priority, Since: timestamppb.New(w.e.Since), Position: int32(w.pos)}
		if w.c != nil {
			row.CustomerName = w.c.GetCustomer().GetName()
		}
		b.Conversations = append(b.Conversations, row)
		q := queueOf(w.e.Queue)
		q.Waiting++
		if q.Oldest == nil || w.e.Since.Before(q.Oldest.AsTime()) {
			q.Oldest = timestamppb.New(w.e.Since)
		}
	}
	held := slices.Clone(v.held)
	slices.SortFunc(held, func(x, y *fd.Conversation) int {
		return cmp.Or(x.GetAssignedAt().AsTime().Compare(y.GetAssignedAt().AsTime()), cmp.Compare(x.GetConv(), y.GetConv()))
	})
	for _, c := range held {
		b.Conversations = append(b.Conversations, &fd.BoardConversation{Conv: c.GetConv(), State: frames.StateAssigned,
			CustomerId: c.GetCustomer().GetId(), CustomerName: c.GetCustomer().GetName(), AgentId: c.GetAgent().GetId(),
			AgentName: c.GetAgent().GetName(), Queue: c.GetQueue(), Priority: c.GetPriority(), Since: c.GetAssignedAt()})
	}
	for _, a := range v.agents {
		b.Agents = append(b.Agents, &fd.BoardAgent{Id: a.id, Name: a.name, Status: a.status, Load: int32(a.load),
			Capacity: int32(a.capacity), Skills: a.skills, Routable: a.routable})
	}
	slices.SortFunc(b.Agents, func(x, y *fd.BoardAgent) int {
		return cmp.Or(cmp.Compare(cmp.Or(x.GetName(), x.GetId()), cmp.Or(y.GetName(), y.GetId())), cmp.Compare(x.GetId(), y.GetId()))
	})
	return b
}

// roster is the part of a board every staff session may see: agents and queues, no customers.
func roster(b *fd.Board) *fd.Board {
	return &fd.Board{Agents: b.GetAgents(), Queues: b.GetQueues(), At: b.GetAt()}
}

// boardView reads the actor's state.
func (t *tenant) boardView() boardView {
	var v boardView
	for _, q := range t.cfg.GetQueues() {
		v.queues = append(v.queues, q.GetName())
	}
	t.d.Q.Each(func(e *queue.Entry, pos int) bool {
		w := waitingRow{e: *e, pos: pos}
		if cs := t.convs[e.Conv]; cs != nil {
			w.c = cs.c
		}
		v.waiting = append(v.waiting, w)
		return true
	})
	for _, cs := range t.convs {
		if cs.c.GetState() == frames.StateAssigned {
			v.held = append(v.held, cs.c)
		}
	}
	t.d.Agents.Each(func(a *assign.Agent) {
		status := a.Status
		if !a.Online() {
			status = frames.StatusOffline
		}
		v.agents = append(v.agents, agentRow{id: a.ID, name: a.Name, status: status, load: a.Load(),
			capacity: t.d.Agents.Capacity(a), skills: a.Skills, routable: t.d.Agents.Routable(a)})
	})
	return v
}

// publishBoard sends the board and the roster when they changed since the last ones sent, and
// every ten rounds anyway (a console that just connected, on a gateway that did not follow the
// subject yet, catches up). Best effort, like the overview: the next round tries again.
func (t *tenant) publishBoard(now time.Time) {
	b := makeBoard(t.boardView())
	decorate(b, t.boardExtras(now)) // slaboard.go
	if t.lastBoard != nil && proto.Equal(b, t.lastBoard) && now.Sub(t.boardAt) < 10*t.e.set.Coalesce {
		return
	}
	stamped := proto.Clone(b).(*fd.Board)
	stamped.At = timestamppb.New(now)
	for subject, f := range map[string]*fd.ServerFrame{
		subjects.Board(t.id):  {Type: frames.TypeBoard, Board: stamped},
		subjects.Roster(t.id): {Type: frames.TypeRoster, Board: rosterOf(stamped)},
	} {
		data, _ := proto.Marshal(f)
		if err := t.e.nc.Publish(subject, data); err != nil {
			return
		}
	}
	t.lastBoard, t.boardAt = b, now
}
