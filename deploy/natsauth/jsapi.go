package natsauth

// This file names the NATS and JetStream system subjects a client needs for each kind of
// JetStream work. They are the server's API, not Frontdesk subjects, so they are written here
// rather than in proto/subjects. Each helper returns publish subjects unless it says otherwise.

// jsAPI is the prefix of the JetStream API of the account's default domain.
const jsAPI = "$JS.API."

// inbox matches the reply subjects nats.go creates for requests (JetStream API replies,
// publish acks, pull-consumer deliveries). Every service subscribes to it.
const inbox = "_INBOX.>"

// accountInfo lets a client read its JetStream account usage ($JS.API.INFO); read-only.
func accountInfo() []string { return []string{jsAPI + "INFO"} }

// streamInfo lets a client look a stream up: its configuration and state. It is how a
// service binds to a stream, bucket or object store (streams.Await, js.KeyValue), and the only
// stream management call a service may make.
func streamInfo(stream string) string { return jsAPI + "STREAM.INFO." + stream }

// streamProvision lets the Provisioner create a stream or update it to the declared
// configuration (streams.Provision). It never grants delete or purge.
func streamProvision(stream string) []string {
	return []string{
		jsAPI + "STREAM.CREATE." + stream,
		jsAPI + "STREAM.UPDATE." + stream,
		jsAPI + "STREAM.INFO." + stream,
	}
}

// streamPurge lets a client purge a stream (with or without a subject filter: the right
// cannot be narrowed to a filter).
func streamPurge(stream string) string { return jsAPI + "STREAM.PURGE." + stream }

// directGet lets a client read single messages of a stream by sequence or last-per-subject
// (KV Get on buckets with AllowDirect, FD_READS lookups), plus the non-direct fallback.
func directGet(stream string) []string {
	return []string{
		jsAPI + "DIRECT.GET." + stream,
		jsAPI + "DIRECT.GET." + stream + ".>",
		jsAPI + "STREAM.MSG.GET." + stream,
	}
}

// ephemeralConsumers lets a client create, read, pull from and delete consumers with
// server-generated or random names on stream: ordered consumers (sync replay, KV watch and
// key listing, object reads). The consumer names of other services' durables are denied
// separately (see durableNames), because a wildcard cannot exclude them.
func ephemeralConsumers(stream string) []string {
	return []string{
		jsAPI + "CONSUMER.CREATE." + stream,
		jsAPI + "CONSUMER.CREATE." + stream + ".>",
		jsAPI + "CONSUMER.INFO." + stream + ".*",
		jsAPI + "CONSUMER.DELETE." + stream + ".*",
		jsAPI + "CONSUMER.MSG.NEXT." + stream + ".*",
		// Push consumers (the KV watcher) answer the server's flow-control requests.
		"$JS.FC." + stream + ".>",
	}
}

// durable lets a client create or update, inspect and pull from its own durable consumer
// on stream and acknowledge what it got.
func durable(stream, name string) []string {
	return []string{
		jsAPI + "CONSUMER.CREATE." + stream + "." + name,
		jsAPI + "CONSUMER.CREATE." + stream + "." + name + ".>",
		jsAPI + "CONSUMER.INFO." + stream + "." + name,
		jsAPI + "CONSUMER.MSG.NEXT." + stream + "." + name,
		// Priority-group consumers (pinned client failover) are unpinned by their owner.
		jsAPI + "CONSUMER.UNPIN." + stream + "." + name,
		ackSubject(stream, name),
	}
}

// ackSubject matches the ack reply subjects of a consumer's deliveries.
func ackSubject(stream, name string) string { return "$JS.ACK." + stream + "." + name + ".>" }

// foreignDurable is what denies one service the durable consumer of another: every consumer
// API call naming it, and its acks.
func foreignDurable(stream, name string) []string {
	return []string{
		jsAPI + "CONSUMER.*." + stream + "." + name,
		jsAPI + "CONSUMER.*." + stream + "." + name + ".>",
		jsAPI + "CONSUMER.MSG.NEXT." + stream + "." + name,
		jsAPI + "CONSUMER.DURABLE.CREATE." + stream + "." + name,
		ackSubject(stream, name),
	}
}

// maxDeliveriesAdvisory is the subject (to subscribe to) on which the server reports a
// message of consumer name that reached its MaxDeliver.
func maxDeliveriesAdvisory(stream, name string) string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + stream + "." + name
}
