// Package buildinfo holds the version and commit stamped into every binary at link time:
//
//	go build -ldflags "-X github.com/frontdesk-chat/frontdesk/services/buildinfo.Version=v1.2.3 \
//	  -X github.com/frontdesk-chat/frontdesk/services/buildinfo.Commit=abc123"
//
// They are variables only so the linker can set them; nothing assigns them at run time.
package buildinfo

import (
	"fmt"
	"runtime"
)

// Version is the release version ("dev" for a local build).
var Version = "dev"

// Commit is the git commit the binary was built from.
var Commit = "unknown"

// String is the one-line answer to --version, e.g. "gateway v1.2.3 (commit abc123, go1.26.8)".
func String(service string) string {
	return fmt.Sprintf("%s %s (commit %s, %s)", service, Version, Commit, runtime.Version())
}
