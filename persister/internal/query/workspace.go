package query

// The workspace's queries: canned responses and contacts. The gateway asks them for agents'
// and supervisors' frames (and a customer's pre-chat answers), filling the caller from the
// token; these handlers apply the data's rules (who may change what, how many per tenant).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// Kinds of workspace query, as in subjects.AllQueries.
const (
	KindCanned  = "canned"
	KindContact = "contact"
)

// workspaceKinds are subscribed with the record's queries.
var workspaceKinds = []string{KindCanned, KindContact}

// refusal turns a store's refusal into the reply's stable error text; other errors stay errors.
func refusal(err error) (string, error) {
	for _, r := range []error{store.ErrForbidden, store.ErrLimit, store.ErrDuplicateShortcut, store.ErrNotFound} {
		if errors.Is(err, r) {
			return r.Error(), nil
		}
	}
	return "", err
}

// answerWorkspace answers a workspace query.
func (s *Server) answerWorkspace(ctx context.Context, kind string, m *nats.Msg) (proto.Message, error) {
	switch kind {
	case KindCanned:
		req, t, err := decodeRequest(s, m, func(r *fd.CannedRequest) (string, bool) {
			return "user", subjects.ValidToken(r.GetUser())
		})
		if err != nil {
			return nil, err
		}
		return s.canned(ctx, t, req)
	case KindContact:
		req, t, err := decodeRequest(s, m, func(r *fd.ContactRequest) (string, bool) {
			return "contact id", subjects.ValidToken(r.GetContact().GetId())
		})
		if err != nil {
			return nil, err
		}
		return s.contact(ctx, t, req)
	}
	return nil, fmt.Errorf("%w: kind %s", ErrBadRequest, kind)
}

func (s *Server) canned(ctx context.Context, tenant string, req *fd.CannedRequest) (*fd.CannedReply, error) {
	item := req.GetItem()
	var err error
	switch req.GetOp() {
	case frames.CannedList:
	case frames.CannedSave:
		if !frames.ShortcutValid(item.GetShortcut()) || item.GetText() == "" || len(item.GetText()) > frames.MaxCannedText ||
			len(item.GetTitle()) > frames.MaxCannedTitle {
			return nil, fmt.Errorf("%w: canned response", ErrBadRequest)
		}
		err = s.st.SaveCanned(ctx, tenant, req.GetUser(), req.GetSupervisor(), item)
	case frames.CannedDelete:
		err = s.st.DeleteCanned(ctx, tenant, req.GetUser(), req.GetSupervisor(), item.GetId())
	default:
		return nil, fmt.Errorf("%w: op %q", ErrBadRequest, req.GetOp())
	}
	msg, err := refusal(err)
	if err != nil {
		return nil, err
	}
	items, err := s.st.ListCanned(ctx, tenant, req.GetUser())
	if err != nil {
		return nil, err
	}
	return &fd.CannedReply{Items: items, Error: msg}, nil
}

func (s *Server) contact(ctx context.Context, tenant string, req *fd.ContactRequest) (*fd.ContactReply, error) {
	c := req.GetContact()
	var err error
	switch req.GetOp() {
	case frames.ContactGet:
	case frames.ContactSeen:
		if err := s.st.ContactSeen(ctx, tenant, c, req.GetPage(), time.Now()); err != nil {
			return nil, err
		}
		return &fd.ContactReply{}, nil
	case frames.ContactUpdate:
		if len(c.GetName()) > frames.MaxContactField || len(c.GetEmail()) > frames.MaxContactField ||
			len(c.GetPhone()) > frames.MaxContactField || len(c.GetNotes()) > frames.MaxContactNotes {
			return nil, fmt.Errorf("%w: contact fields", ErrBadRequest)
		}
		err = s.st.UpdateContact(ctx, tenant, c)
	case frames.ContactPrechat:
		err = s.st.PrechatContact(ctx, tenant, c, time.Now())
	case frames.ContactLabel:
		if !subjects.ValidToken(req.GetLabel()) {
			return nil, fmt.Errorf("%w: label", ErrBadRequest)
		}
		var got store.ContactLabels
		got, err = s.st.LabelContact(ctx, tenant, c.GetId(), req.GetLabel(), req.GetRemove(), frames.MaxContactLabels,
			req.GetActor(), time.Now())
		if err == nil {
			err = s.announceContact(ctx, tenant, c.GetId(), got)
		}
	default:
		return nil, fmt.Errorf("%w: op %q", ErrBadRequest, req.GetOp())
	}
	if err != nil {
		return nil, err
	}
	return s.st.Contact(ctx, tenant, c.GetId())
}

// contactRepublish is how long after a contact's latest label change a request that changes
// nothing publishes that change's event again: well within FD_EVENTS' duplicate window (10
// minutes by default), so a copy already stored is dropped by JetStream, while a publish that
// failed (or a persister that died between the commit and the publish) is made good by the
// console's retry. Later, nothing is published again: a retry never makes a second event.
const contactRepublish = 2 * time.Minute

// announceContact publishes a contact's label change once it is committed: this call's, or the
// latest one when this call changed nothing and that one is recent (contactRepublish). An error
// fails the request, so the caller retries and the retry publishes the same event (same id).
func (s *Server) announceContact(ctx context.Context, tenant, contact string, got store.ContactLabels) error {
	ev := got.Event
	if s.opt.PublishEvent == nil || ev == nil || (!got.Changed && time.Since(ev.GetAt().AsTime()) > contactRepublish) {
		return nil
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		return err
	}
	if err := s.opt.PublishEvent(ctx, subjects.ContactEvents(tenant, contact), ev.GetId(), data); err != nil {
		return fmt.Errorf("publish %s: %w", ev.GetId(), err)
	}
	return nil
}
