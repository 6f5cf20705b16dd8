package store

// Contacts (migration 0102): one row per customer of a tenant, and their conversations.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// MaxContactPages is how many of the pages a contact came from are kept.
const MaxContactPages = 10

// MaxContactConversations bounds the conversations a contact is answered with.
const MaxContactConversations = 20

// seenContactSQL records that a customer connected: created on first sight; the name and
// email the token gives replace the stored ones unless an agent edited the contact; token
// attributes are merged over the stored ones; the page goes first in pages.
const seenContactSQL = `INSERT INTO contacts AS k (tenant, id, name, email, attributes, pages, first_seen, last_seen)
SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb, CASE WHEN $6::text = '' THEN '{}'::text[] ELSE ARRAY[$6::text] END, $7::timestamptz, $7::timestamptz
WHERE ` + notErasedContactAt7 + `
ON CONFLICT (tenant, id) DO UPDATE SET
	name = CASE WHEN EXCLUDED.name <> '' AND (NOT k.edited OR k.name = '') THEN EXCLUDED.name ELSE k.name END,
	email = CASE WHEN EXCLUDED.email <> '' AND (NOT k.edited OR k.email = '') THEN EXCLUDED.email ELSE k.email END,
	attributes = k.attributes || EXCLUDED.attributes,
	pages = CASE WHEN $6 = '' THEN k.pages ELSE (ARRAY[$6] || array_remove(k.pages, $6))[1:10] END,
	first_seen = LEAST(k.first_seen, EXCLUDED.first_seen),
	last_seen = GREATEST(k.last_seen, EXCLUDED.last_seen),
	updated_at = now()`

// notErasedContactAt7 is the condition of a contact write ($1 the tenant, $2 the contact, $7
// when it happened) that no erase of the contact followed (tombstones.go): a connection or a
// pre-chat form handled while the customer was erased must not bring their profile back; one
// after the erase starts a new record.
const notErasedContactAt7 = `NOT EXISTS (SELECT 1 FROM erased_contacts e WHERE e.tenant = $1 AND e.user_id = $2 AND e.erased_at >= $7)`

// writeContact runs a contact write ($1 the tenant) under the
// tenant's erase lock, in one round trip: the lock and the write are one implicit transaction.
func (s *Store) writeContact(ctx context.Context, sql string, args ...any) error {
	b := &pgx.Batch{}
	b.Queue(LockEraseSharedSQL, args[0])
	b.Queue(sql, args...)
	return s.pool.SendBatch(ctx, b).Close()
}

// ContactSeen records a customer's connection (name, email and attributes from their token, the
// page they are on).
func (s *Store) ContactSeen(ctx context.Context, tenant string, c *fd.Contact, page string, at time.Time) error {
	if err := s.writeContact(ctx, seenContactSQL, tenant, c.GetId(), c.GetName(), c.GetEmail(), attributesOf(c), page, at); err != nil {
		return fmt.Errorf("contact seen: %w", err)
	}
	return nil
}

// ContactLabels is what LabelContact left: the contact's labels and the latest change of
// them as the event that announces it.
type ContactLabels struct {
	// Labels are the contact's labels after the call, sorted.
	Labels []string
	// Changed reports whether this call changed them (and so made Event).
	Changed bool
	// Event is the contact's latest contact_labeled event (this call's when Changed), stored
	// with the labels; nil when they never changed. Publish it with its id as Nats-Msg-Id.
	Event *fd.ConversationEvent
}

// NextContactLabels decides a label request on a contact's sorted labels: add label (unless
// present or the contact has max already) or remove it. It returns the labels after it and
// whether they changed.
func NextContactLabels(labels []string, label string, remove bool, max int) ([]string, bool) {
	i, found := slices.BinarySearch(labels, label)
	switch {
	case remove && found:
		return slices.Delete(slices.Clone(labels), i, i+1), true
	case remove, found, len(labels) >= max:
		return labels, false
	}
	return slices.Insert(slices.Clone(labels), i, label), true
}

