package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/frontdesk-chat/frontdesk/gateway/token"
)

// TestOneParseDecidesAsParseWithClaims holds the token parsed once (parse.go) to golang-jwt's
// own ParseWithClaims: for every token, both accept it or both refuse it, for the same reason
// (reasonOf) and with the same sentinel errors, and an accepted one has the same claims.
func TestOneParseDecidesAsParseWithClaims(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaPubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	now := time.Now()
	claims := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": "https://shop", "aud": "frontdesk", "sub": "alice", "tenant": "shop",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if change != nil {
			change(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	byMethod := func(*jwt.Token) (any, error) { return &ecKey.PublicKey, nil }
	methods := []string{"RS256", "ES256", "EdDSA", "HS256"}

	tests := []struct {
		name string
		raw  string
		kf   jwt.Keyfunc
		// want is the reason both must give ("" for accepted).
		want string
	}{
		{name: "valid ES256", raw: sign(jwt.SigningMethodES256, ecKey, claims(nil)), kf: byMethod},
		{name: "signed by another key", raw: sign(jwt.SigningMethodES256, otherEC, claims(nil)), kf: byMethod, want: "bad_signature"},
		{name: "a key set, the right key second", raw: sign(jwt.SigningMethodES256, ecKey, claims(nil)),
			kf: func(*jwt.Token) (any, error) {
				return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{&otherEC.PublicKey, &ecKey.PublicKey}}, nil
			}},
		{name: "a key set without the key", raw: sign(jwt.SigningMethodES256, ecKey, claims(nil)),
			kf: func(*jwt.Token) (any, error) {
				return jwt.VerificationKeySet{Keys: []jwt.VerificationKey{&otherEC.PublicKey}}, nil
			}, want: "bad_signature"},
		{name: "an empty key set", raw: sign(jwt.SigningMethodES256, ecKey, claims(nil)),
			kf: func(*jwt.Token) (any, error) { return jwt.VerificationKeySet{}, nil }, want: "bad_signature"},
		{name: "unknown kid", raw: sign(jwt.SigningMethodES256, ecKey, claims(nil)),
			kf: func(*jwt.Token) (any, error) { return nil, errors.New("unknown kid") }, want: "bad_signature"},
		{name: "alg none", raw: sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), kf: byMethod, want: "bad_algorithm"},
		{name: "HS384, not allowed", raw: sign(jwt.SigningMethodHS384, []byte(strings.Repeat("s", 48)), claims(nil)), kf: byMethod, want: "bad_algorithm"},
		{name: "HS256 with the RSA public key as secret", raw: sign(jwt.SigningMethodHS256, rsaPubDER, claims(nil)),
			kf: func(*jwt.Token) (any, error) { return &rsaKey.PublicKey, nil }, want: "bad_signature"},
		{name: "expired", raw: sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), kf: byMethod, want: "expired"},
		{name: "no exp", raw: sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { delete(c, "exp") })), kf: byMethod, want: "bad_token"},
		{name: "nbf ahead", raw: sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), kf: byMethod, want: "not_yet_valid"},
		{name: "iat ahead", raw: sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })), kf: byMethod, want: "issued_in_future"},
		{name: "wrong aud", raw: sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { c["aud"] = "elsewhere" })), kf: byMethod, want: "bad_audience"},
		{name: "wrong iss", raw: sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { c["iss"] = "https://other" })), kf: byMethod, want: "bad_issuer"},
		{name: "signature of another token", raw: func() string {
			a := sign(jwt.SigningMethodES256, ecKey, claims(nil))
			b := sign(jwt.SigningMethodES256, ecKey, claims(func(c jwt.MapClaims) { c["sub"] = "mallory" }))
			return b[:strings.LastIndexByte(b, '.')] + a[strings.LastIndexByte(a, '.'):]
		}(), kf: byMethod, want: "bad_signature"},
	}
	opts := []jwt.ParserOption{jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(token.Leeway),
		jwt.WithIssuer("https://shop"), jwt.WithAudience("frontdesk")}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ref := &token.Claims{}
			_, refErr := jwt.NewParser(append([]jwt.ParserOption{jwt.WithValidMethods(methods)}, opts...)...).ParseWithClaims(tc.raw, ref, tc.kf)

			p, err := parseToken(tc.raw)
			if err != nil {
				t.Fatalf("parseToken: %v", err)
			}
			gotErr := p.verify(methods, tc.kf, jwt.NewValidator(opts...))

			if got, want := reasonOrOK(gotErr), reasonOrOK(refErr); got != want || got != orOK(tc.want) {
				t.Fatalf("one parse: %s (%v); ParseWithClaims: %s (%v); want %s", got, gotErr, want, refErr, orOK(tc.want))
			}
			for _, sentinel := range []error{jwt.ErrTokenSignatureInvalid, jwt.ErrTokenUnverifiable, jwt.ErrTokenInvalidClaims,
				jwt.ErrTokenExpired, jwt.ErrTokenRequiredClaimMissing} {
				if errors.Is(gotErr, sentinel) != errors.Is(refErr, sentinel) {
					t.Errorf("errors.Is(%v): one parse %v, ParseWithClaims %v", sentinel, errors.Is(gotErr, sentinel), errors.Is(refErr, sentinel))
				}
			}
			if gotErr == nil && (p.claims.Subject != ref.Subject || p.claims.Issuer != ref.Issuer || !p.tok.Valid) {
				t.Errorf("accepted claims %+v, ParseWithClaims %+v", p.claims, ref)
			}
		})
	}
}

func orOK(reason string) string {
	if reason == "" {
		return "ok"
	}
	return reason
}

func reasonOrOK(err error) string {
	if err == nil {
		return "ok"
	}
	return reasonOf(err)
}
