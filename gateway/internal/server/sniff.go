package server

import (
	"bytes"
	"mime"
	"net/http"
)

// sniffType tells an upload's MIME type from its first bytes. It is http.DetectContentType plus
// what a voice message needs: the WebM and Ogg containers browsers record audio in, told apart
// from video by their tracks, since DetectContentType calls every WebM "video/webm" and every
// Ogg "application/ogg".
func sniffType(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0x1A, 0x45, 0xDF, 0xA3}): // EBML: Matroska or WebM
		if !bytes.Contains(head[:min(len(head), 64)], []byte("webm")) {
			return "application/octet-stream" // Matroska: not offered to browsers
		}
		// A TrackType element (0x83, size 1) of 1 is a video track; 2 is audio.
		if bytes.Contains(head, []byte{0x83, 0x81, 0x01}) {
			return "video/webm"
		}
		if bytes.Contains(head, []byte{0x83, 0x81, 0x02}) {
			return "audio/webm"
		}
		return "video/webm"
	case bytes.HasPrefix(head, []byte("OggS")):
		// The first page's packet names the codec.
		if bytes.Contains(head, []byte("OpusHead")) || bytes.Contains(head, []byte("\x01vorbis")) || bytes.Contains(head, []byte("fLaC")) {
			return "audio/ogg"
		}
		return "application/ogg"
	}
	typ, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	return typ
}
