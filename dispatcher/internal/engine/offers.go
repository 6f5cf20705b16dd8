package engine

import (
	"context"
	"strconv"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// announceOffer publishes that agent declined an offer of the conversation or let it expire
// (offer_declined, offer_missed), for the reports' per-agent figures. It changes no state; the
// id names the moment, since the same agent may be offered the same conversation again.
func (t *tenant) announceOffer(ctx context.Context, cs *convState, agent, typ string, now time.Time) {
	if cs == nil || agent == "" {
		return
	}
	conv := cs.c.GetConv()
	id := subjects.EventID(t.id, conv, 0, typ+"."+agent+"."+strconv.FormatInt(now.UnixNano(), 36))
	p := &fd.Participant{Id: agent, Role: "agent"}
	if a := t.d.Agents.Get(agent); a != nil {
		p = participant(a)
	}
	ev := &fd.ConversationEvent{Id: id, Tenant: t.id, Conv: conv, Type: typ, State: cs.c.GetState(), Revision: cs.rev,
		Customer: cs.c.GetCustomer(), Agent: p, Actor: p, Queue: cs.c.GetQueue(), At: timestamppb.New(now)}
	data, err := proto.Marshal(ev)
	if err != nil {
		return
	}
	if err := t.sendEvent(ctx, pendingEvent{conv: conv, id: id, typ: typ, data: data}); err != nil {
		t.log.Debug("offer event waits", zap.String("conv", conv), zap.Error(err))
	}
}
