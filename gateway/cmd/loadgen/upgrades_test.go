package main

import (
	"errors"
	"strconv"
	"testing"
)

// TestMintTokens: the tokens signed ahead of a run are every index's own token, in order, and a
// signing failure stops the run before it starts.
func TestMintTokens(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		n       int
		failAt  int // -1: never
		wantErr bool
	}{
		{name: "none", n: 0, failAt: -1},
		{name: "fewer than the processors", n: 1, failAt: -1},
		{name: "many", n: 1001, failAt: -1},
		{name: "a signature fails", n: 100, failAt: 57, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := mintTokens(tc.n, func(i int) (string, error) {
				if i == tc.failAt {
					return "", boom
				}
				return "t" + strconv.Itoa(i), nil
			})
			if tc.wantErr {
				if !errors.Is(err, boom) {
					t.Fatalf("err %v, want %v", err, boom)
				}
				return
			}
			if err != nil || len(got) != tc.n {
				t.Fatalf("%d tokens, err %v; want %d", len(got), err, tc.n)
			}
			for i, tok := range got {
				if tok != "t"+strconv.Itoa(i) {
					t.Fatalf("token %d is %q", i, tok)
				}
			}
		})
	}
}
