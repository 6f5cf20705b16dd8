package subjects

// Erased is the subject of the erased event of one erase (frontdesk.v1.ConversationEvent of
// type erased, stream StreamEvents): Events(tenant, erasure), with the erase's audit id in the
// conversation's place, so it matches TenantEvents and AllEvents like every event while no
// erase of a conversation's subjects ever purges it. Publisher: persister.
func Erased(tenant, erasure string) string { return Events(tenant, erasure) }

// ErasedEventID is the id (and Nats-Msg-Id) of an erase's erased event: a resumed erase
// publishes it once.
func ErasedEventID(tenant, erasure string) string { return tenant + "." + erasure + ".erased" }
