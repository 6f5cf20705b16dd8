package frames

// Names for streamed replies (QueryPartials, PartialsDelta) are in names.go.

import fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"

// IsDelta reports whether f is a streamed delta: text to append to the partial text of the
// same message id, valid on top of part - 1 only.
func IsDelta(f *fd.ServerFrame) bool { return f.GetPartial() && f.GetDelta() != "" }
