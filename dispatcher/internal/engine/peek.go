package engine

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// Field numbers of frontdesk.v1.Message, Participant and google.protobuf.Timestamp that the
// deliver subscription reads, taken from the generated descriptors by name, so that a
// renumbered field in proto/ cannot leave this reader on the old number.
var (
	messageFrom      = fieldNumber((*fd.Message)(nil), "from")
	messageCreatedAt = fieldNumber((*fd.Message)(nil), "created_at")
	participantRole  = fieldNumber((*fd.Participant)(nil), "role")
	timestampSeconds = fieldNumber((*timestamppb.Timestamp)(nil), "seconds")
	timestampNanos   = fieldNumber((*timestamppb.Timestamp)(nil), "nanos")
)

// fieldNumber returns the number of m's field name; it panics at start-up if there is none.
func fieldNumber(m protoreflect.ProtoMessage, name protoreflect.Name) protowire.Number {
	f := m.ProtoReflect().Descriptor().Fields().ByName(name)
	if f == nil {
		panic(fmt.Sprintf("engine: %s has no field %s", m.ProtoReflect().Descriptor().FullName(), name))
	}
	return f.Number()
}

// maxTimestampSeconds is 9999-12-31T23:59:59Z, the last second timestamppb accepts as valid.
const maxTimestampSeconds = 253402300799

// peekMessage reads the sender's role and the creation time of an encoded Message without
// decoding the rest. The deliver subscription sees every message of the tenant, and all it
// needs is these two fields: a full proto.Unmarshal allocated the whole message (text,
// participants, attachments) for each, which with the garbage it made was about a third of
// the dispatcher's CPU at 1,000 messages a second. Repeated fields merge as proto.Unmarshal
// merges them (the last value wins); created is zero when the message has no valid time after
// 1970 (messageTime's rule). ok is false for bytes that are not a well-formed message.
func peekMessage(data []byte) (role []byte, created time.Time, ok bool) {
	var secs, nanos int64
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return nil, time.Time{}, false
		}
		data = data[n:]
		if typ == protowire.BytesType && (num == messageFrom || num == messageCreatedAt) {
			v, n := protowire.ConsumeBytes(data)
			if n < 0 {
				return nil, time.Time{}, false
			}
			data = data[n:]
			var good bool
			if num == messageFrom {
				role, good = peekField(v, participantRole, role)
			} else {
				good = peekTimestamp(v, &secs, &nanos)
			}
			if !good {
				return nil, time.Time{}, false
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, data)
		if n < 0 {
			return nil, time.Time{}, false
		}
		data = data[n:]
	}
	if secs > 0 && secs <= maxTimestampSeconds && nanos >= 0 && nanos < 1e9 {
		created = time.Unix(secs, nanos)
	}
	return role, created, true
}

// peekField returns the last value of the bytes field want in the encoded message b, or prev
// when it has none.
func peekField(b []byte, want protowire.Number, prev []byte) ([]byte, bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		b = b[n:]
		if num == want && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, false
			}
			prev, b = v, b[n:]
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return nil, false
		}
		b = b[n:]
	}
	return prev, true
}

// peekTimestamp merges an encoded Timestamp into secs and nanos.
func peekTimestamp(b []byte, secs, nanos *int64) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == timestampSeconds || num == timestampNanos) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			if num == timestampSeconds {
				*secs = int64(v)
			} else {
				*nanos = int64(int32(v))
			}
			continue
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}
