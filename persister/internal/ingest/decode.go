package ingest

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
)

// PoisonError says a stream message can never be written: it goes to the dead-letter subject
// instead of blocking the stream.
type PoisonError struct {
	// Kind is a short, bounded category for metrics: decode, invalid or rejected.
	Kind string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *PoisonError) Error() string { return e.Kind + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *PoisonError) Unwrap() error { return e.Err }

func poison(kind string, format string, args ...any) error {
	return &PoisonError{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// IsPoison reports whether err is a PoisonError.
func IsPoison(err error) bool {
	var p *PoisonError
	return errors.As(err, &p)
}

// The subject is authoritative for tenant and conversation: it is what NATS permissions
// checked when the message was published. A payload naming another tenant is refused rather
// than filed under either.
func checkIDs(subject string, kind string, tenant, conv *string) (subjects.Parsed, error) {
	p, err := subjects.Parse(subject)
	if err != nil || p.Kind != kind {
		return p, poison("invalid", "subject %q is not a %s subject", subject, kind)
	}
	if *tenant == "" {
		*tenant = p.Tenant
	}
	if *conv == "" {
		*conv = p.Conv
	}
	if *tenant != p.Tenant || *conv != p.Conv {
		return p, poison("invalid", "payload names %s/%s but the subject is %s", *tenant, *conv, subject)
	}
	return p, nil
}

// DecodeMessage decodes a FD_MESSAGES message.
func DecodeMessage(subject string, seq uint64, data []byte) (store.MessageRow, error) {
	var m fd.Message
	if err := proto.Unmarshal(data, &m); err != nil {
		return store.MessageRow{}, poison("decode", "decode Message: %w", err)
	}
	if _, err := checkIDs(subject, "msg", &m.Tenant, &m.Conv); err != nil {
		return store.MessageRow{}, err
	}
	if m.GetId() == "" {
		return store.MessageRow{}, poison("invalid", "message has no id")
	}
	sanitizeMessage(&m)
	return store.MessageRow{Seq: int64(seq), Msg: &m}, nil
}

// DecodeEvent decodes a FD_EVENTS message.
func DecodeEvent(subject string, seq uint64, data []byte) (store.EventRow, error) {
	var ev fd.ConversationEvent
	if err := proto.Unmarshal(data, &ev); err != nil {
		return store.EventRow{}, poison("decode", "decode ConversationEvent: %w", err)
	}
	if _, err := checkIDs(subject, "evt", &ev.Tenant, &ev.Conv); err != nil {
		return store.EventRow{}, err
	}
	if ev.GetId() == "" || ev.GetType() == "" {
		return store.EventRow{}, poison("invalid", "event has no id or type")
	}
	for _, s := range []*string{&ev.Id, &ev.Type, &ev.State, &ev.Queue, &ev.Reason, &ev.Summary} {
		*s = noNUL(*s)
	}
	for _, p := range []*fd.Participant{ev.Customer, ev.Agent, ev.PreviousAgent, ev.Actor} {
		sanitizeParticipant(p)
	}
	return store.EventRow{Seq: int64(seq), Event: &ev}, nil
}

// DecodeRead decodes a FD_READS message.
func DecodeRead(subject string, _ uint64, data []byte) (store.ReadRow, error) {
	var rp fd.ReadPosition
	if err := proto.Unmarshal(data, &rp); err != nil {
		return store.ReadRow{}, poison("decode", "decode ReadPosition: %w", err)
	}
	p, err := checkIDs(subject, "read", &rp.Tenant, &rp.Conv)
	if err != nil {
		return store.ReadRow{}, err
	}
	if id := rp.GetUser().GetId(); id != "" && id != p.User {
		return store.ReadRow{}, poison("invalid", "payload user %s but the subject is %s", id, subject)
	}
	if rp.GetSeq() < 0 {
		return store.ReadRow{}, poison("invalid", "negative seq %d", rp.GetSeq())
	}
	r := store.ReadRow{Tenant: rp.Tenant, Conv: rp.Conv, User: p.User, Seq: rp.GetSeq()}
	if ts := rp.GetAt(); ts != nil && ts.IsValid() {
		r.At = ts.AsTime()
	}
	return r, nil
}

// Postgres text cannot hold NUL; one NUL must not make a whole batch fail forever.
func noNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}

func sanitizeParticipant(p *fd.Participant) {
	if p == nil {
		return
	}
	p.Id, p.Role, p.Name = noNUL(p.Id), noNUL(p.Role), noNUL(p.Name)
}

func sanitizeMessage(m *fd.Message) {
	for _, s := range []*string{&m.Id, &m.ClientId, &m.Kind, &m.Text, &m.ReplyTo} {
		*s = noNUL(*s)
	}
	sanitizeParticipant(m.From)
	if a := m.Attachment; a != nil {
		a.Id, a.Url, a.Type, a.Name = noNUL(a.Id), noNUL(a.Url), noNUL(a.Type), noNUL(a.Name)
	}
}
