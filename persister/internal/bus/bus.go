// Package bus is the persister's hand on what NATS keeps beyond Postgres, for retention and
// erasure: it purges stream subjects (messages, events, read positions, commands, and the KV
// buckets' keys, which are stream subjects too) and deletes attachments from the object store,
// giving their bytes back to the tenant's quota. Purges go through the JetStream API
// (STREAM.PURGE with a subject filter), never through roll-up headers, which the buckets refuse.
package bus

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/proto/subjects"
	"github.com/frontdesk-chat/frontdesk/services/quota"
)

// Bus purges and deletes. It is safe for concurrent use.
type Bus struct {
	js    jetstream.JetStream
	quota *quota.Counter
}

// New returns a Bus over js; q (may be nil) gets back the bytes of deleted attachments.
func New(js jetstream.JetStream, q *quota.Counter) *Bus { return &Bus{js: js, quota: q} }

func count(info *jetstream.StreamInfo) int64 { return int64(info.State.Msgs) }

// Purge removes the messages of stream on filter with a sequence below below (0: all of them)
// and returns how many there were. A stream that does not exist holds nothing.
func (b *Bus) Purge(ctx context.Context, stream, filter string, below uint64) (int64, error) {
	s, err := b.js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	var n int64
	if below == 0 {
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", stream, err)
		}
		for _, c := range info.State.Subjects {
			n += int64(c)
		}
		if n == 0 {
			return 0, nil
		}
	}
	opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject(filter)}
	if below > 0 {
		opts = append(opts, jetstream.WithPurgeSequence(below))
		before, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", stream, err)
		}
		if err := s.Purge(ctx, opts...); err != nil {
			return 0, fmt.Errorf("purge %s %s: %w", stream, filter, err)
		}
		after, err := s.Info(ctx)
		if err != nil {
			return 0, fmt.Errorf("stream %s: %w", stream, err)
		}
		// Other writers change the count meanwhile: a figure for logs, not an exact one.
		return max(count(before)-count(after), 0), nil
	}
	if err := s.Purge(ctx, opts...); err != nil {
		return 0, fmt.Errorf("purge %s %s: %w", stream, filter, err)
	}
	return n, nil
}

// FirstSince returns the first sequence of stream stored at or after t (the sequences below it
// are all older than t, whatever their subject), or the stream's last sequence + 1 when nothing
// is that recent. It asks the server with a short-lived consumer that is never read.
func (b *Bus) FirstSince(ctx context.Context, stream, filter string, t time.Time) (uint64, error) {
	s, err := b.js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", stream, err)
	}
	last := info.State.LastSeq
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject: filter, DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &t,
		AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true, InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return 0, fmt.Errorf("stream %s: first since %s: %w", stream, t, err)
	}
	ci := c.CachedInfo()
	_ = s.DeleteConsumer(context.WithoutCancel(ctx), ci.Name) // else it goes when inactive
	if ci.NumPending == 0 {
		return last + 1, nil
	}
	// The consumer starts at the first message at or after t; it has delivered none, so its
	// stream position is the one before that.
	return ci.Delivered.Stream + 1, nil
}

// Attachment is what retention and erasure need to know of a stored attachment.
type Attachment struct {
	ID, Tenant, Conv, Uploader string
	Size                       int64
	Stored                     time.Time
}

// Attachments lists every attachment in the store. The listing reads the store's metadata
// (one message per object), not the content.
func (b *Bus) Attachments(ctx context.Context) ([]Attachment, error) {
	obj, err := b.js.ObjectStore(ctx, subjects.ObjectAttachments)
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("object store: %w", err)
	}
	infos, err := obj.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	out := make([]Attachment, 0, len(infos))
	for _, i := range infos {
		out = append(out, Attachment{ID: i.Name, Tenant: i.Headers.Get(subjects.AttachmentTenant),
			Conv: i.Headers.Get(subjects.AttachmentConv), Uploader: i.Headers.Get(subjects.AttachmentUploader),
			Size: int64(i.Size), Stored: i.ModTime})
	}
	return out, nil
}

// DeleteAttachment removes an attachment (its content is purged; a deletion mark stays, so
// it is no longer readable by any path) and gives its bytes back to the tenant's quota. An
// attachment already gone is not an error.
func (b *Bus) DeleteAttachment(ctx context.Context, a Attachment) error {
	obj, err := b.js.ObjectStore(ctx, subjects.ObjectAttachments)
	if err != nil {
		return fmt.Errorf("object store: %w", err)
	}
	if err := obj.Delete(ctx, a.ID); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("delete attachment %s: %w", a.ID, err)
	}
	// The deletion mark still holds the description (the file's name) and the headers (tenant,
	// conversation, uploader): purge it too, so nothing of the attachment is left.
	meta := "$O." + subjects.ObjectAttachments + ".M." + base64.URLEncoding.EncodeToString([]byte(a.ID))
	if _, err := b.Purge(ctx, subjects.ObjectStream(subjects.ObjectAttachments), meta, 0); err != nil {
		return fmt.Errorf("delete attachment %s: %w", a.ID, err)
	}
	if b.quota != nil {
		if err := b.quota.Release(ctx, a.Tenant, a.Size); err != nil {
			return fmt.Errorf("attachment %s deleted, quota not updated: %w", a.ID, err)
		}
	}
	return nil
}
