package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"testing"

	"github.com/MicahParks/jwkset"
)

func jwksOf(t *testing.T, keys ...any) string {
	t.Helper()
	out := jwkset.JWKSMarshal{}
	for i, k := range keys {
		j, err := jwkset.NewJWKFromKey(k, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: string(rune('a' + i))}})
		if err != nil {
			t.Fatal(err)
		}
		out.Keys = append(out.Keys, j.Marshal())
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// TestParsePublicJWKS: a tenant's key set yields its public keys only; secrets, weak keys and
// garbage never become verification keys.
func TestParsePublicJWKS(t *testing.T) {
	t.Parallel()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tests := []struct {
		name string
		jwks string
		kids []string
	}{
		{"rsa and ec", jwksOf(t, &rsaKey.PublicKey, &ec.PublicKey), []string{"a", "b"}},
		{"private keys published by mistake: public halves only", jwksOf(t, rsaKey), []string{"a"}},
		{"weak rsa skipped", jwksOf(t, &weak.PublicKey, &ec.PublicKey), []string{"b"}},
		{"only a weak key", jwksOf(t, &weak.PublicKey), nil},
		{"symmetric key refused", `{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}`, nil},
		{"empty", `{"keys":[]}`, nil},
		{"not json", `{`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parsePublicJWKS([]byte(tc.jwks))
			if len(tc.kids) == 0 {
				if err == nil {
					t.Fatalf("accepted: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.kids) {
				t.Fatalf("kids %v, want %v", got, tc.kids)
			}
			for _, k := range tc.kids {
				if _, ok := got[k]; !ok {
					t.Fatalf("kid %q missing", k)
				}
				if _, isPriv := got[k].key.(*rsa.PrivateKey); isPriv {
					t.Fatal("a private key is used to verify")
				}
			}
		})
	}
}
