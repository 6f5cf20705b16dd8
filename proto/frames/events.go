package frames

// Conversation event types (frontdesk.v1.ConversationEvent.type on fd.v1.evt.<t>.<c>).
const (
	EventOpened      = "opened"
	EventQueued      = "queued"
	EventAssigned    = "assigned"
	EventTransferred = "transferred"
	EventRequeued    = "requeued"
	EventClosed      = "closed"
	EventState       = "state"
	EventMessageLeft = "message_left"
)

// Report request values (frontdesk.v1.ReportRequest) and reply keys (ReportReply).
const (
	// ReportBucketDay and ReportBucketHour are the series steps.
	ReportBucketDay  = "day"
	ReportBucketHour = "hour"
	// ReportFormatCSV asks for the reply's csv field.
	ReportFormatCSV = "csv"
	// HandoffDirect counts conversations queued for a human from the start (the bot was off).
	HandoffDirect = "direct"
	// HandoffOther counts handoffs whose event named no reason.
	HandoffOther = "other"
)
