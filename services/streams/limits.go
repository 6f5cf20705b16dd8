package streams

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// DefaultStorageBytes is the storage the topology may use when Options.StorageBytes is 0: a
// development figure that fits a laptop's embedded server and a test server (whose JetStream
// store is 1 GiB). Production sets nats.storage_bytes (the chart's nats.storageBytes) to what
// its JetStream volume can give the release.
const DefaultStorageBytes int64 = 768 << 20

// Shares are the per-cent of the storage each asset may hold. Every asset has a cap, so no
// one tenant or attacker can fill the disk that every tenant shares (a JetStream server
// reserves each cap when the asset is created, so the sum must fit the server's storage);
// per-tenant quotas (tenant.quotas) keep one tenant within a share of these. Messages and
// attachments take most: they are what customers send.
var Shares = map[string]int64{
	subjects.StreamMessages:      33,
	subjects.StreamNotes:         2,
	subjects.StreamEvents:        10,
	subjects.StreamCommands:      4,
	subjects.StreamReads:         3,
	subjects.StreamDeadLetters:   2,
	subjects.BucketTenants:       1,
	subjects.BucketConversations: 5,
	subjects.BucketParticipants:  5,
	subjects.BucketOpen:          1,
	subjects.BucketDispatcher:    3,
	subjects.BucketQuotas:        1,
	subjects.ObjectAttachments:   30,
}

// maxBytes is the cap of asset name under opts.
func (opts Options) maxBytes(name string) int64 {
	if n := opts.MaxBytes[name]; n > 0 {
		return n
	}
	total := opts.StorageBytes
	if total <= 0 {
		total = DefaultStorageBytes
	}
	if share := Shares[name]; share > 0 {
		return total / 100 * share
	}
	return -1 // an asset declared without a share: no cap rather than a guess
}

// discard says what a full stream does. The streams whose messages are work not yet done
// (messages and events the persister has not copied, commands the dispatcher has not run, read
// positions) refuse new writes when full: the publisher gets an error and the client no ack,
// so nothing acknowledged is ever dropped to make room. Dead letters are a bounded log: the
// oldest go first. (KV buckets and the object store always refuse new writes when full.)
func discard(name string) jetstream.DiscardPolicy {
	if name == subjects.StreamDeadLetters {
		return jetstream.DiscardOld
	}
	return jetstream.DiscardNew
}
