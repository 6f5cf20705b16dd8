//go:build !unix

package testkit

import "errors"

func lockFile(string) (func(), error) {
	return nil, errors.New("a throwaway postgres cluster needs a unix system")
}
