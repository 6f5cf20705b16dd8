package session

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/record"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// ErrNoAttachment is returned for an attachment that does not exist in the caller's tenant.
var ErrNoAttachment = record.ErrNoAttachment

// PutAttachment stores an upload of a conversation (record.Record.PutAttachment).
func (m *Manager) PutAttachment(ctx context.Context, tenant, conv, uploader, id, name, typ string, r io.Reader) (*fd.Attachment, error) {
	return m.rec.PutAttachment(ctx, tenant, conv, uploader, id, name, typ, r)
}

// Attachment returns an attachment's description and conversation, if it is in tenant.
func (m *Manager) Attachment(ctx context.Context, tenant, id string) (*fd.Attachment, string, error) {
	return m.rec.Attachment(ctx, tenant, id)
}

// OpenAttachment returns the attachment's content; the caller closes it.
func (m *Manager) OpenAttachment(ctx context.Context, id string) (io.ReadCloser, error) {
	return m.rec.OpenAttachment(ctx, id)
}

// checkAttachment replaces what a client says about an attachment with what the store knows,
// and refuses attachments of other conversations.
func (m *Manager) checkAttachment(ctx context.Context, tenant, conv string, a *fd.Attachment) (*fd.Attachment, error) {
	if a == nil {
		return nil, nil
	}
	att, attConv, err := m.rec.Attachment(ctx, tenant, a.GetId())
	if errors.Is(err, ErrNoAttachment) || (err == nil && attConv != conv) {
		return nil, fmt.Errorf("%w: unknown attachment", errBadFrame)
	}
	return att, err
}
