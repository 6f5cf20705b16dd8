// Package frames is the client protocol of PROTOCOL.md in code: the frame, kind, role, state,
// error and close-code names, and the two encodings of frontdesk.v1.ClientFrame and
// frontdesk.v1.ServerFrame (JSON text for subprotocol frontdesk.v1.json, protobuf binary for
// frontdesk.v1.proto).
package frames

// Subprotocols negotiated on GET /v1/ws.
const (
	// SubprotocolJSON carries frames as JSON text messages (the default).
	SubprotocolJSON = "frontdesk.v1.json"
	// SubprotocolProto carries the same frames as protobuf binary messages.
	SubprotocolProto = "frontdesk.v1.proto"
)

// Client frame types.
const (
	TypeSend     = "send"
	TypeSync     = "sync"
	TypeHistory  = "history"
	TypeTyping   = "typing"
	TypeRead     = "read"
	TypeHandoff  = "handoff"
	TypeStatus   = "status"
	TypeTransfer = "transfer"
	TypeClose    = "close"
	TypePing     = "ping"
	// TypeAssist asks the AI bridge for a suggested reply (agents); answered by TypeSuggestion.
	TypeAssist = "assist"
	// TypeAccept takes a conversation offered to the agent (tenants with offer/accept routing).
	TypeAccept = "accept"
	// TypeDecline refuses an offered conversation; it goes to the next agent.
	TypeDecline = "decline"
	// TypeLeaveMessage is a customer's answer to a notice offering to leave a message: the
	// conversation stays queued for agents to see when they come online (customers only).
	TypeLeaveMessage = "leave_message"
	// TypeToBot is a customer's answer to a notice offering to go back to the assistant
	// (customers only).
	TypeToBot = "to_bot"
	// TypeLabel adds or removes a tenant-defined label on a conversation (agents on it,
	// supervisors); the dispatcher decides, and the conversation's staff get TypeLabels.
	TypeLabel = "label"
	// TypeCanned lists the caller's canned responses (shared and personal); answered by a
	// TypeCanned server frame.
	TypeCanned = "canned"
	// TypeCannedSave creates or changes a canned response (shared ones: supervisors only).
	TypeCannedSave = "canned_save"
	// TypeCannedDelete deletes a canned response.
	TypeCannedDelete = "canned_delete"
	// TypeSearch searches past conversations (agents: those they took part in; supervisors:
	// the tenant's); answered by a TypeSearch server frame with hits.
	TypeSearch = "search"
	// TypeContact reads a contact with their past conversations; answered by TypeContact.
	TypeContact = "contact"
	// TypeContactUpdate changes a contact's name, email, phone or notes (staff).
	TypeContactUpdate = "contact_update"
	// TypePrechat is a visitor's answers to the tenant's pre-chat form (customers).
	TypePrechat = "prechat"
	// TypeContactLabel adds one of the tenant's labels to a contact, or removes it with remove
	// (staff); answered by a contact frame.
	TypeContactLabel = "contact_label"
	// TypeNote writes a private note in a conversation (agents and supervisors); staff sessions
	// following it get it as a note frame, customers never.
	TypeNote = "note"
	// TypeNotes asks for a conversation's notes, answered by a notes frame (staff only).
	TypeNotes = "notes"
	// TypeRate rates a closed conversation (its customer, once; score, optional comment).
	TypeRate = "rate"
	// TypeTranscript asks for the conversation's transcript by email (customer, or staff for
	// the customer), sent when the conversation closes.
	TypeTranscript = "transcript"
)

// Server frame types (TypeTyping, TypeRead and TypeHistory are shared with the client side).
const (
	TypeWelcome  = "welcome"
	TypeAck      = "ack"
	TypeMessage  = "message"
	TypeQueued   = "queued"
	TypeAssigned = "assigned"
	TypeState    = "state"
	TypeSynced   = "synced"
	TypePresence = "presence"
	TypePong     = "pong"
	TypeError    = "error"
	// TypeSuggestion carries an AI-assist suggested reply to one agent.
	TypeSuggestion = "suggestion"
	// TypeNotice tells a customer something about the service (outside hours, no agents, max
	// wait) with the actions they can take.
	TypeNotice = "notice"
	// TypeOffer offers a waiting conversation to an agent, who answers accept or decline
	// within eta_s seconds (tenants with offer/accept routing).
	TypeOffer = "offer"
	// TypeLabels carries a conversation's labels after a change (staff following it).
	TypeLabels = "labels"
	// TypeRated tells the conversation's agent and supervisors its customer's rating.
	TypeRated = "rated"
	// TypeBoard is the supervisor's live picture of the tenant: waiting and assigned
	// conversations, the agents with their load, the queues (supervisors only).
	TypeBoard = "board"
	// TypeRoster is the agents and queues with their load, for the transfer picker (staff): as a
	// client frame it starts following the roster (remove: stops), roster frames follow while it
	// lasts (PROTOCOL.md).
	TypeRoster = "roster"
	// TypeSLA tells agents and supervisors that a conversation is at risk of breaching a
	// service-level target, or breached it (state: SLAAtRisk, SLABreached; reason: the target).
	TypeSLA = "sla"
)

