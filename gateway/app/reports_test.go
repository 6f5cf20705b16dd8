package app_test

import (
	"net/http"
	"testing"

	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
)

// TestReportsRefusals: reports are for supervisors, with a valid range; without a persister
// answering, the gateway says so rather than hang. (The figures themselves are tested end to end
// with the persister in deploy/local/browser, TestConsoleFeatures/reports.)
func TestReportsRefusals(t *testing.T) {
	t.Parallel()
	e := apptest.NewEnv(t)
	g := e.Gateway()
	sup, agent := apptest.Token(t, "acme", "s1", frames.RoleSupervisor), apptest.Token(t, "acme", "a1", frames.RoleAgent)
	tests := []struct {
		name, token, query string
		status             int
	}{
		{"agent", agent, "from=2026-12-01&to=2026-12-08", http.StatusForbidden},
		{"no token", "", "from=2026-12-01&to=2026-12-08", http.StatusUnauthorized},
		{"no range", sup, "", http.StatusBadRequest},
		{"to before from", sup, "from=2026-12-08&to=2026-12-01", http.StatusBadRequest},
		{"bad zone", sup, "from=2026-12-01&to=2026-12-08&tz=Mars/Base", http.StatusBadRequest},
		{"bad format", sup, "from=2026-12-01&to=2026-12-08&format=xlsx", http.StatusBadRequest},
		{"nobody answers", sup, "from=2026-12-01&to=2026-12-08&tz=Europe/Paris", http.StatusBadGateway},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/v1/reports?"+tc.query, nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
