//go:build unix

package pgcluster

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// DefaultUser is the user a cluster made by this process belongs to: nil (the current user)
// unless running as root; as root, the postgres user if it exists, else nobody.
func DefaultUser() (*User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			continue
		}
		return &User{Name: name, UID: uid, GID: gid}, nil
	}
	return nil, errors.New("pgcluster: running as root and there is no postgres or nobody user to run postgres as")
}

func chown(path string, u *User) error { return os.Chown(path, u.UID, u.GID) }

func runAs(cmd *exec.Cmd, u *User) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}
}

// Detach puts cmd in its own process group, so a Ctrl-C to ours does not reach it.
func Detach(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
