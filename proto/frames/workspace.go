package frames

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// The agent workspace (labels, canned responses, search, contacts, the pre-chat form): its
// frame types, values and bounds. Kept apart from names.go so the workspace's additions read
// as one piece of the contract.

// Operations of CannedRequest.op and ContactRequest.op.
const (
	CannedList    = "list"
	CannedSave    = "save"
	CannedDelete  = "delete"
	ContactGet    = "get"
	ContactUpdate = "update"
	ContactSeen   = "seen"
	// ContactPrechat stores a visitor's pre-chat answers (name, email, attributes).
	ContactPrechat = "prechat"
	// ContactLabel adds one of the tenant's labels to a contact or removes it (remove).
	ContactLabel = "label"
)

// Workspace bounds, per tenant and per item.
const (
	// MaxLabelDefinitions bounds a tenant's labels.
	MaxLabelDefinitions = 100
	// MaxConversationLabels bounds the labels on one conversation.
	MaxConversationLabels = 20
	// MaxCannedShared bounds a tenant's shared canned responses; MaxCannedPersonal an agent's own.
	MaxCannedShared   = 500
	MaxCannedPersonal = 100
	// MaxShortcutLength bounds a canned response's shortcut, MaxCannedText its text and title.
	MaxShortcutLength = 32
	MaxCannedText     = 4 << 10
	MaxCannedTitle    = 120
	// MaxSearchQuery bounds a search's text; DefaultSearchLimit and MaxSearchLimit its hits.
	MaxSearchQuery     = 256
	DefaultSearchLimit = 20
	MaxSearchLimit     = 50
	// MaxContactField bounds a contact's name, email and phone; MaxContactNotes its notes.
	MaxContactField = 200
	MaxContactNotes = 4 << 10
	// MaxPrechatFields bounds a tenant's own pre-chat questions; MaxPrechatAnswer an answer.
	MaxPrechatFields = 5
	MaxPrechatAnswer = 200
	// MaxContactAttributes bounds a contact's custom attributes (from token claims or the
	// pre-chat form); longer values are cut to MaxContactField.
	MaxContactAttributes = 30
	// MaxContactLabels bounds the labels agents set on one contact.
	MaxContactLabels = 20
)

// validateWorkspace checks the workspace's client frames; any other type is unknown.
func validateWorkspace(f *fd.ClientFrame) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, a...)...)
	}
	switch f.GetType() {
	case TypeLabel:
		if f.GetConv() == "" || !token(f.GetLabel()) {
			return bad("label frame needs conv and a label name")
		}
	case TypeCanned:
	case TypeCannedSave:
		c := f.GetCanned()
		if !ShortcutValid(c.GetShortcut()) {
			return bad("canned.shortcut must be 1-%d letters, digits, '-' or '_'", MaxShortcutLength)
		}
		if strings.TrimSpace(c.GetText()) == "" || len(c.GetText()) > MaxCannedText || len(c.GetTitle()) > MaxCannedTitle ||
			!utf8.ValidString(c.GetText()+c.GetTitle()) {
			return bad("canned.text must be 1 to %d bytes of UTF-8, title at most %d", MaxCannedText, MaxCannedTitle)
		}
	case TypeCannedDelete:
		if f.GetCanned().GetId() == "" {
			return bad("canned_delete frame needs canned.id")
		}
	case TypeSearch:
		s := f.GetSearch()
		if len(s.GetQuery()) > MaxSearchQuery || !utf8.ValidString(s.GetQuery()) || s.GetLimit() < 0 {
			return bad("search.query must be at most %d bytes of UTF-8", MaxSearchQuery)
		}
		if strings.TrimSpace(s.GetQuery()) == "" && s.GetLabel() == "" && s.GetAgent() == "" && s.GetState() == "" &&
			s.GetFrom() == "" && s.GetTo() == "" {
			return bad("search frame needs a query or a filter")
		}
	case TypeContact:
		if f.GetContact().GetId() == "" && f.GetConv() == "" {
			return bad("contact frame needs contact.id or conv")
		}
	case TypeContactUpdate:
		c := f.GetContact()
		if c.GetId() == "" {
			return bad("contact_update frame needs contact.id")
		}
		if len(c.GetName()) > MaxContactField || len(c.GetEmail()) > MaxContactField || len(c.GetPhone()) > MaxContactField ||
			len(c.GetNotes()) > MaxContactNotes {
			return bad("contact fields over their limits")
		}
	case TypeContactLabel:
		if f.GetContact().GetId() == "" || !token(f.GetLabel()) {
			return bad("contact_label frame needs contact.id and a label name")
		}
	case TypePrechat:
		if f.GetContact() == nil {
			return bad("prechat frame needs contact")
		}
	case "":
		return bad("missing type")
	default:
		return bad("unknown type %q", f.GetType())
	}
	return nil
}

// ShortcutValid reports whether s can be a canned response's shortcut.
func ShortcutValid(s string) bool { return len(s) <= MaxShortcutLength && token(s) }

// token reports whether s is a non-empty name of ASCII letters, digits, '-' and '_' (the
// shape of subject tokens, at most 64 characters here).
func token(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// workspaceJSON is protojson with the protocol's field names, for the workspace's nested
// messages: these frames are rare (a click, a search), so the hand-written encoder of the
// hot path is not worth their weight.
var workspaceJSON = protojson.MarshalOptions{UseProtoNames: true}

// workspace writes the workspace fields of a server frame.
func (w *jw) workspace(f *fd.ServerFrame) {
	w.strs("labels", f.Labels)
	list := func(k string, n int, item func(i int) []byte) {
		if n == 0 {
			return
		}
		w.key(k)
		w.b = append(w.b, '[')
		for i := range n {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.b = append(w.b, item(i)...)
		}
		w.b = append(w.b, ']')
	}
	list("label_defs", len(f.LabelDefs), func(i int) []byte { b, _ := workspaceJSON.Marshal(f.LabelDefs[i]); return b })
	list("canned", len(f.Canned), func(i int) []byte { b, _ := workspaceJSON.Marshal(f.Canned[i]); return b })
	list("hits", len(f.Hits), func(i int) []byte { b, _ := workspaceJSON.Marshal(f.Hits[i]); return b })
	if f.Contact != nil {
		b, _ := workspaceJSON.Marshal(f.Contact)
		w.key("contact")
		w.b = append(w.b, b...)
	}
	list("past", len(f.Past), func(i int) []byte { b, _ := workspaceJSON.Marshal(f.Past[i]); return b })
	if f.Prechat != nil {
		b, _ := workspaceJSON.Marshal(f.Prechat)
		w.key("prechat")
		w.b = append(w.b, b...)
	}
}

// clientWorkspace writes the workspace fields of a client frame.
func (w *jw) clientWorkspace(f *fd.ClientFrame) {
	w.str("label", f.GetLabel())
	if f.GetRemove() {
		w.key("remove")
		w.b = append(w.b, "true"...)
	}
	for _, m := range []struct {
		k string
		v interface{ ProtoReflect() protoreflect.Message }
	}{{"canned", f.Canned}, {"search", f.Search}, {"contact", f.Contact}} {
		if m.v == nil || !m.v.ProtoReflect().IsValid() {
			continue
		}
		b, _ := workspaceJSON.Marshal(m.v)
		w.key(m.k)
		w.b = append(w.b, b...)
	}
}
