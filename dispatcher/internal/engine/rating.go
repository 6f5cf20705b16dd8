package engine

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// rate decides a customer's rating of their closed conversation (the rate command): at most
// one per conversation, from its customer only, after it closed, on the tenant's scale. The
// rating is written into the conversation (the commit point, so two tabs rating at once make
// one rating: the second meets it and is refused), then the rated event goes to the stream
// for the record and platform consumers, and a rated frame to the agent who held it. The
// conversation's record marks the event as owed until it is stored (owe): a closed
// conversation is not one a takeover visits otherwise, and without its rated event the
// rating is missing from the board (csat.go), the persister and every consumer.
func (r rules) rate(cv conversation, c command, now time.Time) decision {
	actor := c.GetActor()
	if actor.GetRole() != frames.RoleCustomer {
		return decision{} // staff do not rate; the gateway lets only customers ask
	}
	comment := frames.CleanText(c.GetComment())
	if why := frames.RatingRefusal(cv.c, actor.GetId(), r.cfg.GetCsat(), c.GetScore(), comment); why != "" {
		return decision{refusal: frames.ReasonRatingRefused, effects: []effect{sendFrame{user: actor.GetId(),
			f: &fd.ServerFrame{Type: frames.TypeNotice, Conv: cv.c.GetConv(), Reason: frames.ReasonRatingRefused,
				Message: why, Ts: frames.Timestamp(now)}}}}
	}
	next := clone(cv.c)
	next.Rating = &fd.Rating{Score: c.GetScore(), Scale: r.cfg.GetCsat().GetScale(), Comment: comment, At: timestamppb.New(now)}
	effs := []effect{owe{cmd: c.seq}, write{next}, ratedEvent(next, actor)}
	if a := cv.c.GetLastAgent(); a.GetId() != "" {
		effs = append(effs, sendFrame{user: a.GetId(), f: &fd.ServerFrame{Type: frames.TypeRated, Conv: cv.c.GetConv(),
			Customer: cv.c.GetCustomer(), Agent: a, Rating: next.GetRating(), Ts: frames.Timestamp(now)}})
	}
	return decision{effects: effs}
}

// ratedEvent is the rated event of c, rated by actor (its customer): the one builder of the
// event, for the rating (rate) and for a takeover publishing a rating whose event was lost
// (rebuild.go owedEvent), so both make the same event under the same id. It names the agent
// who held the conversation (previous_agent): a new owner counts the day's ratings per agent
// from the events (csat.go), and so can platform consumers. It is dated when the customer
// rated, not when it is published.
func ratedEvent(c *fd.Conversation, actor *fd.Participant) event {
	return event{typ: frames.EventRated, actor: actor, prev: c.GetLastAgent(), at: c.GetRating().GetAt(), owed: true}
}
