package server

import "testing"

func TestAttachmentName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, typ, want string
	}{
		{"extension from the type", "cat.exe", "image/png", "cat.png"},
		{"right extension kept", "photo.jpeg", "image/jpeg", "photo.jpg"},
		{"right-to-left override stripped", "invoice\u202egnp.exe", "image/png", "invoicegnp.png"},
		{"isolates and marks stripped", "a\u2066b\u2069c\u200f.pdf", "application/pdf", "abc.pdf"},
		{"double extension loses the last", "report.pdf.exe", "text/plain", "report.pdf.txt"},
		{"base name only", "../../etc/passwd", "text/plain", "passwd.txt"},
		{"windows path", `C:\Users\a\cv.pdf`, "application/pdf", "cv.pdf"},
		{"nothing left", "\u202e.exe", "image/gif", "attachment.gif"},
		{"control characters", "a\x00b\nc.png", "image/png", "abc.png"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := AttachmentName(tc.in, tc.typ); got != tc.want {
				t.Fatalf("AttachmentName(%q, %q) = %q, want %q", tc.in, tc.typ, got, tc.want)
			}
		})
	}
}
