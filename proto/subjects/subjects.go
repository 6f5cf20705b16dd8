// Package subjects names every NATS subject, stream, KV bucket and object store of Frontdesk.
//
// It is the only place subject strings are written: services and platform consumers build
// subjects through these functions. Every subject carries the tenant, so NATS permissions and
// subscriptions can isolate tenants. The version token ("v1") changes only with an incompatible
// change of payload; payloads themselves evolve by adding fields (see proto/README.md).
//
// Ids used as subject tokens (tenant, conversation, user, queue, service) must be valid tokens:
// see [ValidToken].
package subjects

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Prefix is the root of every Frontdesk subject.
const Prefix = "fd.v1"

// Stream names.
const (
	// StreamMessages stores every conversation message (payload frontdesk.v1.Message) on
	// Messages(tenant, conv). The stream sequence is the message's `seq` in the client protocol.
	StreamMessages = "FD_MESSAGES"
	// StreamEvents stores conversation lifecycle events (payload frontdesk.v1.ConversationEvent)
	// on Events(tenant, conv).
	StreamEvents = "FD_EVENTS"
	// StreamCommands stores dispatcher commands (payload frontdesk.v1.Command) on
	// ConvCommands(tenant, conv) and AgentCommands(tenant, agent).
	StreamCommands = "FD_COMMANDS"
	// StreamReads keeps the latest read position (payload frontdesk.v1.ReadPosition) per
	// conversation and user on Reads(tenant, conv, user).
	StreamReads = "FD_READS"
	// StreamDeadLetters keeps what consumers could not process (payload frontdesk.v1.DeadLetter)
	// on DeadLetters(service).
	StreamDeadLetters = "FD_DEADLETTERS"
)

// KV bucket and object store names.
const (
	// BucketTenants holds tenant settings: key <tenant>, value frontdesk.v1.Tenant as protojson.
	BucketTenants = "fd_tenants"
	// BucketConversations holds conversation state: key ConversationKey(tenant, conv), value
	// frontdesk.v1.Conversation (protobuf). The KV revision is the ownership fencing token.
	BucketConversations = "fd_conversations"
	// BucketParticipants indexes who takes part in what: key ParticipantKey(tenant, user, conv),
	// value frontdesk.v1.Participant (protobuf) of the user. Listed with ParticipantFilter.
	BucketParticipants = "fd_participants"
	// BucketOpen maps a customer to their open conversation: key OpenKey(tenant, user), value
	// the conversation id. Created with KV Create so one customer has one open conversation
	// across tabs and gateways.
	BucketOpen = "fd_open"
	// BucketDispatcher holds the dispatcher's durable working state (queues, agents, leases).
	BucketDispatcher = "fd_dispatcher"
	// ObjectAttachments stores uploaded files, named by attachment id, with the headers below.
	ObjectAttachments = "fd_attachments"
)

// EventID is the id (and Nats-Msg-Id) of the dispatcher's lifecycle event of type typ that moved
// conversation conv of tenant to revision rev of its KV entry: "<tenant>.<conv>.<rev>.<type>".
// The same decision retried makes the same id, so JetStream drops the copy.
func EventID(tenant, conv string, rev uint64, typ string) string {
	return tenant + "." + conv + "." + strconv.FormatUint(rev, 10) + "." + typ
}

// Durable consumers of the streams, shared by every replica of their service. Their names are
// part of the contract: the NATS permissions grant each service its own by name.
const (
	DurablePersisterMessages = "persister-messages"
	DurablePersisterEvents   = "persister-events"
	DurablePersisterReads    = "persister-reads"
	DurableAIBridge          = "aibridge"
)

// Headers of an object in ObjectAttachments. A reader checks AttachmentTenant before serving an
// object: attachment ids are unguessable but not secret.
const (
	// AttachmentTenant is the tenant the file was uploaded to.
	AttachmentTenant = "Frontdesk-Tenant"
	// AttachmentConv is the conversation it belongs to.
	AttachmentConv = "Frontdesk-Conv"
	// AttachmentUploader is the user who uploaded it.
	AttachmentUploader = "Frontdesk-Uploader"
	// AttachmentType is its sniffed MIME type.
	AttachmentType = "Content-Type"
)

