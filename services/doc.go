// Package services is the chassis every Frontdesk service runs on.
//
// The module holds no service of its own: it provides configuration loading (config), logging
// (logging), the NATS connection (natsconn), the declared JetStream topology (streams), the
// Postgres pool (pg), the ops HTTP server with health, readiness and metrics (ops), ordered
// graceful shutdown (lifecycle), live tenant settings (tenants), local Postgres clusters
// (pgcluster) and the test kit shared by every module's tests (testkit). Nothing here keeps
// package-level state except testkit's per-binary throwaway Postgres cluster.
package services