// LabelContact adds label to a contact (unless it has max already), or removes it, creating
// the contact when an agent labels one the record has not seen connect. A change is numbered
// (labels_rev) and its contact_labeled event, made by actor at at, is stored with the labels in
// the same transaction: the caller publishes it after the commit, and a retried request that
// changes nothing finds the same event to publish again (same id, stored once). The caller
// checks the label is one of the tenant's.
func (s *Store) LabelContact(ctx context.Context, tenant, id, label string, remove bool, max int,
	actor *fd.Participant, at time.Time) (ContactLabels, error) {
	var out ContactLabels
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO contacts (tenant, id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, tenant, id); err != nil {
			return err
		}
		var (
			rev  int64
			last []byte
		)
		// The row lock orders concurrent changes of one contact: each gets its own revision.
		if err := tx.QueryRow(ctx, `SELECT labels, labels_rev, labels_event FROM contacts WHERE tenant = $1 AND id = $2 FOR UPDATE`,
			tenant, id).Scan(&out.Labels, &rev, &last); err != nil {
			return err
		}
		slices.Sort(out.Labels) // stored sorted; a row written otherwise still decides right
		out.Labels, out.Changed = NextContactLabels(out.Labels, label, remove, max)
		if !out.Changed {
			if last != nil {
				out.Event = &fd.ConversationEvent{}
				if err := proto.Unmarshal(last, out.Event); err != nil {
					return fmt.Errorf("stored event: %w", err)
				}
			}
			_, err := tx.Exec(ctx, `UPDATE contacts SET updated_at = now() WHERE tenant = $1 AND id = $2`, tenant, id)
			return err
		}
		out.Event = contactLabeledEvent(tenant, id, label, remove, out.Labels, rev+1, actor, at)
		data, err := proto.Marshal(out.Event)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE contacts SET labels = $3, labels_rev = $4, labels_event = $5, updated_at = now()
			WHERE tenant = $1 AND id = $2`, tenant, id, out.Labels, rev+1, data)
		return err
	})
	if err != nil {
		return ContactLabels{}, fmt.Errorf("label contact: %w", err)
	}
	return out, nil
}

// contactLabeledEvent is the event of the change that moved a contact's labels to rev.
func contactLabeledEvent(tenant, id, label string, remove bool, labels []string, rev int64,
	actor *fd.Participant, at time.Time) *fd.ConversationEvent {
	reason := frames.ReasonLabelAdded
	if remove {
		reason = frames.ReasonLabelRemoved
	}
	return &fd.ConversationEvent{
		Id:       subjects.ContactEventID(tenant, id, rev, frames.EventContactLabeled),
		Tenant:   tenant,
		Type:     frames.EventContactLabeled,
		Revision: uint64(rev),
		Customer: &fd.Participant{Id: id, Role: frames.RoleCustomer},
		Actor:    actor,
		Reason:   reason,
		Label:    label,
		Labels:   slices.Clone(labels),
		At:       timestamppb.New(at),
	}
}

// UpdateContact sets a contact's name, email, phone and notes as an agent edited them.
func (s *Store) UpdateContact(ctx context.Context, tenant string, c *fd.Contact) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO contacts AS k (tenant, id, name, email, phone, notes, edited) VALUES ($1, $2, $3, $4, $5, $6, true)
		ON CONFLICT (tenant, id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, phone = EXCLUDED.phone,
		notes = EXCLUDED.notes, edited = true, updated_at = now()`,
		tenant, c.GetId(), c.GetName(), c.GetEmail(), c.GetPhone(), c.GetNotes())
	if err != nil {
		return fmt.Errorf("update contact: %w", err)
	}
	return nil
}

// PrechatContact stores a visitor's pre-chat answers: name and email when given, the tenant's
// fields as attributes; not those of a customer erased since at (notErasedContactAt7).
func (s *Store) PrechatContact(ctx context.Context, tenant string, c *fd.Contact, at time.Time) error {
	err := s.writeContact(ctx, `INSERT INTO contacts AS k (tenant, id, name, email, attributes, first_seen, last_seen)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::jsonb, $6::timestamptz, $6::timestamptz
		WHERE NOT EXISTS (SELECT 1 FROM erased_contacts e WHERE e.tenant = $1 AND e.user_id = $2 AND e.erased_at >= $6)
		ON CONFLICT (tenant, id) DO UPDATE SET
		name = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE k.name END,
		email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE k.email END,
		attributes = k.attributes || EXCLUDED.attributes, last_seen = GREATEST(k.last_seen, EXCLUDED.last_seen), updated_at = now()`,
		tenant, c.GetId(), c.GetName(), c.GetEmail(), attributesOf(c), at)
	if err != nil {
		return fmt.Errorf("prechat contact: %w", err)
	}
	return nil
}