// Message kinds.
const (
	KindText  = "text"
	KindImage = "image"
	KindAudio = "audio"
	KindFile  = "file"
	// KindTranscript is the text of a voice message (reply_to names it), made by the AI
	// bridge's speech-to-text; from the bot participant.
	KindTranscript = "transcript"
)

// Roles.
const (
	RoleCustomer   = "customer"
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
	RoleBot        = "bot"
	RoleSystem     = "system"
)

// Conversation states.
const (
	StateBot      = "bot"
	StateQueued   = "queued"
	StateAssigned = "assigned"
	StateClosed   = "closed"
)

// Agent statuses.
const (
	StatusAvailable = "available"
	StatusAway      = "away"
	StatusOffline   = "offline"
)

// Error codes.
const (
	CodeBadFrame            = "bad_frame"
	CodeUnknownConversation = "unknown_conversation"
	CodeForbidden           = "forbidden"
	CodeTooLarge            = "too_large"
	CodeRateLimited         = "rate_limited"
	CodeInternal            = "internal"
	// CodeQuotaExceeded refuses a send past the tenant's messages_per_day quota (and, as
	// {"error":"quota_exceeded"} with HTTP 507, an upload past attachment_bytes).
	CodeQuotaExceeded = "quota_exceeded"
	// CodeOverloaded refuses a frame the gateway could not take on without queueing it beyond
	// its bounds (too many stores in flight, or more new messages than its admission rate):
	// nothing was stored; retry the same frame, with the same id, after a jittered backoff.
	CodeOverloaded = "overloaded"
)

// Close codes beyond RFC 6455's.
const (
	CloseNormal          = 1000
	ClosePolicyViolation = 1008
	CloseTooBig          = 1009
	CloseServerError     = 1011
	CloseRestarting      = 1012
	// CloseTryAgainLater ends an upgrade the gateway could not take on now (too many sessions
	// opening at once): reconnect after a backoff, over WebSocket as before.
	CloseTryAgainLater   = 1013
	CloseTokenExpired    = 4001
	CloseSessionReplaced = 4002
	// CloseTooManyConnections closes the oldest sessions of a user who holds more than the
	// tenant's max_connections_per_user across all gateways. Clients should not reconnect by
	// themselves: the new connection would close another of the user's sessions.
	CloseTooManyConnections = 4003
)

// Notice actions offered to a customer.
const (
	ActionLeaveMessage = "leave_message"
	ActionBot          = "bot"
	ActionHuman        = "human"
)

// How streamed bot text reaches a client (PROTOCOL.md, Streamed replies). A client that connects
// with QueryPartials=PartialsDelta (GET /v1/ws?partials=delta, the same on GET /v1/sse) gets
// every partial frame: keyframes holding the whole text so far (text set, no delta) and deltas
// to append (delta set, no text), each numbered by part. Any other client gets the keyframes
// only, so a client written before deltas existed keeps showing the reply growing, in larger
// steps.
const (
	// QueryPartials is the connect query parameter naming the partials a client takes.
	QueryPartials = "partials"
	// PartialsDelta asks for deltas as well as keyframes.
	PartialsDelta = "delta"
)

// QueryPage is the connect query parameter (GET /v1/ws, GET /v1/sse) by which a customer's
// widget says which page of the tenant's site it is on; the contact keeps the last few pages
// (without query or fragment) for agents. Optional; anything but an http(s) URL is ignored.
const QueryPage = "page"

// CSAT scales (Tenant.csat.scale).
const (
	// ScaleFive rates 1 to 5.
	ScaleFive = "five"
	// ScaleThumbs rates 1 (down) or 2 (up).
	ScaleThumbs = "thumbs"
)

// Service levels: the state of an sla frame and, as its reason and the reason of the
// sla_at_risk and sla_breached events, the target concerned.
const (
	SLAAtRisk        = "at_risk"
	SLABreached      = "breached"
	SLAFirstResponse = "first_response"
	SLAResolution    = "resolution"
)
