package engine

import "errors"

// Names the dispatcher shares with the contract. They are copied from the schema's comments
// until proto/ defines them (issue 17, item 1); transitions.go lists the ones it decides on.

// Command types (proto/frontdesk/v1/dispatch.proto).
const (
	cmdOpen         = "open"
	cmdHandoff      = "handoff"
	cmdTransfer     = "transfer"
	cmdClose        = "close"
	cmdAccept       = "accept"
	cmdDecline      = "decline"
	cmdLeaveMessage = "leave_message"
	cmdToBot        = "to_bot"
	cmdStatus       = "status"
)

// Event types (proto/frontdesk/v1/conversation.proto).
const (
	evQueued      = "queued"
	evAssigned    = "assigned"
	evTransferred = "transferred"
	evRequeued    = "requeued"
	evClosed      = "closed"
	evState       = "state"
	evMessageLeft = "message_left"
)

// Reasons.
const (
	reasonAgentOffline   = "agent_offline"
	reasonTransfer       = "transfer"
	reasonOfferTimeout   = "offer_timeout"
	reasonOutsideHours   = "outside_hours"
	reasonNoAgents       = "no_agents"
	reasonMaxWait        = "max_wait"
	reasonClosedByAgent  = "closed_by_agent"
	reasonClosedCustomer = "closed_by_customer"
	reasonToBot          = "to_bot"
	// reasonBotUnavailable refuses a customer's to_bot when the tenant's bot is off (a notice
	// sent before the bot was turned off, or a client that ignored the notice's actions).
	reasonBotUnavailable = "bot_unavailable"
	reasonTransferRefuse = "transfer_refused"
	// reasonAgentAway refuses a transfer to an agent who set themselves away: a reason of its
	// own, so a client can say why in its language.
	reasonAgentAway = "agent_away"
	// reasonAwayMissedOffers tells an agent the dispatcher set them away after unanswered offers.
	reasonAwayMissedOffers = "away_missed_offers"
)

var (
	errConflict = errors.New("conversation changed concurrently")
	errStale    = errors.New("conversation no longer queued")
)
