package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

// BenchmarkVerify is the cost of deciding one token, keys cached:
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
	a := New(Config{Issuer: "frontdesk", Keys: func() *token.Keys { return keys }}, zap.NewNop())
	tenantOf := func(string) (*fd.Tenant, bool) { return tenant, true }
	customer := func(m jwt.SigningMethod, kid string, key crypto.Signer) string {
		t := jwt.NewWithClaims(m, jwt.MapClaims{"iss": "https://shop", "aud": "frontdesk", "sub": "alice",
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
		t.Header["kid"] = kid
		s, _ := t.SignedString(key)
		return s
	}
	visitor, _ := a.Sign(token.Claims{Subject: "v_1", Tenant: "shop", Role: "customer", Kind: token.KindVisitor}, time.Hour)
	for _, bc := range []struct{ name, tok string }{
		{"customer RS256", customer(jwt.SigningMethodRS256, "rs", rsaKey)},
		{"customer ES256", customer(jwt.SigningMethodES256, "es", ecKey)},
		{"visitor ES256 (gateway keys)", visitor},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, _, err := a.Verify(ctx, bc.tok, "shop", tenantOf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
