package app_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/internal/apptest"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/proto/frames"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit/oidcop"
)

// ssoUsers are the people at the test provider.
var ssoUsers = []oidcop.User{
	{ID: "u-ann", Username: "ann", Password: "pw-ann", Name: "Ann Agent", Email: "ann@acme.test", Verified: true,
		Claims: map[string]any{"groups": []string{"support"}, "skills": []string{"billing", "fr"}, "max_chats": 4}},
	{ID: "u-sam", Username: "sam", Password: "pw-sam", Name: "Sam Lead", Email: "sam@acme.test", Verified: true,
		Claims: map[string]any{"groups": []string{"support", "leads"}}},
	{ID: "u-eve", Username: "eve", Password: "pw-eve", Name: "Eve Marketing", Email: "eve@acme.test", Verified: true,
		Claims: map[string]any{"groups": []string{"marketing"}}},
	{ID: "u-mal", Username: "mal", Password: "pw-mal", Name: "Mal Outsider", Email: "mal@evil.test", Verified: true,
		Claims: map[string]any{"groups": []string{"support"}}},
}

// ssoEnv is a gateway whose tenant "corp" signs its staff in at a real OpenID provider.
type ssoEnv struct {
	*apptest.Env
	g *apptest.Gateway
	p *oidcop.Provider
}

func newSSOEnv(t *testing.T) *ssoEnv {
	t.Helper()
	e := apptest.NewEnv(t)
	p := oidcop.Start(t, ssoUsers...)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "corp-sso"), []byte("corp-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	seedTenants(t, e, []*fd.Tenant{{Id: "corp", Name: "Corp", StaffSso: &fd.StaffSSO{
		Issuer: p.Issuer, ClientId: "frontdesk", ClientSecretFile: "corp-sso", DisplayName: "Corp SSO",
		AllowedEmailDomains: []string{"acme.test"}, AllowedGroups: []string{"support"}, SupervisorGroups: []string{"leads"},
		SkillsClaim: "skills", MaxChatsClaim: "max_chats"}}})
	g := e.Gateway(func(c *app.Config) {
		c.Gateway.SSOSecretsDir = dir
		c.Gateway.DevTenants = []string{"devonly"}
	})
	p.AddClient("frontdesk", "corp-client-secret", g.URL+"/v1/sso/callback")
	return &ssoEnv{Env: e, g: g, p: p}
}

// browser is an HTTP client with cookies, as a browser has.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// signIn runs the whole code flow as a person would: the console's button, the provider's login
// page, back to the console. It returns where the browser landed and the page's status.
func (se *ssoEnv) signIn(t *testing.T, b *http.Client, user, password string) (*http.Response, string) {
	t.Helper()
	resp, err := b.Get(se.g.URL + "/v1/sso/corp/login")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Now on the provider's login page, with the auth request id in its URL.
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" || !strings.HasPrefix(resp.Request.URL.String(), se.p.Issuer) {
		t.Fatalf("not at the provider's login page: %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	resp, err = b.PostForm(strings.TrimSuffix(se.p.Issuer, "/")+"/login/username", url.Values{"id": {id}, "username": {user}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// consoleToken asks for a console token with the session cookie, as the console page does.
func (se *ssoEnv) consoleToken(t *testing.T, b *http.Client) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, se.g.URL+"/v1/session", nil)
	req.Header.Set("Origin", se.g.URL)
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out.Token
}

