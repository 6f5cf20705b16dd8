package app

import "github.com/nats-io/nats.go"

// NATSConn is the service's NATS connection, for tests that cut a gateway off the way a crash
// would: nothing it publishes afterwards (goodbyes included) reaches anyone.
func (s *Service) NATSConn() *nats.Conn { return s.nc }

// OpenConnections is how many accepted connections the gateway's listener counts.
func (s *Service) OpenConnections() int {
	if l, ok := s.conns.(interface{ Open() int }); ok {
		return l.Open()
	}
	return -1
}
