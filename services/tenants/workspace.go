package tenants

import (
	"fmt"

	frontdeskv1 "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/proto/subjects"
)

// Bounds of the agent workspace's settings (proto/frames/workspace.go has the same values for
// the frames; this package does not import frames).
const (
	maxLabels        = 100
	maxPrechatFields = 5
	maxPrechatAnswer = 200
)

// validateWorkspace checks the tenant's labels (unique subject tokens, at most 100, colours
// #rrggbb) and pre-chat form (at most 5 fields of unique token names).
func validateWorkspace(t *frontdeskv1.Tenant, bad func(field, format string, args ...any) error) []error {
	var errs []error
	if n := len(t.GetLabels()); n > maxLabels {
		errs = append(errs, bad("labels", "%d labels, at most %d", n, maxLabels))
	}
	seen := map[string]bool{}
	for i, l := range t.GetLabels() {
		field := fmt.Sprintf("labels[%d]", i)
		if !subjects.ValidToken(l.GetName()) || len(l.GetName()) > 64 {
			errs = append(errs, bad(field+".name", "%q is not a subject token of at most 64 characters", l.GetName()))
		}
		if seen[l.GetName()] {
			errs = append(errs, bad(field+".name", "duplicate label %q", l.GetName()))
		}
		seen[l.GetName()] = true
		if c := l.GetColor(); c != "" && !hexColor(c) {
			errs = append(errs, bad(field+".color", "%q is not #rrggbb", c))
		}
	}
	fields := t.GetPrechat().GetFields()
	if len(fields) > maxPrechatFields {
		errs = append(errs, bad("prechat.fields", "%d fields, at most %d", len(fields), maxPrechatFields))
	}
	names := map[string]bool{"name": true, "email": true}
	for i, f := range fields {
		field := fmt.Sprintf("prechat.fields[%d]", i)
		if !subjects.ValidToken(f.GetName()) || names[f.GetName()] {
			errs = append(errs, bad(field+".name", "%q is not a token, or repeats a field (name and email are the form's own)", f.GetName()))
		}
		names[f.GetName()] = true
		if f.GetMaxLen() < 0 || f.GetMaxLen() > maxPrechatAnswer {
			errs = append(errs, bad(field+".max_len", "must be 0 to %d", maxPrechatAnswer))
		}
	}
	return errs
}

func hexColor(c string) bool {
	if len(c) != 7 || c[0] != '#' {
		return false
	}
	for _, r := range c[1:] {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return true
}
