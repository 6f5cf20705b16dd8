// Package abuse holds Frontdesk's abuse suite: its tests attack a real gateway (real NATS
// servers in-process, the gateway's own app wiring) the way the abuse issue and the OWASP
// WebSocket Security Cheat Sheet describe, one table row per attack, each with the refusal it
// must meet (an error code, a close code or an HTTP status) and well-behaved customers chatting
// beside the attacker at the same time, none of whose acknowledged messages may be lost.
//
// It lives in the gateway module, beside the code it attacks, so `make test` runs it with the
// rest of the module and it can start gateways through gateway/app without exporting anything;
// it is its own package so the attacks read as one list. The attacks that need other parts
// live with them: the bus permissions of each service's credentials (deploy/natsauth,
// TestForbidden) and retention and erasure past Postgres (persister/app, persister/internal/retention).
// The package has no code outside its tests.
package abuse