// ErrBadToken is returned for an id that cannot be a subject token.
var ErrBadToken = errors.New("invalid subject token")

// maxToken bounds ids so subjects stay short and indexes small.
const maxToken = 128

// ValidToken reports whether s can be used as one subject token: 1 to 128 characters of ASCII
// letters, digits, '-' and '_'. Dots, wildcards, spaces and control characters are refused so
// that no id can escape its place in a subject.
func ValidToken(s string) bool {
	if len(s) == 0 || len(s) > maxToken {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// CheckTokens returns an error wrapping ErrBadToken naming the first invalid id.
func CheckTokens(ids ...string) error {
	for _, id := range ids {
		if !ValidToken(id) {
			return fmt.Errorf("%w: %q", ErrBadToken, id)
		}
	}
	return nil
}

func join(parts ...string) string { return strings.Join(parts, ".") }

// Messages is the subject of a conversation's messages (stream StreamMessages); gateways push
// new messages to sockets from its republished copy, Deliver. Publisher: gateway (customer and
// agent messages), aibridge (bot messages), dispatcher (system notices).
func Messages(tenant, conv string) string { return join(Prefix, "msg", tenant, conv) }

// AllMessages matches every conversation's messages of every tenant (stream binding).
func AllMessages() string { return join(Prefix, "msg", ">") }

// TenantMessages matches every conversation's messages of one tenant.
func TenantMessages(tenant string) string { return join(Prefix, "msg", tenant, "*") }

// Deliver is the core NATS subject on which the messages stream republishes every stored message
// of a conversation, with the headers Nats-Sequence (the message's seq) and Nats-Last-Sequence
// (the previous stored message on the same conversation, 0 for none), so a subscriber can push
// live messages with their seq and detect a gap (then recover with an ordered consumer). This is
// how gateways follow conversations: a core subscription costs the server far less than a
// consumer per conversation. Publisher: the FD_MESSAGES stream itself (RePublish).
func Deliver(tenant, conv string) string { return join(Prefix, "deliver", tenant, conv) }

// AllDeliver matches every republished message (the stream's RePublish destination).
func AllDeliver() string { return join(Prefix, "deliver", ">") }

// Events is the subject of a conversation's lifecycle events (stream StreamEvents).
// Publisher: dispatcher only (`opened` too, when it reads the gateway's open command); the
// persister for an erase's `erased` (Erased).
func Events(tenant, conv string) string { return join(Prefix, "evt", tenant, conv) }

// AllEvents matches every lifecycle event (stream binding).
func AllEvents() string { return join(Prefix, "evt", ">") }

// TenantEvents matches every lifecycle event of one tenant.
func TenantEvents(tenant string) string { return join(Prefix, "evt", tenant, "*") }

// Live is the core NATS subject for what is delivered but not stored in a conversation:
// typing indicators and partial (streamed) bot text, as frontdesk.v1.ServerFrame.
// Publisher: gateway (typing), aibridge (partial text).
func Live(tenant, conv string) string { return join(Prefix, "live", tenant, conv) }

// Reads is the subject of a user's read position in a conversation (stream StreamReads, which
// keeps the latest per subject; gateways also subscribe with core NATS for receipts).
// Publisher: gateway.
func Reads(tenant, conv, user string) string { return join(Prefix, "read", tenant, conv, user) }

// ConvReads matches every read position in one conversation.
func ConvReads(tenant, conv string) string { return join(Prefix, "read", tenant, conv, "*") }

// AllReads matches every read position (stream binding).
func AllReads() string { return join(Prefix, "read", ">") }

// User is the core NATS subject for frames to every session of one user
// (frontdesk.v1.ServerFrame: queued and notice to customers; assigned, offer, notice and rated
// to agents). Publisher: dispatcher only (gateways may not publish here; an agent's suggestion
// comes back to its session in the Assist reply, not on this subject).
func User(tenant, user string) string { return join(Prefix, "user", tenant, user) }

// Session is the core NATS subject for session control of one user across gateways:
// frontdesk.v1.SessionPresence announcements of the user's sessions (when one opens, again
// every ttl_s/3 while other sessions of the user are heard, online=false when it ends), whose
// `at` is when the session opened. A session closes itself when it hears of as many newer live
// sessions as the tenant allows (4003), or of one when the tenant allows one session per user
// (4002). Publisher and consumer: gateway.
func Session(tenant, user string) string { return join(Prefix, "session", tenant, user) }

// Presence is the core NATS subject of session heartbeats (frontdesk.v1.SessionPresence).
// Publisher: gateway. Consumer: dispatcher.
func Presence(tenant, user string) string { return join(Prefix, "presence", tenant, user) }

// AllPresence matches every session heartbeat.
func AllPresence() string { return join(Prefix, "presence", ">") }

// Overview is the core NATS subject of a tenant's queue overview for agents and supervisors
// (frontdesk.v1.ServerFrame of type presence). Publisher: dispatcher.
func Overview(tenant string) string { return join(Prefix, "overview", tenant) }

// ConvCommands is the subject of commands about one conversation (stream StreamCommands,
// frontdesk.v1.Command). Publisher: gateway, aibridge. Consumer: dispatcher.
func ConvCommands(tenant, conv string) string { return join(Prefix, "cmd", "conv", tenant, conv) }

// AgentCommands is the subject of commands about one agent (stream StreamCommands).
// Publisher: gateway. Consumer: dispatcher.
func AgentCommands(tenant, agent string) string {
	return join(Prefix, "cmd", "agent", tenant, agent)
}

// AllCommands matches every command (stream binding).
func AllCommands() string { return join(Prefix, "cmd", ">") }

// Route is the request/reply subject of a tenant's routing hook (frontdesk.v1.RouteRequest ->
// frontdesk.v1.RouteReply). Requester: dispatcher. Responder: a platform team's service.
func Route(tenant string) string { return join(Prefix, "route", tenant) }

// HistoryQuery is the request/reply subject for history pages (frontdesk.v1.HistoryRequest ->
// frontdesk.v1.HistoryReply). Requester: gateway. Responder: persister (queue group).
func HistoryQuery(tenant string) string { return join(Prefix, "query", "history", tenant) }

// ConversationsQuery is the request/reply subject for a user's past conversations
// (frontdesk.v1.ConversationsRequest -> frontdesk.v1.ConversationsReply). Responder: persister.
func ConversationsQuery(tenant string) string {
	return join(Prefix, "query", "conversations", tenant)
}

// UnreadQuery is the request/reply subject for unread counts (frontdesk.v1.UnreadRequest ->
// frontdesk.v1.UnreadReply). Responder: persister.
func UnreadQuery(tenant string) string { return join(Prefix, "query", "unread", tenant) }

// SearchQuery is the request/reply subject for supervisors' full-text search
// (frontdesk.v1.SearchRequest -> frontdesk.v1.SearchReply). Responder: persister.
func SearchQuery(tenant string) string { return join(Prefix, "query", "search", tenant) }

// ReportQuery is the request/reply subject for a tenant's service figures
// (frontdesk.v1.ReportRequest -> frontdesk.v1.ReportReply). Requester: gateway (supervisors).
// Responder: persister.
func ReportQuery(tenant string) string { return join(Prefix, "query", "report", tenant) }

// CannedQuery is the request/reply subject for canned responses (frontdesk.v1.CannedRequest ->
// frontdesk.v1.CannedReply). Requester: gateway. Responder: persister.
func CannedQuery(tenant string) string { return join(Prefix, "query", "canned", tenant) }

// ContactQuery is the request/reply subject for contacts (frontdesk.v1.ContactRequest ->
// frontdesk.v1.ContactReply). Requester: gateway. Responder: persister.
func ContactQuery(tenant string) string { return join(Prefix, "query", "contact", tenant) }

// AllQueries matches every query subject of one kind for every tenant ("history", ...), for
// responders' queue-group subscriptions.
func AllQueries(kind string) string { return join(Prefix, "query", kind, "*") }

// Assist is the request/reply subject for an agent's suggested reply (frontdesk.v1.AssistRequest
// -> frontdesk.v1.AssistReply). Requester: gateway. Responder: aibridge (queue group).
func Assist(tenant, conv string) string { return join(Prefix, "assist", tenant, conv) }

// AllAssist matches every assist request.
func AllAssist() string { return join(Prefix, "assist", ">") }

// DeadLetters is the subject a service dead-letters to (stream StreamDeadLetters,
// frontdesk.v1.DeadLetter).
func DeadLetters(service string) string { return join(Prefix, "dlq", service) }

// AllDeadLetters matches every dead letter (stream binding).
func AllDeadLetters() string { return join(Prefix, "dlq", ">") }

// ConversationKey is the conversations-bucket key of a conversation.
func ConversationKey(tenant, conv string) string { return join(tenant, conv) }

// ParticipantKey is the participants-bucket key of a user's part in a conversation.
func ParticipantKey(tenant, user, conv string) string { return join(tenant, user, conv) }

// ParticipantFilter matches the participants-bucket keys of every conversation of a user.
func ParticipantFilter(tenant, user string) string { return join(tenant, user, "*") }

// OpenKey is the open-bucket key of a customer.
func OpenKey(tenant, user string) string { return join(tenant, user) }

// DedupID is the Nats-Msg-Id of a client's message: the client's frame id scoped to its sender,
// so two users choosing the same id never collide and a retried send is stored once.
func DedupID(tenant, user, clientID string) string {
	return tenant + "/" + user + "/" + clientID
}

// Parsed is a subject split into its Frontdesk parts.
type Parsed struct {
	// Kind is the second token after the prefix: msg, deliver, evt, live, read, user, session, presence,
	// overview, cmd, route, query, assist, dlq, note, notedeliver, board, roster.
	Kind string
	// Tenant is the tenant token, when the kind has one.
	Tenant string
	// Conv is the conversation token, when the kind has one.
	Conv string
	// User is the user (or agent) token, when the kind has one; for an evt subject made by
	// ContactEvents, the contact (and Conv is empty).
	User string
}

// ErrNotFrontdesk is returned by Parse for a subject that is not one of ours.
var ErrNotFrontdesk = errors.New("not a frontdesk subject")

// Parse splits a concrete subject made by this package. Consumers use it to recover the tenant
// and conversation of a delivered message without string handling of their own.
func Parse(subject string) (Parsed, error) {
	t := strings.Split(subject, ".")
	if len(t) < 3 || t[0] != "fd" || t[1] != "v1" {
		return Parsed{}, fmt.Errorf("%w: %q", ErrNotFrontdesk, subject)
	}
	p := Parsed{Kind: t[2]}
	rest := t[3:]
	bad := func() (Parsed, error) { return Parsed{}, fmt.Errorf("%w: %q", ErrNotFrontdesk, subject) }
	switch p.Kind {
	case "evt":
		switch {
		case len(rest) == 2:
			p.Tenant, p.Conv = rest[0], rest[1]
		case len(rest) == 3 && rest[1] == "contact": // ContactEvents
			p.Tenant, p.User = rest[0], rest[2]
		default:
			return bad()
		}
	case "msg", "deliver", "live", "assist", "note", "notedeliver":
		if len(rest) != 2 {
			return bad()
		}
		p.Tenant, p.Conv = rest[0], rest[1]
	case "read":
		if len(rest) != 3 {
			return bad()
		}
		p.Tenant, p.Conv, p.User = rest[0], rest[1], rest[2]
	case "user", "session", "presence":
		if len(rest) != 2 {
			return bad()
		}
		p.Tenant, p.User = rest[0], rest[1]
	case "overview", "route", "board", "roster":
		if len(rest) != 1 {
			return bad()
		}
		p.Tenant = rest[0]
	case "cmd":
		if len(rest) != 3 {
			return bad()
		}
		p.Tenant = rest[1]
		switch rest[0] {
		case "conv":
			p.Conv = rest[2]
		case "agent":
			p.User = rest[2]
		default:
			return bad()
		}
	case "query":
		if len(rest) != 2 {
			return bad()
		}
		p.Tenant = rest[1]
	case "dlq":
		if len(rest) != 1 {
			return bad()
		}
	default:
		return bad()
	}
	return p, nil
}
