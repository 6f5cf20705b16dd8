package session

import (
	"context"
	"io"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/record"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// PutAttachmentWithin stores an upload within the tenant's attachment quota
// (record.Record.PutAttachmentWithin): reserve is the most the body can hold.
func (m *Manager) PutAttachmentWithin(ctx context.Context, tenant, conv, uploader, id, name, typ string, r io.Reader, reserve int64) (*fd.Attachment, error) {
	t, _ := m.tenants.Get(tenant)
	return m.rec.PutAttachmentWithin(ctx, tenant, conv, uploader, id, name, typ, r, reserve, t.GetQuotas().GetAttachmentBytes())
}

// takeMessage counts a send against the tenant's daily message quota; past it the send is
// refused with quota_exceeded (fail) and nothing is published.
func (s *Session) takeMessage(ctx context.Context) error {
	t, _ := s.m.tenants.Get(s.tenant)
	return s.m.rec.TakeMessage(ctx, s.tenant, t.GetQuotas().GetMessagesPerDay())
}

// errQuotaExceeded is what fail answers with quota_exceeded.
var errQuotaExceeded = record.ErrQuotaExceeded
