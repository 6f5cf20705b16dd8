package subjects

// The agent workspace's subjects: private notes, the supervisor's board and the staff roster.
// Notes live apart from conversation messages on purpose: no subject a customer's session
// follows (Deliver, Live, Events, User...) and no filter a customer's sync or history uses
// (Messages) can match one, so a note cannot reach a customer by mistake of a filter.

// StreamNotes stores private notes (payload frontdesk.v1.Message) on Notes(tenant, conv), and
// republishes each on NoteDeliver(tenant, conv) with its sequence in Nats-Sequence.
const StreamNotes = "FD_NOTES"

// DurablePersisterNotes is the persister's durable consumer of StreamNotes.
const DurablePersisterNotes = "persister-notes"

// Notes is the subject of a conversation's private notes (stream StreamNotes).
// Publisher: gateway (agents' and supervisors' note frames).
func Notes(tenant, conv string) string { return join(Prefix, "note", tenant, conv) }

// AllNotes matches every note (stream binding).
func AllNotes() string { return join(Prefix, "note", ">") }

// NoteDeliver is where StreamNotes republishes a stored note, with headers Nats-Sequence.
// Gateways follow it for staff sessions only. Publisher: the FD_NOTES stream (RePublish).
func NoteDeliver(tenant, conv string) string { return join(Prefix, "notedeliver", tenant, conv) }

// AllNoteDeliver matches every republished note (the stream's RePublish destination).
func AllNoteDeliver() string { return join(Prefix, "notedeliver", ">") }

// NotesQuery is the request/reply subject of staff's full-text search of notes
// (frontdesk.v1.NotesSearchRequest -> frontdesk.v1.NotesSearchReply). Requester: gateway.
// Responder: persister (queue group).
func NotesQuery(tenant string) string { return join(Prefix, "query", "notes", tenant) }

// Board is the core NATS subject of a tenant's live board for supervisors
// (frontdesk.v1.ServerFrame of type board). Publisher: dispatcher (coalesced, on change).
func Board(tenant string) string { return join(Prefix, "board", tenant) }

// Roster is the core NATS subject of a tenant's agents and queues with their load, for every
// staff session's transfer picker (frontdesk.v1.ServerFrame of type roster). Publisher:
// dispatcher (coalesced, on change).
func Roster(tenant string) string { return join(Prefix, "roster", tenant) }
