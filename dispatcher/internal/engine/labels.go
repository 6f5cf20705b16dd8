package engine

import (
	"slices"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Labels: a label command adds or removes one of the tenant's labels on a conversation. It is
// a transition like the others (pure, decided from the conversation, the command and the
// tenant's settings) so the dispatcher, the only publisher of FD_EVENTS, announces every
// change as a `labeled` event that platform consumers and the persister read.

// label decides a label command. The caller must be the agent holding the conversation or a
// supervisor of the tenant (the gateway checked the tenant; the subject binds it), and the
// label one the tenant defines. Adding a label the conversation has, or removing one it has
// not, changes nothing and publishes nothing, so a retried command is harmless.
func (r rules) label(cv conversation, c command) decision {
	name := c.GetLabel()
	if !r.labelDefined(name) {
		return decision{refusal: "unknown_label"}
	}
	actor := c.GetActor()
	switch actor.GetRole() {
	case frames.RoleSupervisor:
	case frames.RoleAgent:
		if cv.c.GetState() != frames.StateAssigned || cv.c.GetAgent().GetId() != actor.GetId() {
			return decision{refusal: "not_holder"}
		}
	default:
		return decision{refusal: "not_staff"}
	}
	has := slices.Contains(cv.c.GetLabels(), name)
	if has != c.GetRemove() {
		return decision{}
	}
	next := clone(cv.c)
	reason := frames.ReasonLabelAdded
	if c.GetRemove() {
		reason = frames.ReasonLabelRemoved
		next.Labels = slices.DeleteFunc(next.Labels, func(l string) bool { return l == name })
	} else {
		if len(next.Labels) >= frames.MaxConversationLabels {
			return decision{refusal: "too_many_labels"}
		}
		next.Labels = append(next.Labels, name)
		slices.Sort(next.Labels)
	}
	return decision{effects: []effect{write{next}, event{typ: frames.EventLabeled, reason: reason, actor: actor, label: name}}}
}

// labelDefined reports whether the tenant defines a label of that name.
func (r rules) labelDefined(name string) bool {
	if name == "" {
		return false
	}
	return slices.ContainsFunc(r.cfg.GetLabels(), func(l *fd.LabelDefinition) bool { return l.GetName() == name })
}
