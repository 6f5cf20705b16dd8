package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Keys is the gateway's own key set: the first key signs, every key verifies. It is a JSON Web
// Key Set with private keys (ES256 on P-256, or EdDSA on Ed25519), each with a "kid". Rotation
// without logging anyone out: put a new key first and keep the old ones until every token they
// signed has expired (the longest lifetime the gateway signs is a console session, 12 hours).
//
// A Keys value is immutable; the gateway swaps in a new one when its key file changes.
type Keys struct {
	signKID string
	signer  crypto.Signer
	method  jwt.SigningMethod
	public  map[string]crypto.PublicKey
}

// ErrNoKeys is returned when a key set holds no usable private key.
var ErrNoKeys = errors.New("no signing key")

// ParseKeys reads a JSON Web Key Set of private keys. Every key needs a distinct kid; public or
// symmetric keys are refused, so a set meant to sign cannot be confused with a public one.
func ParseKeys(data []byte) (*Keys, error) {
	var m jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	jwks, err := m.JWKSlice()
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	k := &Keys{public: map[string]crypto.PublicKey{}}
	for i, j := range jwks {
		kid := j.Marshal().KID
		if kid == "" {
			return nil, fmt.Errorf("key set: key %d has no kid", i)
		}
		if _, dup := k.public[kid]; dup {
			return nil, fmt.Errorf("key set: kid %q twice", kid)
		}
		var (
			signer crypto.Signer
			method jwt.SigningMethod
		)
		switch key := j.Key().(type) {
		case *ecdsa.PrivateKey:
			if key.Curve != elliptic.P256() {
				return nil, fmt.Errorf("key set: key %q: only P-256 ECDSA keys (ES256)", kid)
			}
			signer, method = key, jwt.SigningMethodES256
		case ed25519.PrivateKey:
			signer, method = key, jwt.SigningMethodEdDSA
		default:
			return nil, fmt.Errorf("key set: key %q is %T, want a P-256 or Ed25519 private key", kid, key)
		}
		k.public[kid] = signer.Public()
		if i == 0 {
			k.signKID, k.signer, k.method = kid, signer, method
		}
	}
	if k.signer == nil {
		return nil, fmt.Errorf("key set: %w", ErrNoKeys)
	}
	return k, nil
}

// GenerateKeys returns a new key set of one ES256 key, as JSON, followed by the keys of prev
// (a key set's JSON, or nil): the rotation step. Keys of prev older than needed are the
// caller's to drop. ES256 rather than EdDSA: measured side by side, an Ed25519 signature costs
// about as much CPU to verify as a P-256 one with Go 1.26's P-256 assembly (71.6 against 76.6
// µs, within the machine's noise; BENCHMARKS.md, Authenticated upgrades), and more of the
// platform teams' JOSE libraries take P-256. GenerateKeysFor makes either.
func GenerateKeys(prev []byte) ([]byte, error) {
	return GenerateKeysFor(jwt.SigningMethodES256.Alg(), prev)
}

// GenerateKeysFor is GenerateKeys with the new key's algorithm: "EdDSA" or "ES256".
func GenerateKeysFor(alg string, prev []byte) ([]byte, error) {
	var (
		priv any
		err  error
	)
	switch alg {
	case jwt.SigningMethodEdDSA.Alg():
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case jwt.SigningMethodES256.Alg():
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, fmt.Errorf("generate key: algorithm %q is not EdDSA or ES256", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	id := make([]byte, 9)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	kid := time.Now().UTC().Format("20060102") + "-" + base64.RawURLEncoding.EncodeToString(id)
	j, err := jwkset.NewJWKFromKey(priv, jwkset.JWKOptions{
		Marshal:  jwkset.JWKMarshalOptions{Private: true},
		Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.ALG(alg), USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	out := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{j.Marshal()}}
	if len(prev) > 0 {
		var old jwkset.JWKSMarshal
		if err := json.Unmarshal(prev, &old); err != nil {
			return nil, fmt.Errorf("previous key set: %w", err)
		}
		out.Keys = append(out.Keys, old.Keys...)
	}
	return json.MarshalIndent(out, "", "  ")
}

// SigningKID is the kid of the key that signs.
func (k *Keys) SigningKID() string { return k.signKID }

// KIDs are the kids of every key, the signing one first.
func (k *Keys) KIDs() []string {
	out := []string{k.signKID}
	for kid := range k.public {
		if kid != k.signKID {
			out = append(out, kid)
		}
	}
	return out
}

// Sign signs c with the signing key. iat and exp are set from now and ttl; nbf is left as given.
func (k *Keys) Sign(c Claims, ttl time.Duration) (string, error) {
	now := time.Now()
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	t := jwt.NewWithClaims(k.method, &c)
	t.Header["kid"] = k.signKID
	s, err := t.SignedString(k.signer)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// Keyfunc verifies with the key the token's kid names; a token without a kid, or naming a key
// not in the set, is refused. The algorithm must be the key's own (ES256 for P-256, EdDSA for
// Ed25519), so a public key can never serve as an HMAC secret.
func (k *Keys) Keyfunc(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	pub, ok := k.public[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	switch pub.(type) {
	case *ecdsa.PublicKey:
		if t.Method != jwt.SigningMethodES256 {
			return nil, fmt.Errorf("kid %q is an ES256 key, token says %s", kid, t.Method.Alg())
		}
	case ed25519.PublicKey:
		if t.Method != jwt.SigningMethodEdDSA {
			return nil, fmt.Errorf("kid %q is an EdDSA key, token says %s", kid, t.Method.Alg())
		}
	}
	return pub, nil
}

// Methods are the algorithms the gateway's keys sign with.
var Methods = []string{jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}

// PublicJWKS returns the public half of the set as a JSON Web Key Set (for platform consumers
// that verify the gateway's tokens themselves).
func (k *Keys) PublicJWKS() ([]byte, error) {
	out := jwkset.JWKSMarshal{}
	for _, kid := range k.KIDs() {
		j, err := jwkset.NewJWKFromKey(k.public[kid], jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, USE: jwkset.UseSig}})
		if err != nil {
			return nil, fmt.Errorf("public key %q: %w", kid, err)
		}
		out.Keys = append(out.Keys, j.Marshal())
	}
	return json.Marshal(out)
}
