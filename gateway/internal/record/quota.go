package record

import (
	"context"
	"io"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/quota"
)

// ErrQuotaExceeded is wrapped by TakeMessage and PutAttachmentWithin when the tenant's quota
// (frontdesk.v1.Quotas) is spent: the send is answered quota_exceeded, the upload 507.
var ErrQuotaExceeded = quota.ErrExceeded

// TakeMessage counts one message against the tenant's daily quota (limit 0: none), shared
// with every other gateway replica through the quotas bucket.
func (r *Record) TakeMessage(ctx context.Context, tenant string, limit int64) error {
	return r.quota.Message(ctx, tenant, limit)
}

// PutAttachmentWithin is PutAttachment within the tenant's attachment quota (limit 0: none):
// it reserves reserve bytes (the most the body can hold) before reading the body, so uploads
// on several replicas at once cannot pass the quota together, and gives back what the stored
// attachment did not use (all of it if storing failed).
func (r *Record) PutAttachmentWithin(ctx context.Context, tenant, conv, uploader, id, name, typ string, body io.Reader, reserve, limit int64) (*fd.Attachment, error) {
	if limit <= 0 {
		return r.PutAttachment(ctx, tenant, conv, uploader, id, name, typ, body)
	}
	if err := r.quota.Reserve(ctx, tenant, reserve, limit); err != nil {
		return nil, err
	}
	att, err := r.PutAttachment(ctx, tenant, conv, uploader, id, name, typ, body)
	unused := reserve
	if err == nil {
		unused = max(reserve-att.GetSize(), 0)
	}
	// The give-back must outlive a cancelled request; a failure leaves the count high (the
	// tenant refused a little early), never low.
	_ = r.quota.Release(context.WithoutCancel(ctx), tenant, unused)
	return att, err
}
