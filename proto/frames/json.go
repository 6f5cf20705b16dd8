package frames

import (
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// ErrBadFrame is wrapped by every decoding and validation error; the gateway answers it with
// error code bad_frame.
var ErrBadFrame = errors.New("bad frame")

var decodeJSON = protojson.UnmarshalOptions{DiscardUnknown: true}

// DecodeJSON parses a JSON client frame. Unknown fields are ignored (clients may be newer);
// numbers may be JSON numbers or strings, as protojson allows.
func DecodeJSON(data []byte, f *fd.ClientFrame) error {
	if decodeFlat(data, f) {
		return nil
	}
	if err := decodeJSON.Unmarshal(data, f); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return nil
}

// AppendJSON appends the JSON text of a server frame to b.
//
// The output is the protojson form of the message with the protocol's field names
// (protojson.MarshalOptions{UseProtoNames: true}), except that integers are JSON numbers
// rather than strings, as PROTOCOL.md shows them; protojson parses either. It is written by
// hand because this is the gateway's hottest path: about ten times faster than protojson and
// allocation-free into a reused buffer.
func AppendJSON(b []byte, f *fd.ServerFrame) []byte {
	w := jw{b: b}
	w.serverFrame(f)
	return w.b
}

// AppendClientJSON appends the JSON text of a client frame (for Go clients and tests).
func AppendClientJSON(b []byte, f *fd.ClientFrame) []byte {
	w := jw{b: append(b, '{')}
	w.str("type", f.GetType())
	w.str("id", f.GetId())
	w.str("conv", f.GetConv())
	w.str("kind", f.GetKind())
	w.str("text", f.GetText())
	if f.Attachment != nil {
		w.key("attachment")
		w.attachment(f.Attachment)
	}
	w.optInt("after", f.After)
	w.optInt("before", f.Before)
	if f.Limit != nil {
		w.int("limit", int64(*f.Limit))
	}
	w.optInt("seq", f.Seq)
	w.str("status", f.GetStatus())
	w.str("to_agent", f.GetToAgent())
	w.str("to_queue", f.GetToQueue())
	w.optInt32("score", f.Score) // the desk's (rate), written here to keep the text's order
	w.str("comment", f.GetComment())
	w.str("email", f.GetEmail())
	w.clientFamilies(f) // family.go
	w.b = append(w.b, '}')
	return w.b
}

// Timestamp formats t as the protocol's timestamps: RFC 3339, milliseconds, UTC.
func Timestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

type jw struct {
	b     []byte
	comma bool
}

func (w *jw) key(k string) {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

func (w *jw) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *jw) int(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jw) optInt(k string, v *int64) {
	if v != nil {
		w.int(k, *v)
	}
}

func (w *jw) optInt32(k string, v *int32) {
	if v != nil {
		w.int(k, int64(*v))
	}
}

func (w *jw) optBool(k string, v *bool) {
	if v != nil {
		w.key(k)
		w.b = strconv.AppendBool(w.b, *v)
	}
}

func (w *jw) strs(k string, v []string) {
	if len(v) == 0 {
		return
	}
	w.array(k, len(v), func(i int) { w.b = appendString(w.b, v[i]) })
}

// array writes key and a JSON array of n items, item(i) appending the i-th to w.b; it writes
// an empty array for n 0 (callers that omit empty lists check first).
func (w *jw) array(k string, n int, item func(i int)) {
	w.key(k)
	w.b = append(w.b, '[')
	for i := range n {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		item(i)
	}
	w.b = append(w.b, ']')
}

// object writes a nested object with its own comma state.
func (w *jw) object(fill func(*jw)) {
	inner := jw{b: append(w.b, '{')}
	fill(&inner)
	w.b = append(inner.b, '}')
}

func (w *jw) participant(p *fd.Participant) {
	w.object(func(o *jw) {
		o.str("id", p.GetId())
		o.str("role", p.GetRole())
		o.str("name", p.GetName())
	})
}

func (w *jw) attachment(a *fd.Attachment) {
	w.object(func(o *jw) {
		o.str("id", a.GetId())
		o.str("url", a.GetUrl())
		o.str("type", a.GetType())
		if a.GetSize() != 0 {
			o.int("size", a.GetSize())
		}
		o.str("name", a.GetName())
		if a.GetDurationMs() != 0 {
			o.int("duration_ms", a.GetDurationMs())
		}
	})
}

func (w *jw) summary(s *fd.ConversationSummary) {
	w.object(func(o *jw) {
		o.str("conv", s.GetConv())
		o.optInt("last_seq", s.LastSeq)
		o.str("state", s.GetState())
		if s.Customer != nil {
			o.key("customer")
			o.participant(s.Customer)
		}
		if s.Agent != nil {
			o.key("agent")
			o.participant(s.Agent)
		}
		o.optInt("unread", s.Unread)
		o.str("opened_at", s.GetOpenedAt())
		o.strs("labels", s.Labels)
	})
}

func (w *jw) serverFrame(f *fd.ServerFrame) {
	w.object(func(o *jw) {
		o.str("type", f.GetType())
		o.str("id", f.GetId())
		o.str("conv", f.GetConv())
		o.optInt("seq", f.Seq)
		o.str("ts", f.GetTs())
		o.str("session", f.GetSession())
		o.str("user", f.GetUser())
		o.str("role", f.GetRole())
		o.str("tenant", f.GetTenant())
		if f.Conversations != nil {
			// An empty list is meaningful in welcome ("no open conversations"), so it is
			// written whenever the slice is non-nil.
			o.array("conversations", len(f.Conversations), func(i int) { o.summary(f.Conversations[i]) })
		}
		o.str("client_id", f.GetClientId())
		if f.From != nil {
			o.key("from")
			o.participant(f.From)
		}
		o.str("kind", f.GetKind())
		o.str("text", f.GetText())
		if f.Attachment != nil {
			o.key("attachment")
			o.attachment(f.Attachment)
		}
		o.optBool("partial", f.Partial)
		o.optInt32("position", f.Position)
		o.optInt32("eta_s", f.EtaS)
		if f.Agent != nil {
			o.key("agent")
			o.participant(f.Agent)
		}
		if f.Customer != nil {
			o.key("customer")
			o.participant(f.Customer)
		}
		o.str("state", f.GetState())
		o.optInt("last_seq", f.LastSeq)
		o.optBool("recovered", f.Recovered)
		if f.Messages != nil {
			o.array("messages", len(f.Messages), func(i int) { o.serverFrame(f.Messages[i]) })
		}
		o.optBool("more", f.More)
		o.optInt32("agents_available", f.AgentsAvailable)
		o.optInt32("queue_length", f.QueueLength)
		o.str("code", f.GetCode())
		o.str("message", f.GetMessage())
		o.str("reason", f.GetReason())
		o.str("queue", f.GetQueue())
		o.str("summary", f.GetSummary())
		o.strs("actions", f.Actions)
		o.str("reply_to", f.GetReplyTo())
		if f.GetMaxAudioS() != 0 {
			o.int("max_audio_s", int64(f.GetMaxAudioS()))
		}
		o.str("delta", f.GetDelta())
		o.optInt32("part", f.Part)
		o.serverFamilies(f) // family.go
		o.str("due_at", f.GetDueAt())
	})
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD; <, > and & are
// escaped so a frame pasted into HTML by a careless client still cannot open a tag; U+2028
// and U+2029 are escaped for JavaScript.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
