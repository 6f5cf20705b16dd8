package frames

import (
	"errors"
	"strings"
	"testing"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func score(n int32) *int32 { return &n }

func TestValidateWorkspaceFrames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    *fd.ClientFrame
		ok   bool
	}{
		{"note", &fd.ClientFrame{Type: TypeNote, Id: "n1", Conv: "c1", Text: "check the refund"}, true},
		{"note without id", &fd.ClientFrame{Type: TypeNote, Conv: "c1", Text: "x"}, false},
		{"note without conv", &fd.ClientFrame{Type: TypeNote, Id: "n1", Text: "x"}, false},
		{"blank note", &fd.ClientFrame{Type: TypeNote, Id: "n1", Conv: "c1", Text: "  \n"}, false},
		{"notes", &fd.ClientFrame{Type: TypeNotes, Conv: "c1"}, true},
		{"notes without conv", &fd.ClientFrame{Type: TypeNotes}, false},
		{"notes search", &fd.ClientFrame{Type: TypeNotes, Text: "refund"}, true},
		{"rate", &fd.ClientFrame{Type: TypeRate, Conv: "c1", Score: score(5), Comment: "很好"}, true},
		{"rate without score", &fd.ClientFrame{Type: TypeRate, Conv: "c1"}, false},
		{"rate zero", &fd.ClientFrame{Type: TypeRate, Conv: "c1", Score: score(0)}, false},
		{"rate six", &fd.ClientFrame{Type: TypeRate, Conv: "c1", Score: score(6)}, false},
		{"rate, comment too long", &fd.ClientFrame{Type: TypeRate, Conv: "c1", Score: score(3),
			Comment: strings.Repeat("a", MaxCommentChars+1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tt.f)
			if (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadFrame) {
				t.Fatalf("%v is not a bad frame", err)
			}
		})
	}
}

func TestRatingRefusal(t *testing.T) {
	t.Parallel()
	closed := &fd.Conversation{State: StateClosed, Customer: &fd.Participant{Id: "u1"}}
	rated := &fd.Conversation{State: StateClosed, Customer: &fd.Participant{Id: "u1"}, Rating: &fd.Rating{Score: 2}}
	open := &fd.Conversation{State: StateAssigned, Customer: &fd.Participant{Id: "u1"}}
	five, thumbs := &fd.Csat{Scale: ScaleFive}, &fd.Csat{Scale: ScaleThumbs, MaxComment: 3}
	tests := []struct {
		name     string
		c        *fd.Conversation
		customer string
		csat     *fd.Csat
		score    int32
		comment  string
		want     string // in the refusal; empty: allowed
	}{
		{"five", closed, "u1", five, 5, "", ""},
		{"thumbs up", closed, "u1", thumbs, 2, "ok", ""},
		{"someone else's", closed, "u2", five, 5, "", "not your conversation"},
		{"no survey", closed, "u1", nil, 5, "", "does not ask"},
		{"not closed", open, "u1", five, 5, "", "once it is closed"},
		{"twice", rated, "u1", five, 5, "", "already rated"},
		{"off the scale", closed, "u1", thumbs, 3, "", "1 to 2"},
		{"comment over the tenant's bound", closed, "u1", thumbs, 1, "四个字啊", "comment over 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RatingRefusal(tt.c, tt.customer, tt.csat, tt.score, tt.comment)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("RatingRefusal = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNoteFrame(t *testing.T) {
	t.Parallel()
	m := &fd.Message{Id: "m1", ClientId: "n1", Conv: "c1", From: &fd.Participant{Id: "a1", Role: RoleAgent},
		Text: "VIP", CreatedAt: timestamppb.Now()}
	f := NoteFrame(m, 7)
	if f.GetType() != TypeNote || f.GetNoteSeq() != 7 || f.Seq != nil || f.GetText() != "VIP" || f.GetClientId() != "n1" || f.GetTs() == "" {
		t.Fatalf("note frame %v", f)
	}
	if CommentLimit(nil) != DefaultCommentChars || CommentLimit(&fd.Csat{MaxComment: 99999}) != MaxCommentChars {
		t.Fatal("CommentLimit")
	}
}
