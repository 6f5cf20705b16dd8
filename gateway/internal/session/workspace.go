package session

// The agent workspace's frames: labels (a dispatcher command, like transfer), canned
// responses, search and contacts (persister queries), and a visitor's pre-chat answers.
// Every one is tenant-scoped by the session (the query subjects carry its tenant, which the
// persister checks against the request's), role-checked by its table entry and bounded by
// frames.Validate and the persister's per-tenant limits.

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// workspaceHandlers join frameHandlers (table.go) at init, so the workspace's entries live
// with their handlers and the table's file stays as it is.
var workspaceHandlers = map[string]frameHandler{
	// An agent labels a conversation they take part in; a supervisor any of the tenant's. The
	// dispatcher checks again (the holder, the tenant's labels) and decides.
	frames.TypeLabel:         {roles: staff, access: supervisorReader, handle: (*Session).handleLabel},
	frames.TypeCanned:        {roles: staff, access: none, handle: (*Session).handleCanned},
	frames.TypeCannedSave:    {roles: staff, access: none, handle: (*Session).handleCanned},
	frames.TypeCannedDelete:  {roles: staff, access: none, handle: (*Session).handleCanned},
	frames.TypeSearch:        {roles: staff, access: none, handle: (*Session).handleSearch},
	frames.TypeContact:       {roles: staff, access: none, handle: (*Session).handleContact},
	frames.TypeContactUpdate: {roles: staff, access: none, handle: (*Session).handleContact},
	frames.TypeContactLabel:  {roles: staff, access: none, handle: (*Session).handleContact},
	frames.TypePrechat:       {roles: customers, access: none, handle: (*Session).handlePrechat},
}

func init() {
	for k, h := range workspaceHandlers {
		frameHandlers[k] = h
	}
}

// tenantHasLabel says whether the session's tenant defines label.
func (s *Session) tenantHasLabel(label string) bool {
	t, _ := s.m.tenants.Get(s.tenant)
	return slices.ContainsFunc(t.GetLabels(), func(l *fd.LabelDefinition) bool { return l.GetName() == label })
}

func (s *Session) handleLabel(ctx context.Context, f *fd.ClientFrame) error {
	if !s.tenantHasLabel(f.GetLabel()) {
		return badFrameError("unknown label " + f.GetLabel())
	}
	return s.command(ctx, f, subjects.ConvCommands(s.tenant, f.GetConv()), &fd.Command{Type: frames.CommandLabel,
		Conv: f.GetConv(), Label: f.GetLabel(), Remove: f.GetRemove()})
}

// handleCanned lists, saves or deletes canned responses and answers with the caller's list.
func (s *Session) handleCanned(ctx context.Context, f *fd.ClientFrame) error {
	req := &fd.CannedRequest{Tenant: s.tenant, User: s.user, Supervisor: s.role == frames.RoleSupervisor, Op: frames.CannedList}
	switch f.GetType() {
	case frames.TypeCannedSave:
		c := f.GetCanned()
		req.Op, req.Item = frames.CannedSave, &fd.CannedResponse{Id: c.GetId(), Shortcut: c.GetShortcut(),
			Title: frames.CleanText(c.GetTitle()), Text: frames.CleanText(c.GetText()), Owner: c.GetOwner()}
	case frames.TypeCannedDelete:
		req.Op, req.Item = frames.CannedDelete, &fd.CannedResponse{Id: f.GetCanned().GetId()}
	}
	reply, err := s.m.rec.Canned(ctx, req)
	if err != nil {
		return err
	}
	switch reply.GetError() {
	case "":
	case "forbidden":
		return errForbidden
	default:
		return badFrameError(reply.GetError())
	}
	items := reply.GetItems()
	if items == nil {
		items = []*fd.CannedResponse{}
	}
	s.send(&fd.ServerFrame{Type: frames.TypeCanned, Id: f.GetId(), Canned: items})
	return nil
}

