package server

import (
	"net/http"

	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// uploadReserve is how much of the tenant's attachment quota an upload reserves before its
// body is read: the most the stored file can be, its request's length when the client said it
// (browsers do for a form), else the tenant's largest upload.
func uploadReserve(r *http.Request, maxBytes int64) int64 {
	if r.ContentLength > 0 {
		return min(r.ContentLength, maxBytes)
	}
	return maxBytes
}

// quotaExceeded refuses an upload past the tenant's attachment quota: 507 Insufficient
// Storage with the error code as the body, the code a send past the message quota gets.
func quotaExceeded(w http.ResponseWriter) {
	http.Error(w, frames.CodeQuotaExceeded, http.StatusInsufficientStorage)
}
