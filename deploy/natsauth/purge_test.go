package natsauth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/frontdesk-chat/frontdesk/deploy/natsauth"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// TestRetentionIdentityPurges: with the generated credentials against a server running the
// generated accounts, the persister's ingest identity is refused every removal retention and
// erasure make (a conversation's purge, a key's purge, a dead letter's deletion, an
// attachment's purge) and removes nothing, while the retention identity makes each of them,
// removes only what it aimed at, and sends an erasure's command and event.
func TestRetentionIdentityPurges(t *testing.T) {
	e := start(t)
	const tn = "acme"
	ctx := ctxWith(t, time.Minute)
	for i := range 5 {
		conv := "c_keep"
		if i < 3 {
			conv = "c_gone"
		}
		_, err := e.admin.js.Publish(ctx, subjects.Messages(tn, conv), fmt.Appendf(nil, "m%d", i))
		must(t, "admin publish", err)
	}
	convs, err := e.admin.js.KeyValue(ctx, subjects.BucketConversations)
	must(t, "admin conversations", err)
	for _, c := range []string{"c_gone", "c_keep"} {
		_, err := convs.Put(ctx, subjects.ConversationKey(tn, c), []byte("closed"))
		must(t, "admin conversation", err)
	}
	dl, err := e.admin.js.Publish(ctx, subjects.DeadLetters(natsauth.Persister), []byte("a dead letter of c_gone"))
	must(t, "admin dead letter", err)

	messages := func() (gone, kept uint64) {
		t.Helper()
		s, err := e.admin.js.Stream(ctx, subjects.StreamMessages)
		must(t, "admin messages", err)
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(subjects.TenantMessages(tn)))
		must(t, "admin messages info", err)
		return info.State.Subjects[subjects.Messages(tn, "c_gone")], info.State.Subjects[subjects.Messages(tn, "c_keep")]
	}
	purge := func(c *client, stream, filter string) func(context.Context) error {
		return func(ctx context.Context) error {
			s, err := c.js.Stream(ctx, stream)
			if err != nil {
				return fmt.Errorf("info: %w", err)
			}
			return s.Purge(ctx, jetstream.WithPurgeSubject(filter))
		}
	}
	deleteDeadLetter := func(c *client) func(context.Context) error {
		return func(ctx context.Context) error {
			s, err := c.js.Stream(ctx, subjects.StreamDeadLetters)
			if err != nil {
				return fmt.Errorf("info: %w", err)
			}
			return s.SecureDeleteMsg(ctx, dl.Sequence)
		}
	}
	obs, err := e.admin.js.ObjectStore(ctx, subjects.ObjectAttachments)
	must(t, "admin attachments", err)
	_, err = obs.PutBytes(ctx, "att1", []byte("passport"))
	must(t, "admin attachment", err)
	var pers *client
	removals := func(c *client) []struct {
		name, subject string
		call          func(context.Context) error
	} {
		return []struct {
			name, subject string
			call          func(context.Context) error
		}{
			{"purge a conversation's messages", api + "STREAM.PURGE." + subjects.StreamMessages,
				purge(c, subjects.StreamMessages, subjects.Messages(tn, "c_gone"))},
			{"purge a conversation's key", api + "STREAM.PURGE.KV_" + subjects.BucketConversations,
				purge(c, "KV_"+subjects.BucketConversations, "$KV."+subjects.BucketConversations+"."+subjects.ConversationKey(tn, "c_gone"))},
			{"delete a dead letter", api + "STREAM.MSG.DELETE." + subjects.StreamDeadLetters, deleteDeadLetter(c)},
			{"delete an attachment", api + "STREAM.PURGE.OBJ_" + subjects.ObjectAttachments,
				func(ctx context.Context) error {
					// Raw for the ingest identity, which may not even look the object up; the
					// retention identity deletes through its handle, as bus.DeleteAttachment.
					if c == pers {
						_, err := c.nc.RequestWithContext(ctx, api+"STREAM.PURGE.OBJ_"+subjects.ObjectAttachments,
							[]byte(`{"filter":"$O.`+subjects.ObjectAttachments+`.C.>"}`))
						return err
					}
					obs, err := c.js.ObjectStore(ctx, subjects.ObjectAttachments)
					if err != nil {
						return err
					}
					return obs.Delete(ctx, "att1")
				}},
		}
	}

	pers = connect(t, e.url, natsauth.Persister, e.bundle.Creds[natsauth.Persister])
	for _, op := range removals(pers) {
		t.Run("ingest identity refused/"+op.name, func(t *testing.T) {
			jsDenied(t, pers, op.subject, op.call)
		})
	}
	if data, err := obs.GetBytes(ctx, "att1"); err != nil || string(data) != "passport" {
		t.Fatalf("attachment after the ingest identity's attempts: %q %v", data, err)
	}
	if gone, kept := messages(); gone != 3 || kept != 2 {
		t.Fatalf("after the ingest identity's attempts: %d and %d messages, want 3 and 2", gone, kept)
	}

	ret := connect(t, e.url, natsauth.Retention, e.bundle.Creds[natsauth.Retention])
	for _, op := range removals(ret) {
		t.Run("retention identity/"+op.name, func(t *testing.T) {
			must(t, op.name, op.call(ctxWith(t, allowedWait)))
		})
	}
	if gone, kept := messages(); gone != 0 || kept != 2 {
		t.Errorf("after the retention identity's purge: %d and %d messages, want 0 and 2", gone, kept)
	}
	if _, err := obs.GetBytes(ctx, "att1"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("attachment after the retention identity's delete: %v", err)
	}
	if _, err := convs.Get(ctx, subjects.ConversationKey(tn, "c_keep")); err != nil {
		t.Errorf("c_keep's key: %v", err)
	}
	if _, err := convs.Get(ctx, subjects.ConversationKey(tn, "c_gone")); err == nil {
		t.Error("c_gone's key survived its purge")
	}
	// An erasure's command to the dispatcher and its erased event.
	_, err = ret.js.Publish(ctx, subjects.ConvCommands(tn, "c_gone"), []byte("erase"))
	must(t, "retention erase command", err)
	_, err = ret.js.Publish(ctx, subjects.Erased(tn, "er_1"), []byte("erased"))
	must(t, "retention erased event", err)
	ret.clean(t)
}
