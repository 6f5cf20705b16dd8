package record

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// AttachmentURL is the path that serves an attachment.
func AttachmentURL(id string) string { return "/v1/attachments/" + id }

// ErrNoAttachment is returned for an attachment that does not exist in the caller's tenant.
var ErrNoAttachment = errors.New("no such attachment")

func (r *Record) objects(ctx context.Context) (jetstream.ObjectStore, error) {
	r.objMu.Lock()
	defer r.objMu.Unlock()
	if r.obj != nil {
		return r.obj, nil
	}
	obj, err := r.js.ObjectStore(ctx, subjects.ObjectAttachments)
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	r.obj = obj
	return obj, nil
}

// PutAttachment stores an upload of a conversation, with the contract's object headers
// (proto/subjects).
func (r *Record) PutAttachment(ctx context.Context, tenant, conv, uploader, id, name, typ string, body io.Reader) (*fd.Attachment, error) {
	obj, err := r.objects(ctx)
	if err != nil {
		return nil, err
	}
	info, err := obj.Put(ctx, jetstream.ObjectMeta{Name: id, Description: name, Headers: nats.Header{
		subjects.AttachmentTenant: {tenant}, subjects.AttachmentConv: {conv}, subjects.AttachmentUploader: {uploader},
		subjects.AttachmentType: {typ}}}, body)
	if err != nil {
		return nil, fmt.Errorf("store attachment: %w", err)
	}
	return &fd.Attachment{Id: id, Url: AttachmentURL(id), Type: typ, Size: int64(info.Size), Name: name}, nil
}

// Attachment returns an attachment's description and conversation, if it is in tenant.
func (r *Record) Attachment(ctx context.Context, tenant, id string) (*fd.Attachment, string, error) {
	if !subjects.ValidToken(id) {
		return nil, "", ErrNoAttachment
	}
	obj, err := r.objects(ctx)
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
	if info.Headers.Get(subjects.AttachmentTenant) != tenant {
		return nil, "", ErrNoAttachment
	}
	return &fd.Attachment{Id: id, Url: AttachmentURL(id), Type: info.Headers.Get(subjects.AttachmentType),
		Size: int64(info.Size), Name: info.Description}, info.Headers.Get(subjects.AttachmentConv), nil
}

// OpenAttachment returns the attachment's content; the caller closes it.
func (r *Record) OpenAttachment(ctx context.Context, id string) (io.ReadCloser, error) {
	obj, err := r.objects(ctx)
	if err != nil {
		return nil, err
	}
	rc, err := obj.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("attachment %s: %w", id, err)
	}
	return rc, nil
}
