package session

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// reportTimeout bounds a report: a year of a busy tenant takes about a second on the persister.
const reportTimeout = 30 * time.Second

// Report asks the persister for a tenant's service figures.
func (m *Manager) Report(ctx context.Context, req *fd.ReportRequest) (*fd.ReportReply, error) {
	b, err := proto.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("marshal report request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	msg, err := m.nc.RequestWithContext(ctx, subjects.ReportQuery(req.GetTenant()), b)
	if err != nil {
		return nil, fmt.Errorf("report request: %w", err)
	}
	reply := &fd.ReportReply{}
	if err := proto.Unmarshal(msg.Data, reply); err != nil {
		return nil, fmt.Errorf("report reply: %w", err)
	}
	return reply, nil
}