// handleSearch searches the record: an agent's conversations (those they took part in), a
// supervisor's tenant.
func (s *Session) handleSearch(ctx context.Context, f *fd.ClientFrame) error {
	q := f.GetSearch()
	req := &fd.SearchRequest{Tenant: s.tenant, Query: q.GetQuery(), Label: q.GetLabel(), Agent: q.GetAgent(),
		State: q.GetState(), Limit: min(max(q.GetLimit(), 0), frames.MaxSearchLimit)}
	if req.Limit == 0 {
		req.Limit = frames.DefaultSearchLimit
	}
	if s.role != frames.RoleSupervisor {
		req.User = s.user
	}
	var err error
	if req.From, err = searchTime(q.GetFrom()); err != nil {
		return err
	}
	if req.To, err = searchTime(q.GetTo()); err != nil {
		return err
	}
	reply, err := s.m.rec.Search(ctx, req)
	if err != nil {
		return err
	}
	hits := make([]*fd.SearchResult, 0, len(reply.GetHits()))
	for _, h := range reply.GetHits() {
		r := &fd.SearchResult{Conv: h.GetConv(), Seq: h.GetSeq(), Snippet: h.GetSnippet(), State: h.GetState(),
			Customer: h.GetCustomer().GetName(), Agent: h.GetAgent().GetName(), Labels: h.GetLabels()}
		if r.Customer == "" {
			r.Customer = h.GetCustomer().GetId()
		}
		if h.OpenedAt != nil {
			r.OpenedAt = frames.Timestamp(h.GetOpenedAt().AsTime())
		}
		if h.At != nil {
			r.Ts = frames.Timestamp(h.GetAt().AsTime())
		}
		hits = append(hits, r)
	}
	// An empty list says "nothing found", which the client shows; the encoder writes a
	// non-empty list only, so the frame's type and id carry the answer.
	s.send(&fd.ServerFrame{Type: frames.TypeSearch, Id: f.GetId(), Hits: hits})
	return nil
}

// searchTime parses a search filter's time: RFC 3339 or a day (YYYY-MM-DD, UTC).
func searchTime(v string) (*timestamppb.Timestamp, error) {
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return timestamppb.New(t), nil
		}
	}
	return nil, badFrameError("search.from and search.to are RFC 3339 times or YYYY-MM-DD")
}

// handleContact reads a contact (by id, or the customer of conv) or changes it: its fields
// (contact_update) or its labels (contact_label, one of the tenant's).
func (s *Session) handleContact(ctx context.Context, f *fd.ClientFrame) error {
	c := f.GetContact()
	id := c.GetId()
	var customer *fd.Participant // the conversation's, when the contact is named by it
	if id == "" {
		if err := s.access(ctx, f.GetConv(), true); err != nil {
			return err
		}
		conv, err := s.m.rec.Conversation(ctx, s.tenant, f.GetConv())
		if err != nil {
			return err
		}
		if conv == nil {
			return errUnknownConv
		}
		customer = conv.GetCustomer()
		id = customer.GetId()
	}
	if !subjects.ValidToken(id) {
		return badFrameError("bad contact.id")
	}
	req := &fd.ContactRequest{Tenant: s.tenant, Op: frames.ContactGet, Contact: &fd.Contact{Id: id}}
	if f.GetType() == frames.TypeContactUpdate {
		req.Op = frames.ContactUpdate
		req.Contact = &fd.Contact{Id: id, Name: frames.CleanText(c.GetName()), Email: strings.TrimSpace(c.GetEmail()),
			Phone: frames.CleanText(c.GetPhone()), Notes: frames.CleanText(c.GetNotes())}
		if req.Contact.Email != "" && !emailValid(req.Contact.Email) {
			return badFrameError("contact.email is not an email address")
		}
	}
	if f.GetType() == frames.TypeContactLabel {
		if !s.tenantHasLabel(f.GetLabel()) {
			return badFrameError("unknown label " + f.GetLabel())
		}
		req.Op, req.Label, req.Remove, req.Actor = frames.ContactLabel, f.GetLabel(), f.GetRemove(), s.me
	}
	reply, err := s.m.rec.Contact(ctx, req)
	if err != nil {
		return err
	}
	if req.Op == frames.ContactLabel && !req.Remove && !slices.Contains(reply.GetContact().GetOwnLabels(), req.Label) {
		return badFrameError(fmt.Sprintf("at most %d labels on a contact", frames.MaxContactLabels))
	}
	if reply.GetContact().GetName() == "" && customer.GetName() != "" {
		// The record has not stored the customer yet (a conversation of a few seconds): the
		// conversation knows their name.
		reply.Contact.Name = customer.GetName()
	}
	s.send(contactFrame(f.GetId(), f.GetConv(), reply))
	return nil
}

// contactFrame is the contact frame of a reply.
func contactFrame(id, conv string, reply *fd.ContactReply) *fd.ServerFrame {
	past := make([]*fd.PastConversation, 0, len(reply.GetConversations()))
	for _, r := range reply.GetConversations() {
		p := &fd.PastConversation{Conv: r.GetConv(), State: r.GetState(), Agent: r.GetAgent().GetName(),
			Messages: r.GetMessageCount(), Labels: r.GetLabels()}
		if r.OpenedAt != nil {
			p.OpenedAt = frames.Timestamp(r.GetOpenedAt().AsTime())
		}
		past = append(past, p)
	}
	return &fd.ServerFrame{Type: frames.TypeContact, Id: id, Conv: conv, Contact: reply.GetContact(), Past: past}
}

