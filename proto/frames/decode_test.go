package frames

import (
	"testing"

	"google.golang.org/protobuf/proto"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// TestDecodeFlat: the fast path takes the frames clients send most and decodes them exactly as
// protojson does; every other shape is left to protojson, whose answer (a frame or an error)
// is then DecodeJSON's.
func TestDecodeFlat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		flat bool // the fast path decodes it
	}{
		{"send", `{"type":"send","id":"c-1","conv":"k1","kind":"text","text":"hello 你好 👋"}`, true},
		{"white space", " {\n\t\"type\" : \"ping\" ,\r\"id\":\"p\" } \n", true},
		{"empty object", `{}`, true},
		{"integers as numbers and strings", `{"type":"history","conv":"c","before":"9","limit":5,"after":0,"seq":-3}`, true},
		{"camelCase names", `{"type":"transfer","conv":"c","toAgent":"a","toQueue":"q"}`, true},
		{"booleans", `{"type":"label","label":"vip","remove":true}`, true},
		{"rating", `{"type":"rate","conv":"c","score":5,"comment":"great","email":"x@example.com"}`, true},
		{"largest int32", `{"limit":2147483647}`, true},
		{"escaped text goes to protojson", `{"type":"send","text":"a \"quote\"\n"}`, false},
		{"nested object goes to protojson", `{"type":"send","attachment":{"id":"a"}}`, false},
		{"unknown key goes to protojson", `{"type":"send","future":1}`, false},
		{"repeated key goes to protojson", `{"type":"send","type":"ping"}`, false},
		{"both spellings go to protojson", `{"to_agent":"a","toAgent":"b"}`, false},
		{"null goes to protojson", `{"type":null}`, false},
		{"exponent goes to protojson", `{"seq":1e3}`, false},
		{"fraction goes to protojson", `{"seq":1.5}`, false},
		{"leading zero goes to protojson", `{"seq":012}`, false},
		{"minus zero goes to protojson", `{"seq":-0}`, false},
		{"int32 overflow goes to protojson", `{"limit":2147483648}`, false},
		{"19 digits go to protojson", `{"seq":1234567890123456789}`, false},
		{"invalid UTF-8 goes to protojson", "{\"text\":\"\xff\"}", false},
		{"control character goes to protojson", "{\"text\":\"a\x01\"}", false},
		{"trailing data goes to protojson", `{"type":"ping"} x`, false},
		{"trailing comma goes to protojson", `{"type":"ping",}`, false},
		{"array goes to protojson", `[]`, false},
		{"truncated goes to protojson", `{"type":"pi`, false},
		{"bool prefix goes to protojson", `{"remove":truex}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var fast fd.ClientFrame
			if got := decodeFlat([]byte(tt.in), &fast); got != tt.flat {
				t.Fatalf("fast path took it: %v, want %v", got, tt.flat)
			}
			if tt.flat {
				checkLikeProtojson(t, []byte(tt.in), &fast)
			}
		})
	}
}

// checkLikeProtojson fails unless protojson decodes data into exactly fast.
func checkLikeProtojson(t *testing.T, data []byte, fast *fd.ClientFrame) {
	t.Helper()
	var slow fd.ClientFrame
	if err := decodeJSON.Unmarshal(data, &slow); err != nil {
		t.Fatalf("fast path accepted %q, protojson refused it: %v", data, err)
	}
	if !proto.Equal(fast, &slow) {
		t.Fatalf("%q: fast path %v, protojson %v", data, fast, &slow)
	}
}

// FuzzDecodeFlat checks the fast path against protojson: whatever it accepts, protojson
// accepts and decodes to the same frame.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","id":"1","conv":"c","kind":"text","text":"hi"}`, `{"type":"sync","conv":"c","after":"3"}`,
		`{"limit":-5,"remove":false,"toQueue":"q"}`, `{"seq":999999999999999999}`, `{}`, ` { } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast fd.ClientFrame
		if decodeFlat(data, &fast) {
			checkLikeProtojson(t, data, &fast)
		}
	})
}

func BenchmarkDecodeProtojson(b *testing.B) {
	in := []byte(`{"type":"send","id":"c-1","conv":"k1","kind":"text","text":"hello there, I need help with my order"}`)
	b.ReportAllocs()
	for b.Loop() {
		var f fd.ClientFrame
		if err := decodeJSON.Unmarshal(in, &f); err != nil {
			b.Fatal(err)
		}
	}
}
