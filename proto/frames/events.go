package frames

// The conversation event types are in bus.go.

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
