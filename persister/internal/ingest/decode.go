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

// DecodeMessage decodes a FD_MESSAGES message. Repairs lists the NUL bytes it removed.
func DecodeMessage(subject string, seq uint64, data []byte) (store.MessageRow, []string, error) {
	var m fd.Message
	if err := proto.Unmarshal(data, &m); err != nil {
		return store.MessageRow{}, nil, poison("decode", "decode Message: %w", err)
	}
	if _, err := checkIDs(subject, "msg", &m.Tenant, &m.Conv); err != nil {
		return store.MessageRow{}, nil, err
	}
	if m.GetId() == "" {
		return store.MessageRow{}, nil, poison("invalid", "message has no id")
	}
	var r repairs
	r.id("id", m.Id)
	r.id("client_id", m.ClientId)
	r.id("reply_to", m.ReplyTo)
	r.participant("from", m.From)
	r.text("kind", &m.Kind)
	r.text("text", &m.Text)
	if a := m.Attachment; a != nil {
		r.id("attachment.id", a.Id)
		r.text("attachment.url", &a.Url)
		r.text("attachment.type", &a.Type)
		r.text("attachment.name", &a.Name)
	}
	if r.err != nil {
		return store.MessageRow{}, nil, r.err
	}
	return store.MessageRow{Seq: int64(seq), Msg: &m}, r.done, nil
}

// DecodeEvent decodes a FD_EVENTS message. Repairs lists the NUL bytes it removed.
func DecodeEvent(subject string, seq uint64, data []byte) (store.EventRow, []string, error) {
	var ev fd.ConversationEvent
	if err := proto.Unmarshal(data, &ev); err != nil {
		return store.EventRow{}, nil, poison("decode", "decode ConversationEvent: %w", err)
	}
	if _, err := checkIDs(subject, "evt", &ev.Tenant, &ev.Conv); err != nil {
		return store.EventRow{}, nil, err
	}
	if ev.GetId() == "" || ev.GetType() == "" {
		return store.EventRow{}, nil, poison("invalid", "event has no id or type")
	}
	var r repairs
	r.id("id", ev.Id)
	for _, f := range []struct {
		name string
		s    *string
	}{{"type", &ev.Type}, {"state", &ev.State}, {"queue", &ev.Queue}, {"reason", &ev.Reason}, {"summary", &ev.Summary}} {
		r.text(f.name, f.s)
	}
	r.participant("customer", ev.Customer)
	r.participant("agent", ev.Agent)
	r.participant("previous_agent", ev.PreviousAgent)
	r.participant("actor", ev.Actor)
	if r.err != nil {
		return store.EventRow{}, nil, r.err
	}
	return store.EventRow{Seq: int64(seq), Event: &ev}, r.done, nil
}

// DecodeRead decodes a FD_READS message. It never repairs anything: a read position holds
// ids only, all checked against the subject.
func DecodeRead(subject string, _ uint64, data []byte) (store.ReadRow, []string, error) {
	var rp fd.ReadPosition
	if err := proto.Unmarshal(data, &rp); err != nil {
		return store.ReadRow{}, nil, poison("decode", "decode ReadPosition: %w", err)
	}
	p, err := checkIDs(subject, "read", &rp.Tenant, &rp.Conv)
	if err != nil {
		return store.ReadRow{}, nil, err
	}
	if id := rp.GetUser().GetId(); id != "" && id != p.User {
		return store.ReadRow{}, nil, poison("invalid", "payload user %s but the subject is %s", id, subject)
	}
	if rp.GetSeq() < 0 {
		return store.ReadRow{}, nil, poison("invalid", "negative seq %d", rp.GetSeq())
	}
	r := store.ReadRow{Tenant: rp.Tenant, Conv: rp.Conv, User: p.User, Seq: rp.GetSeq()}
	if ts := rp.GetAt(); ts != nil && ts.IsValid() {
		r.At = ts.AsTime()
	}
	return r, nil, nil
}

// repairs makes a decoded record storable. Postgres text cannot hold NUL, and a publisher
// may send one (the gateway strips control characters, but the persister does not trust
// publishers). In free text (the message text, names, reasons) the NULs are removed and the
// message is kept: one stray byte must neither lose it nor, refused by Postgres, send it to
// the dead letters. An identifier with a NUL is refused instead: removing the byte could
// turn it into another message's or user's id, and the message would then be dropped as a
// duplicate or filed under someone else. Protobuf decoding already refused invalid UTF-8.
type repairs struct {
	done []string
	err  error
}

func (r *repairs) text(field string, s *string) {
	if strings.IndexByte(*s, 0) < 0 {
		return
	}
	*s = strings.ReplaceAll(*s, "\x00", "")
	r.done = append(r.done, "removed NUL bytes from "+field)
}

func (r *repairs) id(field, s string) {
	if r.err == nil && strings.IndexByte(s, 0) >= 0 {
		r.err = poison("invalid", "%s contains a NUL byte", field)
	}
}

func (r *repairs) participant(field string, p *fd.Participant) {
	if p == nil {
		return
	}
	r.id(field+".id", p.Id)
	r.text(field+".role", &p.Role)
	r.text(field+".name", &p.Name)
}