// contactConversationsSQL is a customer's conversations, newest first (conversations_customer).
const contactConversationsSQL = `SELECT id, state, agent_id, agent_name, opened_at, closed_at, tags,
	(SELECT count(*) FROM messages m WHERE m.tenant = c.tenant AND m.conv = c.id)
FROM conversations c WHERE tenant = $1 AND customer_id = $2 ORDER BY opened_at DESC NULLS LAST LIMIT $3`

// Contact returns a contact and their conversations; a customer never seen gets a contact made
// of their id (and the name the record knows), so agents can still edit it.
func (s *Store) Contact(ctx context.Context, tenant, id string) (*fd.ContactReply, error) {
	c := &fd.Contact{Id: id}
	var (
		attrs       map[string]string
		first, last time.Time
		found       = true
	)
	err := s.pool.QueryRow(ctx, `SELECT name, email, phone, notes, attributes, pages, labels, first_seen, last_seen
		FROM contacts WHERE tenant = $1 AND id = $2`, tenant, id).
		Scan(&c.Name, &c.Email, &c.Phone, &c.Notes, &attrs, &c.Pages, &c.OwnLabels, &first, &last)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		found = false
		err := s.pool.QueryRow(ctx, `SELECT name FROM users WHERE tenant = $1 AND id = $2`, tenant, id).Scan(&c.Name)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("contact: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("contact: %w", err)
	}
	if found {
		c.Attributes = attrs
		c.FirstSeen, c.LastSeen = frames.Timestamp(first), frames.Timestamp(last)
	}
	rows, err := s.pool.Query(ctx, contactConversationsSQL, tenant, id, MaxContactConversations)
	if err != nil {
		return nil, fmt.Errorf("contact conversations: %w", err)
	}
	defer rows.Close()
	var convs []*fd.ConversationRecord
	labels := map[string]bool{}
	for rows.Next() {
		var (
			r              fd.ConversationRecord
			agentID, agent string
			opened, closed *time.Time
			tags           []string
		)
		if err := rows.Scan(&r.Conv, &r.State, &agentID, &agent, &opened, &closed, &tags, &r.MessageCount); err != nil {
			return nil, fmt.Errorf("contact conversations: %w", err)
		}
		if agentID != "" {
			r.Agent = &fd.Participant{Id: agentID, Name: agent}
		}
		if opened != nil {
			r.OpenedAt = timestamppb.New(*opened)
		}
		if closed != nil {
			r.ClosedAt = timestamppb.New(*closed)
		}
		r.Labels = tags
		for _, l := range tags {
			labels[l] = true
		}
		convs = append(convs, &r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contact conversations: %w", err)
	}
	for l := range labels {
		c.Labels = append(c.Labels, l)
	}
	slices.Sort(c.Labels)
	return &fd.ContactReply{Contact: c, Conversations: convs}, nil
}

// attributesOf returns c's attributes bounded: at most MaxContactAttributes, values cut.
func attributesOf(c *fd.Contact) map[string]string {
	out := map[string]string{}
	for k, v := range c.GetAttributes() {
		if len(out) >= frames.MaxContactAttributes {
			break
		}
		if len(v) > frames.MaxContactField {
			v = v[:frames.MaxContactField]
		}
		out[k] = v
	}
	return out
}

// ExpireContacts deletes up to limit contacts of tenant neither seen nor changed since cutoff
// and returns how many. A contact is personal data (name, email, attributes, pages, an agent's
// notes about them): it follows the tenant's retention in both modes, like notes, and a
// customer who comes back later starts a new one.
func (s *Store) ExpireContacts(ctx context.Context, tenant string, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM contacts WHERE (tenant, id) IN (
			SELECT tenant, id FROM contacts WHERE tenant = $1 AND last_seen < $2 AND updated_at < $2
			ORDER BY last_seen LIMIT $3 FOR UPDATE SKIP LOCKED)`, tenant, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("contacts retention of %s: %w", tenant, err)
	}
	return tag.RowsAffected(), nil
}
