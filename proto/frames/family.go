package frames

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// A family is a group of frame types kept in a file of its own (workspace.go, desk.go): how
// its client frames are checked and how its fields are written in JSON. Validate and the JSON
// encoders ask every family in turn, so a new family adds one entry to families and touches
// neither; the core frames of names.go stay in validate.go and json.go, on the hot path.
type family struct {
	// validate checks a client frame of the family's types; ok is false for any other type.
	validate func(f *fd.ClientFrame) (ok bool, err error)
	// serverJSON writes the family's fields of a server frame (nil: none).
	serverJSON func(w *jw, f *fd.ServerFrame)
	// clientJSON writes the family's fields of a client frame (nil: none).
	clientJSON func(w *jw, f *fd.ClientFrame)
}

// families in the order their fields are written: a client reads the keys in any order, but a
// frame's text stays the same from one build to the next.
var families = []family{
	{validate: validateWorkspace, serverJSON: (*jw).workspace, clientJSON: (*jw).clientWorkspace}, // workspace.go
	{validate: validateDesk, serverJSON: (*jw).desk},                                              // desk.go
}

// validateFamilies checks a client frame whose type is none of the core's: the family that
// owns the type checks it, and a type no family owns is refused.
func validateFamilies(f *fd.ClientFrame) error {
	for _, fam := range families {
		if ok, err := fam.validate(f); ok {
			return err
		}
	}
	if f.GetType() == "" {
		return fmt.Errorf("%w: missing type", ErrBadFrame)
	}
	return fmt.Errorf("%w: unknown type %q", ErrBadFrame, f.GetType())
}

// serverFamilies writes every family's fields of a server frame.
func (w *jw) serverFamilies(f *fd.ServerFrame) {
	for _, fam := range families {
		if fam.serverJSON != nil {
			fam.serverJSON(w, f)
		}
	}
}

// clientFamilies writes every family's fields of a client frame.
func (w *jw) clientFamilies(f *fd.ClientFrame) {
	for _, fam := range families {
		if fam.clientJSON != nil {
			fam.clientJSON(w, f)
		}
	}
}

// nestedJSON writes the families' nested messages (a canned response, a contact, a rating, a
// board) with protojson: they are rare frames (a click, a search), off the hot path AppendJSON
// is written by hand for, and hold no 64-bit integers (which protojson would write as strings).
var nestedJSON = protojson.MarshalOptions{UseProtoNames: true}

// appendNested appends msg as protojson with <, > and & escaped, as appendString does, so a
// frame pasted into HTML by a careless client still cannot open a tag. A message protojson
// cannot write (none the schema defines) is written as null, keeping the frame valid JSON.
func appendNested(b []byte, msg proto.Message) []byte {
	j, err := nestedJSON.Marshal(msg)
	if err != nil {
		return append(b, "null"...)
	}
	for _, c := range j {
		switch c {
		case '<', '>', '&':
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// nested writes key and msg (appendNested), or nothing when set is false.
func (w *jw) nested(key string, msg proto.Message, set bool) {
	if !set {
		return
	}
	w.key(key)
	w.b = appendNested(w.b, msg)
}

// nestedList writes key and n messages, item(i) the i-th, or nothing when n is 0.
func (w *jw) nestedList(key string, n int, item func(i int) proto.Message) {
	if n == 0 {
		return
	}
	w.array(key, n, func(i int) { w.b = appendNested(w.b, item(i)) })
}
