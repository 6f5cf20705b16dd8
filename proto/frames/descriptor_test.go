package frames

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestAppendJSONCoversServerFrame: every field of ServerFrame, and of every message it
// carries, survives the hand-written JSON encoder. The frames are built from the descriptor,
// not listed by hand, so a field added to the schema and forgotten in json.go fails here
// instead of silently vanishing for JSON clients.
func TestAppendJSONCoversServerFrame(t *testing.T) {
	t.Parallel()
	desc := (&fd.ServerFrame{}).ProtoReflect().Descriptor()
	t.Run("every field at once", func(t *testing.T) {
		t.Parallel()
		f := &fd.ServerFrame{}
		fillMessage(f.ProtoReflect(), 0)
		checkJSONRoundTrip(t, f)
	})
	fields := desc.Fields()
	for i := range fields.Len() {
		field := fields.Get(i)
		t.Run(string(field.Name()), func(t *testing.T) {
			t.Parallel()
			f := &fd.ServerFrame{}
			m := f.ProtoReflect()
			m.Set(field, fieldValue(m, field, 0))
			checkJSONRoundTrip(t, f)
		})
	}
}

// checkJSONRoundTrip fails when protojson, reading AppendJSON's output, does not get f back.
func checkJSONRoundTrip(t *testing.T, f *fd.ServerFrame) {
	t.Helper()
	out := AppendJSON(nil, f)
	var back fd.ServerFrame
	if err := protojson.Unmarshal(out, &back); err != nil {
		t.Fatalf("protojson cannot read %s: %v", out, err)
	}
	if !proto.Equal(f, &back) {
		ref, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(f)
		t.Fatalf("AppendJSON loses fields:\n got %s\nwant %s", out, ref)
	}
}

// maxDepth bounds the recursion of fillMessage: ServerFrame carries ServerFrames (a history
// page's messages).
const maxDepth = 3

// fillMessage sets every field of m to a non-zero value.
func fillMessage(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.Kind() == protoreflect.MessageKind && depth >= maxDepth && !f.IsMap() {
			continue
		}
		m.Set(f, fieldValue(m, f, depth))
	}
}

// fieldValue returns a non-zero value for field f of m: two elements for a list, one entry for a
// map, a filled message for a message.
func fieldValue(m protoreflect.Message, f protoreflect.FieldDescriptor, depth int) protoreflect.Value {
	switch {
	case f.IsList():
		l := m.NewField(f).List()
		for n := range 2 {
			if f.Kind() == protoreflect.MessageKind {
				e := l.NewElement()
				fillNested(e.Message(), depth+1)
				l.Append(e)
			} else {
				l.Append(scalar(f, n))
			}
		}
		return protoreflect.ValueOfList(l)
	case f.IsMap():
		mp := m.NewField(f).Map()
		v := mp.NewValue()
		if f.MapValue().Kind() == protoreflect.MessageKind {
			fillNested(v.Message(), depth+1)
		} else {
			v = scalar(f.MapValue(), 1)
		}
		mp.Set(scalar(f.MapKey(), 1).MapKey(), v)
		return protoreflect.ValueOfMap(mp)
	case f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind:
		v := m.NewField(f)
		fillNested(v.Message(), depth+1)
		return v
	}
	return scalar(f, 1)
}

// fillNested fills a nested message; a timestamp gets a valid instant with nanoseconds.
func fillNested(m protoreflect.Message, depth int) {
	if m.Descriptor().FullName() == "google.protobuf.Timestamp" {
		ts := timestamppb.New(timestamppb.Now().AsTime().Truncate(1000).UTC())
		proto.Merge(m.Interface(), ts)
		return
	}
	fillMessage(m, depth)
}

// scalar returns a non-zero value of f's kind; n varies it between list elements. Strings
// carry characters JSON escapes.
func scalar(f protoreflect.FieldDescriptor, n int) protoreflect.Value {
	switch f.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(fmt.Sprintf("%s \"%d\" <é>\n", f.Name(), n))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(-7 - n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(1)<<40 + int64(n))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(7 + n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(1)<<40 + uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(1.5 + float32(n))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(2.25 + float64(n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{0, 1, byte(n), 255})
	case protoreflect.EnumKind:
		vals := f.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(min(1+n, vals.Len()-1)).Number())
	}
	panic(fmt.Sprintf("no value for %s of kind %s", f.FullName(), f.Kind()))
}
