package browser_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
	"github.com/frontdesk-chat/frontdesk/services/testkit/oidcop"
)

// TestIdentity signs people in as they would in production, in one system: an agent through
// the tenant's OpenID provider (and out again), and a signed-in customer of the tenant's own
// site whose conversation follows them to another browser. The token form of the console is
// covered by TestConsoleSignIn.
func TestIdentity(t *testing.T) {
	provider := oidcop.Start(t, oidcop.User{ID: "u-ann", Username: "ann", Password: "pw-ann", Name: "Ann Agent",
		Email: "ann@corp.test", Verified: true, Claims: map[string]any{"groups": []string{"support"}, "skills": []string{"billing", "fr"}}})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "corp-sso"), []byte("corp-client-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	corp := featureTenant("corp")
	corp.StaffSso = &fd.StaffSSO{Issuer: provider.Issuer, ClientId: "frontdesk", ClientSecretFile: "corp-sso", DisplayName: "Corp SSO",
		AllowedEmailDomains: []string{"corp.test"}, AllowedGroups: []string{"support"}, SkillsClaim: "skills"}
	backend := newCustomerBackend(t)
	shop := featureTenant("shop")
	shop.AnonymousVisitors = false
	shop.CustomerIssuers = []*fd.CustomerIssuer{{Issuer: backend.iss, Audience: "frontdesk", Jwks: backend.jwks(t)}}
	sys := startSystemWith(t, options{ssoSecretsDir: dir}, corp, shop)
	provider.AddClient("frontdesk", "corp-client-secret", sys.URL+"/v1/sso/callback")
	b := newBrowser(t)

	t.Run("sso", func(t *testing.T) { testSSOSignIn(t, sys, b) })
	t.Run("signed-in customer", func(t *testing.T) { testSignedInCustomer(t, sys, b, backend) })
}

// testSSOSignIn: the console offers the tenant's provider, the agent logs in there and lands in
// the console as themselves with their skills; signing out ends the session for good.
func testSSOSignIn(t *testing.T, sys *system, b *browser) {
	a := b.tab(t, "agent", true)
	a.do("load console", chromedp.Navigate(sys.URL+"/agent?tenant=corp"))
	a.waitJS("sign-in button", `document.querySelector('#sso')?.textContent === 'Sign in with Corp SSO'`)
	a.screenshot("console-sso-sign-in")
	a.do("sign in with the provider", chromedp.Click(chromedp.CSS("#sso")))
	a.waitJS("provider's login page", `!!document.querySelector('input[name=password]')`)
	a.do("log in at the provider",
		chromedp.SendKeys(chromedp.CSS("#username"), "ann"),
		chromedp.SendKeys(chromedp.CSS("#password"), "pw-ann"),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	a.waitJS("console connected as Ann", `document.querySelector('.conn.ok') && document.querySelector('.me-name')?.textContent === 'Ann Agent'`)
	if got := eval[string](a, `document.querySelector('.me-skills')?.textContent ?? ''`); got != "billing, fr" {
		t.Fatalf("skills shown: %q", got)
	}
	if got := eval[string](a, `location.pathname + location.search`); got != "/agent?tenant=corp" {
		t.Fatalf("landed on %q", got)
	}
	if eval[bool](a, `document.cookie.includes('fd_console')`) {
		t.Fatal("the session cookie is readable by scripts")
	}
	if eval[string](a, `localStorage.getItem('fd:agent:token') ?? ''`) != "" {
		t.Fatal("the SSO token was stored in localStorage")
	}
	a.do("go available", chromedp.Click(chromedp.CSS(".switch")))
	a.waitJS("available", `document.querySelector('.switch').getAttribute('aria-checked') === 'true'`)
	a.do("reload", chromedp.Reload())
	a.waitJS("still signed in after a reload", `document.querySelector('.conn.ok') && document.querySelector('.me-name')?.textContent === 'Ann Agent'`)
	a.screenshot("console-sso-signed-in")

	a.do("sign out", chromedp.Click(chromedp.CSS(`.me button[aria-label="Sign out"]`)))
	a.waitJS("signed out", `document.querySelector('.signin-card .error')?.textContent === 'You are signed out.' && !!document.querySelector('#sso')`)
	a.do("reload", chromedp.Reload())
	a.waitJS("still signed out after a reload", `!!document.querySelector('#sso') && !document.querySelector('.conn')`)
	checkNoPageErrors(t, a)
}

// customerBackend is the tenant's own site: it signs its customers' tokens (RS256).
type customerBackend struct {
	iss string
	key *rsa.PrivateKey
}

func newCustomerBackend(t *testing.T) *customerBackend {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &customerBackend{iss: "https://shop.test", key: k}
}

func (cb *customerBackend) jwks(t *testing.T) string {
	t.Helper()
	j, err := jwkset.NewJWKFromKey(&cb.key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "shop-1", USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}})
	return string(b)
}

func (cb *customerBackend) token(t *testing.T, sub, name string) string {
	t.Helper()
	tk := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": cb.iss, "aud": "frontdesk", "sub": sub, "name": name,
		"iat": time.Now().Unix(), "exp": time.Now().Add(30 * time.Minute).Unix()})
	tk.Header["kid"] = "shop-1"
	s, err := tk.SignedString(cb.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// page serves the tenant's site for a signed-in customer: the widget gets the site's token.
func (cb *customerBackend) page(t *testing.T, sys *system, tok string) string {
	t.Helper()
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><title>Shop account</title><h1>Your account</h1>` +
			`<script src="` + sys.URL + `/widget.js" data-tenant="shop" data-gateway="` + sys.URL + `" data-token="` + tok + `" data-lang="en" async></script>`))
	}))
	t.Cleanup(site.Close)
	return site.URL + "/"
}

// testSignedInCustomer: a customer signed in on the shop writes from one browser, then opens
// the shop in another browser profile (a new token for the same account): the conversation is
// there, and what they write there reaches the first browser too.
func testSignedInCustomer(t *testing.T, sys *system, b *browser, cb *customerBackend) {
	laptop := b.tab(t, "laptop", true)
	openWidget(laptop, cb.page(t, sys, cb.token(t, "cust-42", "Grace Hopper")))
	say(laptop, "Where is order 42?")
	waitWidgetMessage(laptop, "Where is order 42?")

	phone := b.tab(t, "phone", true) // another profile: nothing shared with the laptop
	openWidget(phone, cb.page(t, sys, cb.token(t, "cust-42", "Grace Hopper")))
	waitWidgetMessage(phone, "Where is order 42?")
	say(phone, "It was a gift")
	waitWidgetMessage(laptop, "It was a gift")
	phone.screenshot("widget-signed-in-second-device")
	checkNoPageErrors(t, laptop, phone)
}
