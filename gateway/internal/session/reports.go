package session

import (
	"context"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Report asks the persister for a tenant's service figures (record.Record.Report).
func (m *Manager) Report(ctx context.Context, req *fd.ReportRequest) (*fd.ReportReply, error) {
	return m.rec.Report(ctx, req)
}
