//go:build !unix

package pgcluster

import (
	"errors"
	"os/exec"
)

// DefaultUser is nil: only unix systems have an unprivileged user to switch to.
func DefaultUser() (*User, error) { return nil, nil }

func chown(string, *User) error { return errors.New("pgcluster: unsupported system") }

func runAs(*exec.Cmd, *User) {}

// Detach does nothing on this system.
func Detach(*exec.Cmd) {}
