package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	fd "github.com/frontdesk-chat/frontdesk/proto/gen/frontdesk/v1"
)

const (
	// RefreshEvery is how old a fetched key set may grow before the next token from its issuer
	// refreshes it.
	RefreshEvery = 5 * time.Minute
	// UnknownKIDRefresh is the shortest time between two refreshes of one issuer's key set caused
	// by tokens naming a kid it does not hold: a flood of made-up kids costs one fetch per
	// interval, not one per token.
	UnknownKIDRefresh = 10 * time.Second
	// maxJWKSBytes bounds a key set document.
	maxJWKSBytes = 1 << 20
	// maxIssuerSets bounds the cached key sets (one per distinct jwks_url or inline set).
	maxIssuerSets = 10000
)

// issuerKeys caches the customer issuers' key sets, keyed by their URL or inline JSON.
type issuerKeys struct {
	client *http.Client
	now    func() time.Time
	log    *zap.Logger

	mu   sync.Mutex
	sets map[string]*keySet
}

func newIssuerKeys(client *http.Client, now func() time.Time, log *zap.Logger) *issuerKeys {
	return &issuerKeys{client: client, now: now, log: log, sets: map[string]*keySet{}}
}

// keySet is one issuer's public keys.
type keySet struct {
	url     string // empty for an inline set
	limiter *rate.Limiter

	fetch   sync.Mutex // one fetch at a time
	mu      sync.RWMutex
	keys    map[string]publicKey
	fetched time.Time
	err     error
}

type publicKey struct {
	key crypto.PublicKey
	alg string // the JWK's "alg", when it says
}

func (ik *issuerKeys) set(iss *fd.CustomerIssuer) *keySet {
	id := "url:" + iss.GetJwksUrl()
	if iss.GetJwksUrl() == "" {
		id = "inline:" + iss.GetJwks()
	}
	ik.mu.Lock()
	s, ok := ik.sets[id]
	if !ok {
		if len(ik.sets) >= maxIssuerSets {
			clear(ik.sets) // settings changed that often: start over rather than grow
		}
		s = &keySet{url: iss.GetJwksUrl(), limiter: rate.NewLimiter(rate.Every(UnknownKIDRefresh), 1)}
		ik.sets[id] = s
	}
	ik.mu.Unlock()
	if !ok && s.url == "" {
		keys, err := parsePublicJWKS([]byte(iss.GetJwks()))
		s.mu.Lock()
		s.keys, s.err, s.fetched = keys, err, ik.now()
		s.mu.Unlock()
	}
	return s
}

// keyfunc returns the jwt.Keyfunc for iss's tokens, fetching its key set first if it has none.
func (ik *issuerKeys) keyfunc(ctx context.Context, iss *fd.CustomerIssuer) (jwt.Keyfunc, error) {
	s := ik.set(iss)
	if s.url != "" {
		s.mu.RLock()
		stale := ik.now().Sub(s.fetched) > RefreshEvery
		empty := s.keys == nil
		s.mu.RUnlock()
		switch {
		case empty:
			// Nothing to verify with yet: wait for the fetch (bounded by the client's timeout).
			ik.refresh(ctx, s, true)
		case stale:
			ik.refresh(ctx, s, false)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.keys == nil {
		return nil, s.err
	}
	return func(t *jwt.Token) (any, error) { return ik.lookup(ctx, s, t) }, nil
}

// refresh fetches s's key set. wait says whether to queue behind a fetch already running;
// without it a concurrent caller goes on with the keys it has.
func (ik *issuerKeys) refresh(ctx context.Context, s *keySet, wait bool) {
	if wait {
		s.fetch.Lock()
	} else if !s.fetch.TryLock() {
		return
	}
	defer s.fetch.Unlock()
	keys, err := ik.get(ctx, s.url)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetched = ik.now()
	if err != nil {
		// Keep the keys we have: a provider's outage must not sign everyone out.
		s.err = err
		ik.log.Warn("customer issuer key set", zap.String("url", s.url), zap.Error(err))
		return
	}
	s.keys, s.err = keys, nil
}

func (ik *issuerKeys) lookup(ctx context.Context, s *keySet, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	find := func() (any, bool) {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if kid == "" {
			// No kid: any key of the set may verify (golang-jwt tries each).
			set := jwt.VerificationKeySet{}
			for _, k := range s.keys {
				if k.alg == "" || k.alg == t.Method.Alg() {
					set.Keys = append(set.Keys, k.key)
				}
			}
			return set, len(set.Keys) > 0
		}
		k, ok := s.keys[kid]
		if !ok || (k.alg != "" && k.alg != t.Method.Alg()) {
			return nil, false
		}
		return k.key, true
	}
	if k, ok := find(); ok {
		return k, nil
	}
	// An unknown kid is how a rotation shows up first: refresh, at a bounded rate.
	if s.url != "" && kid != "" && s.limiter.Allow() {
		ik.refresh(ctx, s, true)
		if k, ok := find(); ok {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: no key %q for %s in the issuer's key set", jwt.ErrTokenUnverifiable, kid, t.Method.Alg())
}

func (ik *issuerKeys) get(ctx context.Context, url string) (map[string]publicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("key set request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ik.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key set: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("key set over %d bytes", maxJWKSBytes)
	}
	return parsePublicJWKS(body)
}

// parsePublicJWKS reads the public keys of a JSON Web Key Set: RSA (2048 bits or more), P-256
// ECDSA and Ed25519. Symmetric keys and anything unsupported are skipped: a tenant's issuer
// publishes public keys, and a published secret must never verify anything.
func parsePublicJWKS(data []byte) (map[string]publicKey, error) {
	var m jwkset.JWKSMarshal
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	out := map[string]publicKey{}
	var skipped []error
	for i, km := range m.Keys {
		if km.KTY == jwkset.KtyOct {
			skipped = append(skipped, fmt.Errorf("key %d: symmetric keys are not accepted", i))
			continue
		}
		j, err := jwkset.NewJWKFromMarshal(km, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		var pub crypto.PublicKey
		switch k := j.Key().(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				skipped = append(skipped, fmt.Errorf("key %d: RSA key under 2048 bits", i))
				continue
			}
			pub = k
		case *ecdsa.PublicKey:
			pub = k
		case ed25519.PublicKey:
			pub = k
		default:
			skipped = append(skipped, fmt.Errorf("key %d: %T is not a public key", i, k))
			continue
		}
		out[km.KID] = publicKey{key: pub, alg: km.ALG.String()}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("key set holds no usable public key: %w", errors.Join(skipped...))
	}
	return out, nil
}
