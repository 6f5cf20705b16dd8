package frames

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

func i64(v int64) *int64 { return &v }
func i32(v int32) *int32 { return &v }
func bl(v bool) *bool    { return &v }

// serverFrames covers every server frame type of PROTOCOL.md with the fields it carries.
func serverFrames() []*fd.ServerFrame {
	p := &fd.Participant{Id: "u1", Role: RoleCustomer, Name: "Ann <b>"}
	a := &fd.Participant{Id: "a1", Role: RoleAgent, Name: "Bo"}
	return []*fd.ServerFrame{
		{Type: TypeWelcome, Session: "s1", User: "u1", Role: RoleCustomer, Tenant: "acme",
			Conversations: []*fd.ConversationSummary{{Conv: "c1", LastSeq: i64(0), State: StateBot}}},
		{Type: TypeWelcome, Session: "s1", User: "u1", Role: RoleCustomer, Tenant: "acme",
			Conversations: []*fd.ConversationSummary{}, MaxAudioS: 120},
		{Type: TypeAck, Id: "x1", Conv: "c1", Seq: i64(42), Ts: "2026-11-25T10:00:00.123Z"},
		{Type: TypeMessage, Conv: "c1", Seq: i64(1 << 60), Id: "m1", ClientId: "x1", From: p,
			Kind: KindText, Text: "héllo \"quoted\" \\ \n\t<script>&\u2028 你好 😀", Ts: "2026-11-25T10:00:00.123Z"},
		{Type: TypeMessage, Conv: "c1", Id: "m2", From: p, Kind: KindImage,
			Attachment: &fd.Attachment{Id: "att_1", Url: "/v1/attachments/att_1", Type: "image/png", Size: 1234}},
		{Type: TypeMessage, Conv: "c1", Id: "m3", From: p, Kind: KindAudio,
			Attachment: &fd.Attachment{Id: "att_2", Url: "/v1/attachments/att_2", Type: "audio/webm", Size: 9000, Name: "voice.webm", DurationMs: 4200}},
		{Type: TypeMessage, Conv: "c1", From: &fd.Participant{Id: "bot", Role: RoleBot}, Text: "Hel", Partial: bl(true)},
		{Type: TypeMessage, Conv: "c1", Id: "m4", From: &fd.Participant{Id: "bot", Role: RoleBot}, Kind: KindTranscript,
			Text: "where is my parcel", ReplyTo: "m3"},
		{Type: TypeTyping, Conv: "c1", From: p},
		{Type: TypeRead, Conv: "c1", From: a, Seq: i64(7)},
		{Type: TypeQueued, Conv: "c1", Position: i32(1), EtaS: i32(0)},
		{Type: TypeAssigned, Conv: "c1", Agent: a, Customer: p, Summary: "wants a refund"},
		{Type: TypeState, Conv: "c1", State: StateClosed, Reason: "closed_by_agent"},
		{Type: TypeSynced, Conv: "c1", LastSeq: i64(9), Recovered: bl(false)},
		{Type: TypeHistory, Conv: "c1", More: bl(true), Messages: []*fd.ServerFrame{
			{Type: TypeMessage, Conv: "c1", Seq: i64(3), Text: "a"}, {Type: TypeMessage, Conv: "c1", Seq: i64(4), Text: "b"}}},
		{Type: TypePresence, AgentsAvailable: i32(0), QueueLength: i32(3)},
		{Type: TypePong},
		{Type: TypeError, Id: "x2", Code: CodeRateLimited, Message: "slow down"},
		{Type: TypeNotice, Conv: "c1", Reason: "outside_hours", Message: "We are closed", Actions: []string{ActionLeaveMessage, ActionBot}},
	}
}

