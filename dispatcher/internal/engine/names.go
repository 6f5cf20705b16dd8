package engine

import "errors"

// The command, event and reason names the dispatcher shares with the contract are in
// proto/frames (bus.go); transitions.go lists the ones it decides on.

var (
	errConflict = errors.New("conversation changed concurrently")
	errStale    = errors.New("conversation no longer queued")
)
