package frames

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Bounds on client frame fields.
const (
	// MaxIDLength bounds a client frame id.
	MaxIDLength = 128
	// MaxHistoryLimit caps a history page.
	MaxHistoryLimit = 200
	// DefaultHistoryLimit is the page size when the client gives none.
	DefaultHistoryLimit = 50
	// MaxTextBytes bounds a message's text. A client's send over it is refused (too_large);
	// text from any other producer is cut to it when made into a frame (MessageFrame), so one
	// message costs at most six times as much in JSON (the longest escape) and about as much in
	// protobuf, plus its other fields, however it was written.
	MaxTextBytes = 32 << 10
)

// MaxEmailBytes bounds an email address (RFC 5321: 254 in a path).
const MaxEmailBytes = 254

// Validate checks that a decoded client frame has the fields its type needs. It does not check
// roles or ownership (the gateway does, with the session); every error wraps ErrBadFrame and
// names the field.
func Validate(f *fd.ClientFrame) error {
	if len(f.GetId()) > MaxIDLength {
		return fmt.Errorf("%w: id longer than %d", ErrBadFrame, MaxIDLength)
	}
	need := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("%w: %s frame needs %s", ErrBadFrame, f.GetType(), name)
		}
		return nil
	}
	switch f.GetType() {
	case TypeSend:
		if err := need("id", f.GetId()); err != nil {
			return err
		}
		switch f.GetKind() {
		case "", KindText:
			if strings.TrimSpace(f.GetText()) == "" && f.GetAttachment() == nil {
				return fmt.Errorf("%w: send frame needs text or attachment", ErrBadFrame)
			}
		case KindImage, KindAudio, KindFile:
			if f.GetAttachment().GetId() == "" {
				return fmt.Errorf("%w: %s message needs attachment.id", ErrBadFrame, f.GetKind())
			}
		default:
			return fmt.Errorf("%w: unknown kind %q", ErrBadFrame, f.GetKind())
		}
		if !utf8.ValidString(f.GetText()) {
			return fmt.Errorf("%w: text is not UTF-8", ErrBadFrame)
		}
	case TypeSync:
		if err := need("conv", f.GetConv()); err != nil {
			return err
		}
		if f.GetAfter() < 0 {
			return fmt.Errorf("%w: after must not be negative", ErrBadFrame)
		}
	case TypeHistory:
		if err := need("conv", f.GetConv()); err != nil {
			return err
		}
		if f.GetBefore() < 0 || f.GetLimit() < 0 {
			return fmt.Errorf("%w: before and limit must not be negative", ErrBadFrame)
		}
	case TypeTyping, TypeHandoff, TypeClose, TypeAssist, TypeAccept, TypeDecline, TypeLeaveMessage, TypeToBot:
		if f.GetType() != TypeHandoff { // a customer's handoff may name no conversation
			if err := need("conv", f.GetConv()); err != nil {
				return err
			}
		}
	case TypeRead:
		if err := need("conv", f.GetConv()); err != nil {
			return err
		}
		if f.Seq == nil || f.GetSeq() < 0 {
			return fmt.Errorf("%w: read frame needs seq", ErrBadFrame)
		}
	case TypeStatus:
		if s := f.GetStatus(); s != StatusAvailable && s != StatusAway {
			return fmt.Errorf("%w: status must be available or away", ErrBadFrame)
		}
	case TypeTransfer:
		if err := need("conv", f.GetConv()); err != nil {
			return err
		}
		if (f.GetToAgent() == "") == (f.GetToQueue() == "") {
			return fmt.Errorf("%w: transfer frame needs exactly one of to_agent and to_queue", ErrBadFrame)
		}
	case TypeTranscript:
		if err := need("conv", f.GetConv()); err != nil {
			return err
		}
		if err := need("email", f.GetEmail()); err != nil {
			return err
		}
		if len(f.GetEmail()) > MaxEmailBytes {
			return fmt.Errorf("%w: email longer than %d", ErrBadFrame, MaxEmailBytes)
		}
	case TypePing:
	default:
		return validateFamilies(f) // family.go; it refuses unknown and missing types
	}
	return nil
}

// CleanText strips control characters other than newline and tab, and replaces invalid UTF-8.
// Text is otherwise stored exactly as sent; clients must render it as text, never as HTML.
func CleanText(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\t') {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unicode.IsControl(r):
		case r == utf8.RuneError:
			b.WriteRune(unicode.ReplacementChar)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// truncateText cuts s to at most n bytes at a rune boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// MessageFrame turns a stored message and its stream sequence into the `message` frame clients
// receive; text past MaxTextBytes is cut.
func MessageFrame(m *fd.Message, seq int64) *fd.ServerFrame {
	f := &fd.ServerFrame{
		Type:       TypeMessage,
		Id:         m.GetId(),
		Conv:       m.GetConv(),
		ClientId:   m.GetClientId(),
		From:       m.GetFrom(),
		Kind:       m.GetKind(),
		Text:       truncateText(m.GetText(), MaxTextBytes),
		Attachment: m.GetAttachment(),
		ReplyTo:    m.GetReplyTo(),
	}
	if seq > 0 {
		f.Seq = &seq
	}
	if m.CreatedAt != nil {
		f.Ts = Timestamp(m.CreatedAt.AsTime())
	}
	return f
}
