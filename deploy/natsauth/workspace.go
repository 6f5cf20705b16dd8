package natsauth

import "github.com/frontdesk-chat/frontdesk/proto/subjects"

// The agent workspace's grants (private notes, the supervisor's board and roster), kept here
// so the services' lists above stay as they were.

func init() {
	Durables[Persister] = append(Durables[Persister], Consumer{subjects.StreamNotes, subjects.DurablePersisterNotes})
}

// workspace adds the workspace's grants of service to b.
func workspace(service string, b *builder) {
	const any = "*"
	switch service {
	case Gateway:
		// Notes are written by staff through the gateway, read back with ordered consumers
		// (a conversation's notes) and followed on their republished copies by staff sessions.
		b.publish(subjects.Notes(any, any), subjects.NotesQuery(any))
		b.subscribe(subjects.NoteDeliver(any, any), subjects.Board(any), subjects.Roster(any))
		b.use(subjects.StreamNotes, subjects.StreamNotes)
		b.publish(ephemeralConsumers(subjects.StreamNotes)...)
		b.publish(directGet(subjects.StreamNotes)...)
	case Dispatcher:
		b.publish(subjects.Board(any), subjects.Roster(any))
	case Persister:
		// A contact's label changes, announced by the service that writes the contact; the
		// conversations' events stay the dispatcher's.
		b.publish(subjects.ContactEvents(any, any))
		b.subscribe(subjects.AllQueries("notes"))
		b.use(subjects.StreamNotes, subjects.StreamNotes)
	}
}
