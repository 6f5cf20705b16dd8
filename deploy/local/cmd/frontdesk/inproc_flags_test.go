package main

import (
	"io"
	"testing"
)

// TestGOGCFlag: the one process's GC target defaults to defaultGOGC, and only an explicit
// -gogc is marked as winning over a GOGC variable.
func TestGOGCFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		want    int
		wantSet bool
	}{
		{name: "default", args: nil, want: defaultGOGC, wantSet: false},
		{name: "explicit", args: []string{"-gogc", "100"}, want: 100, wantSet: true},
		{name: "collector off", args: []string{"-gogc=-1"}, want: -1, wantSet: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(append([]string{"frontdesk", "-tenants", "x.yaml"}, tc.args...), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.gogc != tc.want || o.gogcSet != tc.wantSet {
				t.Fatalf("gogc %d (set %v), want %d (set %v)", o.gogc, o.gogcSet, tc.want, tc.wantSet)
			}
		})
	}
}
