package record

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

// request sends a query to the persister and decodes its reply into reply.
func (r *Record) request(ctx context.Context, subject string, req, reply proto.Message) error {
	b, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("marshal request: %w", err)
	}
	msg, err := r.nc.RequestWithContext(ctx, subject, b)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	if err := proto.Unmarshal(msg.Data, reply); err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return nil
}

// History asks the persister for a page of a conversation.
func (r *Record) History(ctx context.Context, req *fd.HistoryRequest) (*fd.HistoryReply, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	reply := &fd.HistoryReply{}
	if err := r.request(ctx, subjects.HistoryQuery(req.GetTenant()), req, reply); err != nil {
		return nil, fmt.Errorf("history %w", err)
	}
	if reply.GetError() != "" {
		return nil, fmt.Errorf("history: %s", reply.GetError())
	}
	return reply, nil
}

// Unread asks the persister for user's unread counts in convs, waiting at most timeout: the
// counts are optional, and a slow or absent record must not hold up who asks.
func (r *Record) Unread(ctx context.Context, tenant, user string, convs []string, timeout time.Duration) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply := &fd.UnreadReply{}
	if err := r.request(ctx, subjects.UnreadQuery(tenant), &fd.UnreadRequest{Tenant: tenant, User: user, Convs: convs}, reply); err != nil {
		return nil, fmt.Errorf("unread %w", err)
	}
	if reply.GetError() != "" {
		return nil, fmt.Errorf("unread: %s", reply.GetError())
	}
	return reply.GetUnread(), nil
}

// Report asks the persister for a tenant's service figures.
func (r *Record) Report(ctx context.Context, req *fd.ReportRequest) (*fd.ReportReply, error) {
	ctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	reply := &fd.ReportReply{}
	if err := r.request(ctx, subjects.ReportQuery(req.GetTenant()), req, reply); err != nil {
		return nil, fmt.Errorf("report %w", err)
	}
	return reply, nil
}
