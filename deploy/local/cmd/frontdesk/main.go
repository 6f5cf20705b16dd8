// Command frontdesk runs the whole Frontdesk system on one machine for development: an
// embedded NATS server with JetStream, a local Postgres cluster (or the ones named by
// FRONTDESK_NATS_URL and FRONTDESK_DATABASE_URL), the gateway, dispatcher, persister and AI
// bridge, and the demo tenant. `make run` runs it.
//
//	frontdesk [-processes -bin dir] [-data dir] [-tenants file] [-listen addr]
//	          [-nats-port n] [-pg-port n] [-log-level level]
//
// Without -processes the four services run in this process, each with its own NATS
// connection, exactly as their own binaries run them (app.Run). With -processes they run as
// separate processes from the binaries in -bin (`make build`).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "frontdesk:", err)
		os.Exit(1)
	}
}
