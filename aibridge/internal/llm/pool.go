package llm

import (
	"net/http"
	"sync"
)

// Pool keeps one Client per key (a tenant) and replaces it when the key's settings change, so a
// tenant's model edit applies live while its breaker and concurrency limit survive unrelated
// tenant changes.
type Pool struct {
	http *http.Client

	mu      sync.Mutex
	clients map[string]*Client
}

// NewPool returns an empty pool whose clients use httpClient (nil: the default).
func NewPool(httpClient *http.Client) *Pool {
	return &Pool{http: httpClient, clients: map[string]*Client{}}
}

// Get returns the client of key for settings s, creating or replacing it as needed.
func (p *Pool) Get(key string, s Settings) *Client {
	s = s.withDefaults()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[key]; ok && c.s == s {
		return c
	}
	c := New(s, p.http)
	p.clients[key] = c
	return c
}