func TestStaffSSO(t *testing.T) {
	t.Parallel()
	se := newSSOEnv(t)

	resp, err := http.Get(se.g.URL + "/v1/sso/corp")
	if err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info["enabled"] != true || info["name"] != "Corp SSO" {
		t.Fatalf("sso info = %v", info)
	}

	tests := []struct {
		name, user, password string
		role                 string // empty: refused
		skills               []string
		maxChats             int
	}{
		{"agent with skills", "ann", "pw-ann", frames.RoleAgent, []string{"billing", "fr"}, 4},
		{"supervisor by group", "sam", "pw-sam", frames.RoleSupervisor, nil, 0},
		{"not in an allowed group", "eve", "pw-eve", "", nil, 0},
		{"email domain not allowed", "mal", "pw-mal", "", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := browser(t)
			resp, body := se.signIn(t, b, tc.user, tc.password)
			if tc.role == "" {
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not allowed") {
					t.Fatalf("refused sign-in: %d %q", resp.StatusCode, body)
				}
				if status, _ := se.consoleToken(t, b); status != http.StatusUnauthorized {
					t.Fatalf("session after a refused sign-in: %d", status)
				}
				return
			}
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/agent" || resp.Request.URL.Query().Get("tenant") != "corp" {
				t.Fatalf("landed on %s (%d): %.200s", resp.Request.URL, resp.StatusCode, body)
			}
			status, tok := se.consoleToken(t, b)
			if status != http.StatusOK {
				t.Fatalf("console token: %d", status)
			}
			c := &token.Claims{}
			if _, _, err := jwt.NewParser().ParseUnverified(tok, c); err != nil {
				t.Fatal(err)
			}
			if c.Role != tc.role || c.Kind != token.KindStaff || c.Tenant != "corp" || !strings.HasPrefix(c.Subject, "s_") ||
				fmt.Sprint(c.Skills) != fmt.Sprint(tc.skills) || c.MaxChats != tc.maxChats || c.Lifetime() > 15*60e9 {
				t.Fatalf("claims = %+v", c)
			}
			cl, w := se.g.Dial(t, tok)
			if w.GetRole() != tc.role || w.GetUser() != c.Subject || w.GetTenant() != "corp" {
				t.Fatalf("welcome = %v", w)
			}
			// Signing in again is the same person.
			se.signIn(t, browser(t), tc.user, tc.password)
			// Sign-out ends the session: no more console tokens.
			req, _ := http.NewRequest(http.MethodPost, se.g.URL+"/v1/session/logout", nil)
			req.Header.Set("Origin", se.g.URL)
			out, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			out.Body.Close()
			if status, _ := se.consoleToken(t, b); status != http.StatusUnauthorized {
				t.Fatalf("console token after sign-out: %d", status)
			}
			_ = cl
		})
	}
}

// TestSSOProviderKeyRotation: the provider rotates its signing key during a live run; people
// already signed in stay connected, and the next sign-in (ID token with the new kid) works.
func TestSSOProviderKeyRotation(t *testing.T) {
	t.Parallel()
	se := newSSOEnv(t)
	b := browser(t)
	se.signIn(t, b, "ann", "pw-ann")
	_, tok := se.consoleToken(t, b)
	cl, _ := se.g.Dial(t, tok)
	old := se.p.SigningKID()
	if err := se.p.Rotate(); err != nil {
		t.Fatal(err)
	}
	if se.p.SigningKID() == old {
		t.Fatal("provider did not rotate")
	}
	b2 := browser(t)
	resp, body := se.signIn(t, b2, "sam", "pw-sam")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/agent" {
		t.Fatalf("sign-in after rotation: %d %.200s", resp.StatusCode, body)
	}
	if status, _ := se.consoleToken(t, b2); status != http.StatusOK {
		t.Fatalf("console token after rotation: %d", status)
	}
	// The first agent's socket was not dropped.
	cl.Send(&fd.ClientFrame{Type: frames.TypePresence, Status: "available"})
	if status, tok2 := se.consoleToken(t, b); status != http.StatusOK || tok2 == "" {
		t.Fatalf("first session after rotation: %d", status)
	}
}

// TestSessionCrossOrigin: another site cannot ask for a console token with the cookie.
func TestSessionCrossOrigin(t *testing.T) {
	t.Parallel()
	se := newSSOEnv(t)
	b := browser(t)
	se.signIn(t, b, "ann", "pw-ann")
	req, _ := http.NewRequest(http.MethodPost, se.g.URL+"/v1/session", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin session request: %d", resp.StatusCode)
	}
}
