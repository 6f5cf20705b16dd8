package subjects

// KVPut is the subject JetStream stores a write of key in KV bucket on ("$KV.<bucket>.<key>",
// NATS's own naming for a bucket of the local JetStream domain that is not a mirror). It lets
// a service pipeline many KV writes as asynchronous stream publishes (with the per-subject
// expected sequence as the revision check of an Update) instead of one request and reply
// each; reads and single writes go through the KeyValue API.
func KVPut(bucket, key string) string { return "$KV." + bucket + "." + key }

// KVStream is the stream JetStream keeps a KV bucket in (NATS's naming: "KV_<bucket>"):
// purges, stream permissions and stream settings name it.
func KVStream(bucket string) string { return "KV_" + bucket }

// ObjectStream is the stream JetStream keeps an object store in ("OBJ_<bucket>").
func ObjectStream(bucket string) string { return "OBJ_" + bucket }