// handlePrechat stores a visitor's answers to the tenant's pre-chat form, checked against it.
// A signed-in customer has no form to fill in.
func (s *Session) handlePrechat(ctx context.Context, f *fd.ClientFrame) error {
	t, _ := s.m.tenants.Get(s.tenant)
	form := t.GetPrechat()
	if !form.GetEnabled() || s.claims.Kind == token.KindCustomer {
		return badFrameError("no pre-chat form")
	}
	contact, err := PrechatAnswers(form, f.GetContact())
	if err != nil {
		return err
	}
	contact.Id = s.user
	if _, err := s.m.rec.Contact(ctx, &fd.ContactRequest{Tenant: s.tenant, Op: frames.ContactPrechat, Contact: contact}); err != nil {
		return err
	}
	if f.GetId() != "" {
		s.send(&fd.ServerFrame{Type: frames.TypeAck, Id: f.GetId(), Ts: frames.Timestamp(time.Now())})
	}
	return nil
}

// PrechatAnswers checks a visitor's answers against the tenant's form and returns what to
// store: the name and email when the form asks for them, the tenant's fields as attributes
// (nothing the form does not ask).
func PrechatAnswers(form *fd.PrechatForm, in *fd.Contact) (*fd.Contact, error) {
	out := &fd.Contact{Attributes: map[string]string{}}
	if form.GetAskName() {
		out.Name = strings.TrimSpace(frames.CleanText(in.GetName()))
		if out.Name == "" || len([]rune(out.Name)) > frames.MaxPrechatAnswer {
			return nil, badFrameError("prechat: name is required (at most 200 characters)")
		}
	}
	if form.GetAskEmail() {
		out.Email = strings.TrimSpace(in.GetEmail())
		if !emailValid(out.Email) {
			return nil, badFrameError("prechat: email is not an email address")
		}
	}
	for i, field := range form.GetFields() {
		if i >= frames.MaxPrechatFields {
			break
		}
		v := strings.TrimSpace(frames.CleanText(in.GetAttributes()[field.GetName()]))
		limit := frames.MaxPrechatAnswer
		if n := int(field.GetMaxLen()); n > 0 {
			limit = min(n, limit)
		}
		switch {
		case v == "" && field.GetRequired():
			return nil, badFrameError(fmt.Sprintf("prechat: %s is required", field.GetName()))
		case len([]rune(v)) > limit:
			return nil, badFrameError(fmt.Sprintf("prechat: %s is longer than %d characters", field.GetName(), limit))
		case v != "":
			out.Attributes[field.GetName()] = v
		}
	}
	return out, nil
}

// emailValid reports whether v is one plain address (no display name), at most 200 bytes.
func emailValid(v string) bool {
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v && len(v) <= frames.MaxContactField && strings.Contains(v[strings.LastIndex(v, "@"):], ".")
}

// workspaceWelcome adds the workspace's part of a welcome frame: the tenant's labels to staff,
// the pre-chat form to visitors (signed-in customers skip it); and records a customer's
// connection on their contact (name, email and attributes from the token), in the background:
// welcome does not wait for the record.
func (m *Manager) workspaceWelcome(s *Session, w *fd.ServerFrame) {
	t, _ := m.Tenant(s.tenant)
	if s.role != frames.RoleCustomer {
		w.LabelDefs = t.GetLabels()
		return
	}
	if t.GetPrechat().GetEnabled() && s.claims.Kind != token.KindCustomer {
		w.Prechat = t.GetPrechat()
	}
	contact := &fd.Contact{Id: s.user, Name: s.claims.Name, Email: s.claims.Email, Attributes: s.claims.Attributes}
	if !m.seen.due(s.tenant, s.page, contact, time.Now()) {
		return
	}
	m.spawn(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, m.cfg.RequestTimeout)
		defer cancel()
		_, _ = m.rec.Contact(ctx, &fd.ContactRequest{Tenant: s.tenant, Op: frames.ContactSeen, Contact: contact, Page: s.page})
	})
}

// onLabeled tells the conversation's staff its labels changed; customers never see labels.
func (s *Session) onLabeled(ev *fd.ConversationEvent, conv string) {
	if s.role == frames.RoleCustomer {
		return
	}
	s.send(&fd.ServerFrame{Type: frames.TypeLabels, Conv: conv, Labels: ev.GetLabels()})
}

// tookPart reports whether a staff member took part in a conversation the buckets no longer
// say they did (closed: participant keys gone, no agent), as the record remembers it: agents
// read their past conversations, opened from search or a contact's history. Customers have
// mayRead; a record that cannot answer says no.
func (s *Session) tookPart(ctx context.Context, conv string) bool {
	if s.role == frames.RoleCustomer {
		return false
	}
	reply, err := s.m.rec.Search(ctx, &fd.SearchRequest{Tenant: s.tenant, User: s.user, Conv: conv, Limit: 1})
	return err == nil && len(reply.GetHits()) == 1 && reply.GetHits()[0].GetConv() == conv
}
