package frames

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

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

// validateWorkspace checks the workspace's client frames (a family's validate); ok is false
// for any other type.
func validateWorkspace(f *fd.ClientFrame) (ok bool, err error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadFrame}, a...)...)
	}
	switch f.GetType() {
	case TypeLabel:
		if f.GetConv() == "" || !token(f.GetLabel()) {
			return true, bad("label frame needs conv and a label name")
		}
	case TypeCanned:
	case TypeCannedSave:
		c := f.GetCanned()
		if !ShortcutValid(c.GetShortcut()) {
			return true, bad("canned.shortcut must be 1-%d letters, digits, '-' or '_'", MaxShortcutLength)
		}
		if strings.TrimSpace(c.GetText()) == "" || len(c.GetText()) > MaxCannedText || len(c.GetTitle()) > MaxCannedTitle ||
			!utf8.ValidString(c.GetText()+c.GetTitle()) {
			return true, bad("canned.text must be 1 to %d bytes of UTF-8, title at most %d", MaxCannedText, MaxCannedTitle)
		}
	case TypeCannedDelete:
		if f.GetCanned().GetId() == "" {
			return true, bad("canned_delete frame needs canned.id")
		}
	case TypeSearch:
		s := f.GetSearch()
		if len(s.GetQuery()) > MaxSearchQuery || !utf8.ValidString(s.GetQuery()) || s.GetLimit() < 0 {
			return true, bad("search.query must be at most %d bytes of UTF-8", MaxSearchQuery)
		}
		if strings.TrimSpace(s.GetQuery()) == "" && s.GetLabel() == "" && s.GetAgent() == "" && s.GetState() == "" &&
			s.GetFrom() == "" && s.GetTo() == "" {
			return true, bad("search frame needs a query or a filter")
		}
	case TypeContact:
		if f.GetContact().GetId() == "" && f.GetConv() == "" {
			return true, bad("contact frame needs contact.id or conv")
		}
	case TypeContactUpdate:
		c := f.GetContact()
		if c.GetId() == "" {
			return true, bad("contact_update frame needs contact.id")
		}
		if len(c.GetName()) > MaxContactField || len(c.GetEmail()) > MaxContactField || len(c.GetPhone()) > MaxContactField ||
			len(c.GetNotes()) > MaxContactNotes {
			return true, bad("contact fields over their limits")
		}
	case TypeContactLabel:
		if f.GetContact().GetId() == "" || !token(f.GetLabel()) {
			return true, bad("contact_label frame needs contact.id and a label name")
		}
	case TypePrechat:
		if f.GetContact() == nil {
			return true, bad("prechat frame needs contact")
		}
	default:
		return false, nil
	}
	return true, nil
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

// workspace writes the workspace fields of a server frame (a family's serverJSON).
func (w *jw) workspace(f *fd.ServerFrame) {
	w.strs("labels", f.Labels)
	w.nestedList("label_defs", len(f.LabelDefs), func(i int) proto.Message { return f.LabelDefs[i] })
	w.nestedList("canned", len(f.Canned), func(i int) proto.Message { return f.Canned[i] })
	w.nestedList("hits", len(f.Hits), func(i int) proto.Message { return f.Hits[i] })
	w.nested("contact", f.Contact, f.Contact != nil)
	w.nestedList("past", len(f.Past), func(i int) proto.Message { return f.Past[i] })
	w.nested("prechat", f.Prechat, f.Prechat != nil)
}

// clientWorkspace writes the workspace fields of a client frame (a family's clientJSON).
func (w *jw) clientWorkspace(f *fd.ClientFrame) {
	w.str("label", f.GetLabel())
	if f.GetRemove() {
		w.key("remove")
		w.b = append(w.b, "true"...)
	}
	w.nested("canned", f.Canned, f.Canned != nil)
	w.nested("search", f.Search, f.Search != nil)
	w.nested("contact", f.Contact, f.Contact != nil)
}
