package frames

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

var decodeProto = proto.UnmarshalOptions{DiscardUnknown: true}

// DecodeProto parses a protobuf binary client frame (subprotocol frontdesk.v1.proto).
func DecodeProto(data []byte, f *fd.ClientFrame) error {
	if err := decodeProto.Unmarshal(data, f); err != nil {
		return fmt.Errorf("%w: %v", ErrBadFrame, err)
	}
	return nil
}

// AppendProto appends the protobuf binary encoding of a server frame to b.
func AppendProto(b []byte, f *fd.ServerFrame) ([]byte, error) {
	out, err := proto.MarshalOptions{}.MarshalAppend(b, f)
	if err != nil {
		return b, fmt.Errorf("marshal %s frame: %w", f.GetType(), err)
	}
	return out, nil
}
