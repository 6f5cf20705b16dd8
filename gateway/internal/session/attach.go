package session

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Object headers of stored attachments: the contract's (proto/subjects).
const (
	HeaderTenant   = subjects.AttachmentTenant
	HeaderConv     = subjects.AttachmentConv
	HeaderUploader = subjects.AttachmentUploader
	HeaderType     = subjects.AttachmentType
)

// AttachmentURL is the path that serves an attachment.
func AttachmentURL(id string) string { return "/v1/attachments/" + id }

// ErrNoAttachment is returned for an attachment that does not exist in the caller's tenant.
var ErrNoAttachment = errors.New("no such attachment")

func (m *Manager) objects(ctx context.Context) (jetstream.ObjectStore, error) {
	m.objMu.Lock()
	defer m.objMu.Unlock()
	if m.obj != nil {
		return m.obj, nil
	}
	obj, err := m.js.ObjectStore(ctx, subjects.ObjectAttachments)
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	m.obj = obj
	return obj, nil
}

// PutAttachment stores an upload of a conversation.
func (m *Manager) PutAttachment(ctx context.Context, tenant, conv, uploader, id, name, typ string, r io.Reader) (*fd.Attachment, error) {
	obj, err := m.objects(ctx)
	if err != nil {
		return nil, err
	}
	info, err := obj.Put(ctx, jetstream.ObjectMeta{Name: id, Description: name, Headers: nats.Header{
		HeaderTenant: {tenant}, HeaderConv: {conv}, HeaderUploader: {uploader}, HeaderType: {typ}}}, r)
	if err != nil {
		return nil, fmt.Errorf("store attachment: %w", err)
	}
	return &fd.Attachment{Id: id, Url: AttachmentURL(id), Type: typ, Size: int64(info.Size), Name: name}, nil
}

// Attachment returns an attachment's description and conversation, if it is in tenant.
func (m *Manager) Attachment(ctx context.Context, tenant, id string) (*fd.Attachment, string, error) {
	if !subjects.ValidToken(id) {
		return nil, "", ErrNoAttachment
	}
	obj, err := m.objects(ctx)
	if err != nil {
		return nil, "", err
	}
	info, err := obj.GetInfo(ctx, id)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, "", ErrNoAttachment
	}
	if err != nil {
		return nil, "", fmt.Errorf("attachment %s: %w", id, err)
	}
	if info.Headers.Get(HeaderTenant) != tenant {
		return nil, "", ErrNoAttachment
	}
	return &fd.Attachment{Id: id, Url: AttachmentURL(id), Type: info.Headers.Get(HeaderType), Size: int64(info.Size),
		Name: info.Description}, info.Headers.Get(HeaderConv), nil
}

// OpenAttachment returns the attachment's content; the caller closes it.
func (m *Manager) OpenAttachment(ctx context.Context, id string) (io.ReadCloser, error) {
	obj, err := m.objects(ctx)
	if err != nil {
		return nil, err
	}
	r, err := obj.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	return r, nil
}

// checkAttachment replaces what a client says about an attachment with what the store knows,
// and refuses attachments of other conversations.
func (m *Manager) checkAttachment(ctx context.Context, tenant, conv string, a *fd.Attachment) (*fd.Attachment, error) {
	if a == nil {
		return nil, nil
	}
	att, attConv, err := m.Attachment(ctx, tenant, a.GetId())
	if errors.Is(err, ErrNoAttachment) || (err == nil && attConv != conv) {
		return nil, fmt.Errorf("%w: unknown attachment", errBadFrame)
	}
	return att, err
}
