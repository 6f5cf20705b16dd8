package subjects

// BucketQuotas counts what each tenant has used of its storage quotas (frontdesk.v1.Quotas),
// shared by every gateway replica: key QuotaAttachmentsKey(tenant), value the attachment bytes
// held, and key QuotaMessagesKey(tenant, day), value the messages counted that UTC day
// (yyyymmdd); both values are decimal integers. Gateways take messages in blocks (see
// gateway/internal/record/quota.go); the persister gives attachment bytes back when retention
// or an erase removes attachments. Day keys expire with the bucket's TTL.
const BucketQuotas = "fd_quotas"

// QuotaAttachmentsKey is the quotas-bucket key of a tenant's attachment bytes.
func QuotaAttachmentsKey(tenant string) string { return join(tenant, "attachments") }

// QuotaMessagesKey is the quotas-bucket key of a tenant's messages on day (yyyymmdd, UTC).
func QuotaMessagesKey(tenant, day string) string { return join(tenant, "messages", day) }

// Erase is the request/reply subject for erasing one customer everywhere
// (frontdesk.v1.EraseRequest -> frontdesk.v1.EraseReply). Requesters: gateway (supervisors,
// POST /v1/erase) and the persister's erase command. Responder: persister (queue group).
func Erase(tenant string) string { return join(Prefix, "admin", "erase", tenant) }

// AllErase matches every tenant's erase subject, for the responder's subscription.
func AllErase() string { return join(Prefix, "admin", "erase", "*") }

// TenantReads matches a tenant's read positions (retention purges them by subject).
func TenantReads(tenant string) string { return join(Prefix, "read", tenant, ">") }

// TenantConvCommands matches the conversation commands of a tenant (retention purges them
// by subject).
func TenantConvCommands(tenant string) string { return join(Prefix, "cmd", "conv", tenant, "*") }
