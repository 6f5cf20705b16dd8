package natsauth

import "github.com/frontdesk-chat/frontdesk/proto/subjects"

// Retention is the persister's second identity: the one that removes data, for retention runs
// and customer erasures (persister/internal/bus, persister/internal/erase), on a connection of
// its own (config persister.retention_creds). The persister's ingest identity may not purge or
// delete anything, so a compromised ingest or query path cannot drop what the bus holds. It is
// not a service: the persister holds both identities.
const Retention = "retention"

// retention may purge the subjects of the data streams and buckets retention and erasure
// clean (a purge right cannot be limited to a subject filter), delete dead letters and
// attachments, read what it must look at to choose what to remove (the first message since a
// cutoff, a customer's participation and open keys, the conversations' state, the dead
// letters, the attachment descriptions), give quota bytes back and expire quota days, and
// publish an erasure's `erase` commands and its `erased` event. It cannot create, update or
// delete a stream, touch the tenants or dispatcher buckets, or read with a durable.
func retention() Permissions {
	const any = "*"
	b := &builder{}
	b.subscribe(inbox)
	b.publish(accountInfo()...)
	b.publish(subjects.ConvCommands(any, any), subjects.Events(any, any))
	for _, s := range []string{subjects.StreamMessages, subjects.StreamEvents, subjects.StreamReads, subjects.StreamCommands,
		subjects.StreamNotes} {
		b.use(s, s)
		b.publish(streamPurge(s))
		b.publish(ephemeralConsumers(s)...)
	}
	b.use(subjects.StreamDeadLetters, subjects.StreamDeadLetters)
	b.publish(ephemeralConsumers(subjects.StreamDeadLetters)...)
	b.publish(jsAPI + "STREAM.MSG.DELETE." + subjects.StreamDeadLetters)
	for _, k := range []string{subjects.BucketConversations, subjects.BucketParticipants, subjects.BucketOpen, subjects.BucketQuotas} {
		b.kvRead(k)
		b.publish(streamPurge(subjects.KVStream(k)))
	}
	b.kvWrite(subjects.BucketQuotas, ">")
	o := subjects.ObjectStream(subjects.ObjectAttachments)
	b.use(subjects.ObjectAttachments, o)
	b.publish("$O." + subjects.ObjectAttachments + ".M.>") // the deletion mark
	b.publish(streamPurge(o))
	b.publish(directGet(o)...)
	b.publish(ephemeralConsumers(o)...)
	// Its short-lived consumers must not reach the persister's or the bridge's durables.
	for _, svc := range Services {
		for _, c := range Durables[svc] {
			b.denyPub = append(b.denyPub, foreignDurable(c.Stream, c.Durable)...)
		}
	}
	return Permissions{
		Publish:   Rules{Allow: uniq(b.pub), Deny: uniq(b.denyPub)},
		Subscribe: Rules{Allow: uniq(b.sub)},
		Uses:      uniq(b.uses),
	}
}
