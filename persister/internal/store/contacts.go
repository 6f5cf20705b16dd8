package store

// Contacts (migration 0102): one row per customer of a tenant, and their conversations.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// MaxContactPages is how many of the pages a contact came from are kept.
const MaxContactPages = 10

// MaxContactConversations bounds the conversations a contact is answered with.
const MaxContactConversations = 20

// seenContactSQL records that a customer connected: created on first sight; the name and
// email the token gives replace the stored ones unless an agent edited the contact; token
// attributes are merged over the stored ones; the page goes first in pages.
const seenContactSQL = `INSERT INTO contacts AS k (tenant, id, name, email, attributes, pages, first_seen, last_seen)
VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 = '' THEN '{}'::text[] ELSE ARRAY[$6] END, $7, $7)
ON CONFLICT (tenant, id) DO UPDATE SET
	name = CASE WHEN EXCLUDED.name <> '' AND (NOT k.edited OR k.name = '') THEN EXCLUDED.name ELSE k.name END,
	email = CASE WHEN EXCLUDED.email <> '' AND (NOT k.edited OR k.email = '') THEN EXCLUDED.email ELSE k.email END,
	attributes = k.attributes || EXCLUDED.attributes,
	pages = CASE WHEN $6 = '' THEN k.pages ELSE (ARRAY[$6] || array_remove(k.pages, $6))[1:10] END,
	first_seen = LEAST(k.first_seen, EXCLUDED.first_seen),
	last_seen = GREATEST(k.last_seen, EXCLUDED.last_seen),
	updated_at = now()`

// ContactSeen records a customer's connection (name, email and attributes from their token, the
// page they are on).
func (s *Store) ContactSeen(ctx context.Context, tenant string, c *fd.Contact, page string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, seenContactSQL, tenant, c.GetId(), c.GetName(), c.GetEmail(), attributesOf(c), page, at); err != nil {
		return fmt.Errorf("contact seen: %w", err)
	}
	return nil
}

// labelContactSQL adds ($4 false) or removes ($4 true) label $3 on a contact, creating the
// contact when an agent labels one the record has not seen connect; the labels stay sorted and
// at most $5: an add past it changes nothing, which the caller sees in the contact it reads
// back.
const labelContactSQL = `INSERT INTO contacts AS k (tenant, id, labels)
VALUES ($1, $2, CASE WHEN $4 THEN '{}'::text[] ELSE ARRAY[$3::text] END)
ON CONFLICT (tenant, id) DO UPDATE SET
	labels = CASE
		WHEN $4 THEN array_remove(k.labels, $3::text)
		WHEN $3::text = ANY(k.labels) OR cardinality(k.labels) >= $5 THEN k.labels
		ELSE ARRAY(SELECT unnest(k.labels || $3::text) ORDER BY 1) END,
	updated_at = now()`

// LabelContact adds label to a contact (unless it has max already), or removes it. The caller
// checks the label is one of the tenant's.
func (s *Store) LabelContact(ctx context.Context, tenant, id, label string, remove bool, max int) error {
	if _, err := s.pool.Exec(ctx, labelContactSQL, tenant, id, label, remove, max); err != nil {
		return fmt.Errorf("label contact: %w", err)
	}
	return nil
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
// fields as attributes.
func (s *Store) PrechatContact(ctx context.Context, tenant string, c *fd.Contact, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO contacts AS k (tenant, id, name, email, attributes, first_seen, last_seen) VALUES ($1, $2, $3, $4, $5, $6, $6)
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
