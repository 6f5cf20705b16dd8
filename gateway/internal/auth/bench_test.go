package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// BenchmarkVerify is the cost of deciding one token, keys cached: with its signature checked
// (the verified-token cache off, as for a token seen for the first time) and from the cache (a
// reconnect with the same token). The visitor rows compare the two algorithms the gateway's own
// keys may use, ES256 and EdDSA.
//
//	cd gateway && go test -run '^$' -bench Verify ./internal/auth/
func BenchmarkVerify(b *testing.B) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set := jwkset.JWKSMarshal{}
	for kid, k := range map[string]crypto.PublicKey{"rs": &rsaKey.PublicKey, "es": &ecKey.PublicKey} {
		j, _ := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
		set.Keys = append(set.Keys, j.Marshal())
	}
	jwks, _ := json.Marshal(set)
	tenant := &fd.Tenant{Id: "shop", CustomerIssuers: []*fd.CustomerIssuer{{Issuer: "https://shop", Audience: "frontdesk", Jwks: string(jwks)}}}
	keysJSON, _ := token.GenerateKeys(nil)
	keys, _ := token.ParseKeys(keysJSON)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edJWK, _ := jwkset.NewJWKFromKey(edPriv, jwkset.JWKOptions{Marshal: jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: "ed", ALG: jwkset.AlgEdDSA}})
	edJSON, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{edJWK.Marshal()}})
	edKeys, err := token.ParseKeys(edJSON)
	if err != nil {
		b.Fatal(err)
	}
	uncached := New(Config{Issuer: "frontdesk", Keys: func() *token.Keys { return keys }, CacheEntries: -1}, zap.NewNop())
	cached := New(Config{Issuer: "frontdesk", Keys: func() *token.Keys { return keys }}, zap.NewNop())
	edUncached := New(Config{Issuer: "frontdesk", Keys: func() *token.Keys { return edKeys }, CacheEntries: -1}, zap.NewNop())
	edCached := New(Config{Issuer: "frontdesk", Keys: func() *token.Keys { return edKeys }}, zap.NewNop())
	tenantOf := func(string) (*fd.Tenant, bool) { return tenant, true }
	customer := func(m jwt.SigningMethod, kid string, key crypto.Signer) string {
		t := jwt.NewWithClaims(m, jwt.MapClaims{"iss": "https://shop", "aud": "frontdesk", "sub": "alice",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
		t.Header["kid"] = kid
		s, _ := t.SignedString(key)
		return s
	}
	visitor, _ := cached.Sign(token.Claims{Subject: "v_1", Tenant: "shop", Role: "customer", Kind: token.KindVisitor}, time.Hour)
	edVisitor, _ := edCached.Sign(token.Claims{Subject: "v_1", Tenant: "shop", Role: "customer", Kind: token.KindVisitor}, time.Hour)
	rs, es := customer(jwt.SigningMethodRS256, "rs", rsaKey), customer(jwt.SigningMethodES256, "es", ecKey)
	for _, bc := range []struct {
		name string
		a    *Authenticator
		tok  string
	}{
		{"customer RS256", uncached, rs},
		{"customer ES256", uncached, es},
		{"visitor ES256 (gateway keys)", uncached, visitor},
		{"visitor EdDSA (gateway keys)", edUncached, edVisitor},
		{"cached customer RS256", cached, rs},
		{"cached customer ES256", cached, es},
		{"cached visitor ES256", cached, visitor},
		{"cached visitor EdDSA", edCached, edVisitor},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			defer cpuPerOp(b)()
			for b.Loop() {
				if _, _, err := bc.a.Verify(ctx, bc.tok, "shop", tenantOf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// cpuPerOp reports the process's CPU time per op (user and system) when the returned function
// runs: on a shared, loaded machine wall time per op follows everyone's load, CPU time much less.
func cpuPerOp(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-start).Microseconds())/float64(b.N), "cpu-µs/op")
	}
}
