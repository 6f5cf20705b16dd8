package subjects

import "strconv"

// Contact events: what changes on a contact (a customer's own record, apart from their
// conversations) for platform consumers, stored in StreamEvents as frontdesk.v1.ConversationEvent
// with conv empty and customer the contact. The subject has a fifth token, "contact", so it
// matches AllEvents (a consumer of every event meets it, as it meets an erase's erased event)
// but never a conversation's subjects: Events(tenant, conv), TenantEvents and the gateways'
// subscriptions match four tokens, so no contact id can pass for a conversation, and NATS
// permissions can grant these subjects alone (ContactEvents("*", "*")).

// ContactEvents is the subject of one contact's events (stream StreamEvents):
// fd.v1.evt.<tenant>.contact.<contact>. Publisher: persister (the service that writes the
// contact), after the change commits.
func ContactEvents(tenant, contact string) string {
	return join(Prefix, "evt", tenant, "contact", contact)
}

// TenantContactEvents matches every contact event of one tenant (retention's purge filter; it
// is not covered by TenantEvents).
func TenantContactEvents(tenant string) string { return join(Prefix, "evt", tenant, "contact", "*") }

// ContactEventID is the id (and Nats-Msg-Id) of the event of typ that moved contact's labels
// to revision rev: "<tenant>.contact.<contact>.<rev>.<type>". A change published again (a
// retried request, a publish that timed out) makes the same id, so JetStream stores it once.
func ContactEventID(tenant, contact string, rev int64, typ string) string {
	return tenant + ".contact." + contact + "." + strconv.FormatInt(rev, 10) + "." + typ
}
