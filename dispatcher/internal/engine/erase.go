package engine

import (
	"time"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// erase decides the erase command the persister sends for each open conversation of a
// customer being erased (GDPR): the conversation closes as it would by its customer or agent
// (out of the line, the agent's slot given back, its participation, open key and record
// dropped, forgotten by the actor), so no queue entry, offer or memory of it outlives the
// erase; the closed event says why. Only a system actor may erase: a customer or an agent
// closes, they do not erase.
func (r rules) erase(cv conversation, c command, now time.Time) decision {
	if c.GetActor().GetRole() != frames.RoleSystem {
		return decision{}
	}
	return r.closeFor(cv, c, frames.ReasonErased, now)
}
