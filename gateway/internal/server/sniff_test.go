package server

import (
	"testing"
)

func TestSniffType(t *testing.T) {
	t.Parallel()
	ebml := []byte{0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84}
	webm := func(rest ...byte) []byte { return append(append(append([]byte{}, ebml...), "webm"...), rest...) }
	tests := []struct {
		name string
		head []byte
		want string
	}{
		{"webm with an audio track (MediaRecorder)", webm(0x16, 0x54, 0xAE, 0x6B, 0x83, 0x81, 0x02, 0x86, 0x86, 'A', '_', 'O', 'P', 'U', 'S'), "audio/webm"},
		{"webm with a video track", webm(0x83, 0x81, 0x01, 0x83, 0x81, 0x02), "video/webm"},
		{"webm, tracks not in the head", webm(), "video/webm"},
		{"matroska", append(append([]byte{}, ebml...), "matroska"...), "application/octet-stream"},
		{"ogg opus", append([]byte("OggS\x00\x02"), "\x00\x00\x00\x00OpusHead"...), "audio/ogg"},
		{"ogg vorbis", append([]byte("OggS\x00\x02"), "\x01vorbis"...), "audio/ogg"},
		{"ogg theora", append([]byte("OggS\x00\x02"), "\x80theora"...), "application/ogg"},
		{"png", []byte("\x89PNG\r\n\x1a\n0000"), "image/png"},
		{"text", []byte("hello there"), "text/plain"},
		{"html is not text/plain", []byte("<html><script>"), "text/html"},
		{"mp3", []byte("ID3\x03\x00\x00\x00"), "audio/mpeg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := sniffType(tc.head); got != tc.want {
				t.Fatalf("sniffType = %q, want %q", got, tc.want)
			}
		})
	}
}
