package ingest

import (
	"google.golang.org/protobuf/proto"

	"github.com/frontdesk-chat/frontdesk/persister/internal/store"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// DecodeNote decodes a FD_NOTES message (a private note). Repairs lists the NUL bytes it
// removed.
func DecodeNote(subject string, seq uint64, data []byte) (store.NoteRow, []string, error) {
	var m fd.Message
	if err := proto.Unmarshal(data, &m); err != nil {
		return store.NoteRow{}, nil, poison("decode", "decode note: %w", err)
	}
	if _, err := checkIDs(subject, "note", &m.Tenant, &m.Conv); err != nil {
		return store.NoteRow{}, nil, err
	}
	if m.GetId() == "" {
		return store.NoteRow{}, nil, poison("invalid", "note has no id")
	}
	var r repairs
	r.id("id", m.Id)
	r.participant("from", m.From)
	r.text("text", &m.Text)
	if r.err != nil {
		return store.NoteRow{}, nil, r.err
	}
	return store.NoteRow{Seq: int64(seq), Msg: &m}, r.done, nil
}
