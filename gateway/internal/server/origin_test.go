package server

import (
	"net/http/httptest"
	"testing"
)

func TestOriginAllowed(t *testing.T) {
	t.Parallel()
	patterns := []string{"*.acme.com", "https://app.example.org", "localhost:*"}
	tests := []struct {
		name, origin, host string
		want               bool
	}{
		{"no origin (not a browser)", "", "gw.example", true},
		{"same origin", "https://gw.example", "gw.example", true},
		{"subdomain pattern", "https://shop.acme.com", "gw.example", true},
		{"pattern is case-insensitive", "https://SHOP.ACME.COM", "gw.example", true},
		{"bare domain does not match *.", "https://acme.com", "gw.example", false},
		{"scheme pattern", "https://app.example.org", "gw.example", true},
		{"scheme pattern, other scheme", "http://app.example.org", "gw.example", false},
		{"port wildcard", "http://localhost:3000", "gw.example", true},
		{"other site", "https://evil.example", "gw.example", false},
		{"suffix trick", "https://evil.com.acme.com.evil.net", "gw.example", false},
		{"unparseable", "://", "gw.example", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "http://"+tc.host+"/v1/ws", nil)
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if got := OriginAllowed(r, patterns); got != tc.want {
				t.Fatalf("OriginAllowed(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
}