func TestAppendJSONIsProtojson(t *testing.T) {
	t.Parallel()
	for _, f := range serverFrames() {
		t.Run(f.GetType(), func(t *testing.T) {
			t.Parallel()
			out := AppendJSON(nil, f)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON: %s", out)
			}
			var back fd.ServerFrame
			if err := protojson.Unmarshal(out, &back); err != nil {
				t.Fatalf("protojson cannot read %s: %v", out, err)
			}
			if !proto.Equal(f, &back) {
				t.Fatalf("round trip differs:\n got %v\nwant %v\njson %s", &back, f, out)
			}
			// The field names are the protocol's, exactly as protojson writes them with proto names.
			ref, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			got, want := keys(t, out), keys(t, ref)
			if f.Conversations != nil && len(f.Conversations) == 0 {
				// The one deliberate difference: welcome always lists conversations, even none.
				want = keys(t, []byte(`{"conversations":[],`+string(ref[1:])))
			}
			if got != want {
				t.Fatalf("field names differ: got %s want %s", got, want)
			}
		})
	}
}

func keys(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sortStrings(ks)
	return strings.Join(ks, ",")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestIntegersAreNumbers(t *testing.T) {
	t.Parallel()
	out := string(AppendJSON(nil, &fd.ServerFrame{Type: TypeAck, Id: "c1", Conv: "k", Seq: i64(42), Ts: "t"}))
	if want := `{"type":"ack","id":"c1","conv":"k","seq":42,"ts":"t"}`; out != want {
		t.Fatalf("got %s want %s", out, want)
	}
}

func TestDecodeJSONProtocolExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    *fd.ClientFrame
		wantErr bool
	}{
		{name: "send", in: `{"type":"send","id":"c-1","conv":"k1","kind":"text","text":"hi"}`,
			want: &fd.ClientFrame{Type: "send", Id: "c-1", Conv: "k1", Kind: "text", Text: "hi"}},
		{name: "sync numbers", in: `{"type":"sync","conv":"k1","after":17}`,
			want: &fd.ClientFrame{Type: "sync", Conv: "k1", After: i64(17)}},
		{name: "sync string number", in: `{"type":"sync","conv":"k1","after":"17"}`,
			want: &fd.ClientFrame{Type: "sync", Conv: "k1", After: i64(17)}},
		{name: "history", in: `{"type":"history","conv":"k1","before":10,"limit":20}`,
			want: &fd.ClientFrame{Type: "history", Conv: "k1", Before: i64(10), Limit: i32(20)}},
		{name: "transfer", in: `{"type":"transfer","conv":"k1","to_agent":"a2"}`,
			want: &fd.ClientFrame{Type: "transfer", Conv: "k1", ToAgent: "a2"}},
		{name: "unknown fields ignored", in: `{"type":"ping","future":{"x":1}}`,
			want: &fd.ClientFrame{Type: "ping"}},
		{name: "attachment", in: `{"type":"send","id":"1","kind":"image","attachment":{"id":"att_1","size":1234}}`,
			want: &fd.ClientFrame{Type: "send", Id: "1", Kind: "image", Attachment: &fd.Attachment{Id: "att_1", Size: 1234}}},
		{name: "not json", in: `{"type":`, wantErr: true},
		{name: "array", in: `[1,2]`, wantErr: true},
		{name: "wrong type", in: `{"type":5}`, wantErr: true},
		{name: "fraction", in: `{"type":"sync","conv":"k","after":1.5}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f fd.ClientFrame
			err := DecodeJSON([]byte(tt.in), &f)
			if tt.wantErr {
				if !errors.Is(err, ErrBadFrame) {
					t.Fatalf("want ErrBadFrame, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&f, tt.want) {
				t.Fatalf("got %v want %v", &f, tt.want)
			}
		})
	}
}

func TestClientJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := &fd.ClientFrame{Type: "send", Id: "x", Conv: "c", Kind: "text", Text: "a\"b", After: i64(3), Limit: i32(2), ToQueue: "q"}
	var out fd.ClientFrame
	if err := DecodeJSON(AppendClientJSON(nil, in), &out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, &out) {
		t.Fatalf("got %v want %v", &out, in)
	}
}

func TestProtoRoundTrip(t *testing.T) {
	t.Parallel()
	for _, f := range serverFrames() {
		b, err := AppendProto(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		var back fd.ServerFrame
		if err := proto.Unmarshal(b, &back); err != nil || !proto.Equal(f, &back) {
			t.Fatalf("%s: round trip failed: %v", f.GetType(), err)
		}
	}
	var c fd.ClientFrame
	if err := DecodeProto([]byte{0xff, 0xff, 0xff}, &c); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("garbage decoded: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    *fd.ClientFrame
		ok   bool
	}{
		{"send text", &fd.ClientFrame{Type: TypeSend, Id: "1", Text: "hi"}, true},
		{"send without id", &fd.ClientFrame{Type: TypeSend, Text: "hi"}, false},
		{"send blank", &fd.ClientFrame{Type: TypeSend, Id: "1", Text: "  "}, false},
		{"send image without attachment", &fd.ClientFrame{Type: TypeSend, Id: "1", Kind: KindImage}, false},
		{"send image", &fd.ClientFrame{Type: TypeSend, Id: "1", Kind: KindImage, Attachment: &fd.Attachment{Id: "att_1"}}, true},
		{"send unknown kind", &fd.ClientFrame{Type: TypeSend, Id: "1", Kind: "video", Text: "x"}, false},
		{"long id", &fd.ClientFrame{Type: TypePing, Id: strings.Repeat("x", MaxIDLength+1)}, false},
		{"sync", &fd.ClientFrame{Type: TypeSync, Conv: "c", After: i64(0)}, true},
		{"sync no conv", &fd.ClientFrame{Type: TypeSync}, false},
		{"sync negative", &fd.ClientFrame{Type: TypeSync, Conv: "c", After: i64(-1)}, false},
		{"history", &fd.ClientFrame{Type: TypeHistory, Conv: "c"}, true},
		{"read without seq", &fd.ClientFrame{Type: TypeRead, Conv: "c"}, false},
		{"read", &fd.ClientFrame{Type: TypeRead, Conv: "c", Seq: i64(4)}, true},
		{"typing", &fd.ClientFrame{Type: TypeTyping, Conv: "c"}, true},
		{"handoff without conv", &fd.ClientFrame{Type: TypeHandoff}, true},
		{"status", &fd.ClientFrame{Type: TypeStatus, Status: StatusAway}, true},
		{"status offline refused", &fd.ClientFrame{Type: TypeStatus, Status: StatusOffline}, false},
		{"transfer both", &fd.ClientFrame{Type: TypeTransfer, Conv: "c", ToAgent: "a", ToQueue: "q"}, false},
		{"transfer neither", &fd.ClientFrame{Type: TypeTransfer, Conv: "c"}, false},
		{"transfer queue", &fd.ClientFrame{Type: TypeTransfer, Conv: "c", ToQueue: "q"}, true},
		{"close", &fd.ClientFrame{Type: TypeClose, Conv: "c"}, true},
		{"ping", &fd.ClientFrame{Type: TypePing}, true},
		{"leave message", &fd.ClientFrame{Type: TypeLeaveMessage, Conv: "c", Text: "call me"}, true},
		{"leave message without conv", &fd.ClientFrame{Type: TypeLeaveMessage}, false},
		{"to bot", &fd.ClientFrame{Type: TypeToBot, Conv: "c"}, true},
		{"no type", &fd.ClientFrame{}, false},
		{"unknown type", &fd.ClientFrame{Type: "dance"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Validate(tt.f)
			if tt.ok && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrBadFrame) {
				t.Fatalf("want ErrBadFrame, got %v", err)
			}
		})
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"keeps newline and tab", "a\nb\tc", "a\nb\tc"},
		{"strips controls", "a\x00b\x1bc\x7fd\u0085e", "abcde"},
		{"keeps html as text", "<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>"},
		{"invalid utf8", "a\xffb", "a\ufffdb"},
		{"cjk", "转人工", "转人工"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CleanText(tt.in); got != tt.want {
				t.Fatalf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestTimestamp(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("x", 3600))
	if got, want := Timestamp(ts), "2026-11-25T09:00:00.000Z"; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
}

// FuzzDecodeJSON feeds arbitrary bytes to the client frame decoder: it must never panic, and a
// frame it accepts must survive validation and re-encoding.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"1","conv":"c","text":"hi"}`, `{"type":"sync","conv":"c","after":3}`,
		`{"type":"history","conv":"c","before":"9","limit":5}`, `{"type":"transfer","conv":"c","to_queue":"q"}`,
		`{"type":"send","id":"1","kind":"image","attachment":{"id":"a","size":-1}}`, `{}`, `[]`, `null`, `{"type":"\u0000"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cf fd.ClientFrame
		if err := DecodeJSON(data, &cf); err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error does not wrap ErrBadFrame: %v", err)
			}
			return
		}
		_ = Validate(&cf)
		var back fd.ClientFrame
		if err := DecodeJSON(AppendClientJSON(nil, &cf), &back); err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
	})
}

// FuzzDecodeProto does the same for the binary subprotocol.
func FuzzDecodeProto(f *testing.F) {
	b, _ := proto.Marshal(&fd.ClientFrame{Type: "send", Id: "1", Text: "hi"})
	f.Add(b)
	f.Add([]byte{0x0a, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var cf fd.ClientFrame
		if err := DecodeProto(data, &cf); err != nil {
			return
		}
		_ = Validate(&cf)
	})
}

// FuzzAppendJSON checks the hand-written encoder against protojson for arbitrary text.
func FuzzAppendJSON(f *testing.F) {
	f.Add("hello", "n\"a\\me", int64(1))
	f.Add("\x00\xff\u2028<>&", "", int64(-5))
	f.Fuzz(func(t *testing.T, text, name string, seq int64) {
		in := &fd.ServerFrame{Type: TypeMessage, Text: text, From: &fd.Participant{Name: name}, Seq: &seq}
		out := AppendJSON(nil, in)
		var back fd.ServerFrame
		if err := protojson.Unmarshal(out, &back); err != nil {
			t.Fatalf("protojson cannot read %q: %v", out, err)
		}
		if utf8.ValidString(text) && back.GetText() != text {
			t.Fatalf("text changed: %q -> %q", text, back.GetText())
		}
		if back.GetSeq() != seq {
			t.Fatalf("seq changed: %d -> %d", seq, back.GetSeq())
		}
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	f := serverFrames()[3]
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], f)
	}
}

func BenchmarkProtojsonMarshal(b *testing.B) {
	f := serverFrames()[3]
	opts := protojson.MarshalOptions{UseProtoNames: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := opts.Marshal(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	in := []byte(`{"type":"send","id":"c-1","conv":"k1","kind":"text","text":"hello there, I need help with my order"}`)
	b.ReportAllocs()
	for b.Loop() {
		var f fd.ClientFrame
		if err := DecodeJSON(in, &f); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMessageFrameCost: whoever wrote a message, its frame's text is at most MaxTextBytes, cut
// at a rune boundary, so one message's cost is bounded in every encoding.
func TestMessageFrameCost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want int // bytes of text kept
	}{
		{"short text kept", "hello", 5},
		{"at the limit kept", strings.Repeat("a", MaxTextBytes), MaxTextBytes},
		{"over the limit cut", strings.Repeat("<", 4*MaxTextBytes), MaxTextBytes},
		{"cut on a rune boundary", "a" + strings.Repeat("你", MaxTextBytes/3+1), 1 + 3*((MaxTextBytes-1)/3)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := MessageFrame(&fd.Message{Id: "m1", Conv: "c1", Text: tc.text}, 1)
			if len(f.GetText()) != tc.want || !utf8.ValidString(f.GetText()) {
				t.Fatalf("text of %d bytes (valid %v), want %d", len(f.GetText()), utf8.ValidString(f.GetText()), tc.want)
			}
			if n := len(AppendJSON(nil, f)); n > 6*MaxTextBytes+1024 {
				t.Fatalf("JSON frame of %d bytes", n)
			}
		})
	}
}
