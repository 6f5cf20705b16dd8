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
	// CommandRate is a customer's rating of their closed conversation.
	CommandRate = "rate"
	// CommandLabel adds or removes a label (Command.label, Command.remove).
	CommandLabel = "label"
	// CommandTranscript asks for the transcript by email (the dispatcher publishes
	// transcript_requested).
	CommandTranscript = "transcript"
	// CommandErase closes a conversation whose customer is being erased (GDPR) and makes the
	// dispatcher forget it: no queue entry, offer or agent slot is left. Only a system actor
	// (the persister's erase) may send it.
	CommandErase = "erase"
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
	// EventRated carries a customer's rating of a closed conversation (ConversationEvent.rating).
	EventRated = "rated"
	// EventLabeled says a conversation's labels changed (ConversationEvent.labels after it,
	// ConversationEvent.label the one added or removed).
	EventLabeled = "labeled"
	// EventSLAAtRisk and EventSLABreached: a service-level target of the conversation is near
	// (the policy's warn_ratio of it has passed) or has passed; reason is the target
	// (SLAFirstResponse, SLAResolution), due_at when it passes. Each is published at most once
	// per conversation and target (its id does not depend on the revision).
	EventSLAAtRisk   = "sla_at_risk"
	EventSLABreached = "sla_breached"
	// EventTranscriptRequested: the customer (or an agent for them) asked for the transcript by
	// email, sent at the close to the event's email.
	EventTranscriptRequested = "transcript_requested"
	// EventOfferDeclined and EventOfferMissed: the event's agent declined an offer of the
	// conversation, or let it expire (tenants with offer/accept routing).
	EventOfferDeclined = "offer_declined"
	EventOfferMissed   = "offer_missed"
	// EventErased: a customer was erased everywhere Frontdesk keeps data (GDPR). Published once
	// per erase on Events(tenant, ConversationEvent.erasure) after everything is removed, with
	// the customer and the erased conversations (ConversationEvent.erased_convs), so platform
	// consumers erase their own copies. Its conv is empty; the record keeps no row of it.
	EventErased = "erased"
	// EventContactLabeled says a contact's own labels changed (a staff member's contact_label
	// frame). Published by the persister once the change is stored, on
	// subjects.ContactEvents(tenant, contact): customer is the contact, labels its labels after
	// the change (sorted), label the one added or removed, reason ReasonLabelAdded or
	// ReasonLabelRemoved, actor who changed them, revision the contact's label revision (it
	// grows by one per change: keep the highest). Its conv is empty; the record keeps no row
	// of it (the contact row is the record).
	EventContactLabeled = "contact_labeled"
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
	// ReasonRatingRefused refuses a rate command: not the conversation's customer, not closed,
	// already rated, a score off the tenant's scale, or a tenant that asks for no rating.
	ReasonRatingRefused = "rating_refused"
	// ReasonLabelAdded and ReasonLabelRemoved are a labeled event's reasons.
	ReasonLabelAdded   = "label_added"
	ReasonLabelRemoved = "label_removed"
	// ReasonErased is the closed event's reason when the dispatcher closed a conversation
	// because its customer is being erased (CommandErase).
	ReasonErased = "erased"
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
