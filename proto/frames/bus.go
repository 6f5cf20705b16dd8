package frames

// Values consumers of the streams branch on. The schema's comments name them; these constants
// are their one home in code, so a service or a platform team's consumer never copies a string.

// Command types (dispatch.proto Command.type), on the commands stream.
const (
	// CommandOpen opens a conversation (gateway, a customer's first message).
	CommandOpen = "open"
	// CommandHandoff asks for a human (customer, or the AI bridge).
	CommandHandoff = "handoff"
	// CommandTransfer moves a conversation to another agent or queue.
	CommandTransfer = "transfer"
	// CommandClose ends a conversation.
	CommandClose = "close"
	// CommandAccept and CommandDecline answer an offer.
	CommandAccept  = "accept"
	CommandDecline = "decline"
	// CommandLeaveMessage stores a customer's message for later (closed hours, no agents).
	CommandLeaveMessage = "leave_message"
	// CommandToBot hands a waiting customer back to the assistant.
	CommandToBot = "to_bot"
	// CommandStatus sets an agent available or away (agent commands).
	CommandStatus = "status"
	// CommandLabel adds or removes one of the tenant's labels (Command.label, Command.remove).
	CommandLabel = "label"
)

// Event types (conversation.proto ConversationEvent.type), on the events stream.
const (
	EventOpened      = "opened"
	EventQueued      = "queued"
	EventAssigned    = "assigned"
	EventTransferred = "transferred"
	EventRequeued    = "requeued"
	EventClosed      = "closed"
	EventState       = "state"
	EventMessageLeft = "message_left"
	// EventLabeled says a conversation's labels changed (ConversationEvent.labels after it,
	// ConversationEvent.label the one added or removed).
	EventLabeled = "labeled"
)

// Reasons of events, notices and state frames.
const (
	ReasonAgentOffline     = "agent_offline"
	ReasonTransfer         = "transfer"
	ReasonOfferTimeout     = "offer_timeout"
	ReasonOutsideHours     = "outside_hours"
	ReasonNoAgents         = "no_agents"
	ReasonMaxWait          = "max_wait"
	ReasonClosedByAgent    = "closed_by_agent"
	ReasonClosedByCustomer = "closed_by_customer"
	ReasonToBot            = "to_bot"
	// ReasonBotUnavailable refuses to_bot when the tenant's bot is off.
	ReasonBotUnavailable = "bot_unavailable"
	// ReasonTransferRefused refuses a transfer (target offline or unknown).
	ReasonTransferRefused = "transfer_refused"
	// ReasonAgentAway refuses a transfer to an agent who set themselves away.
	ReasonAgentAway = "agent_away"
	// ReasonAwayMissedOffers tells an agent they were set away after unanswered offers.
	ReasonAwayMissedOffers = "away_missed_offers"
	// ReasonOpened is the state frame's reason when a send opened a conversation.
	ReasonOpened = "opened"
	// ReasonLabelAdded and ReasonLabelRemoved are a labeled event's reasons.
	ReasonLabelAdded   = "label_added"
	ReasonLabelRemoved = "label_removed"
)

// HeaderBotOutcome is the NATS header on each stored bot reply saying how the AI bridge judged
// its own answer (one of the BotOutcome values); consumers (reports, analytics) read it.
const HeaderBotOutcome = "Fd-Bot-Outcome"

// BotOutcome values of HeaderBotOutcome.
const (
	BotOutcomeAnswered   = "answered"
	BotOutcomeUnanswered = "unanswered"
	BotOutcomeHandoff    = "handoff"
)
