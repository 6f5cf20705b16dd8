// Command gateway serves Frontdesk's client protocol (WebSocket and SSE) over NATS.
//
//	gateway [-config file]
//	gateway --version
package main

import (
	"context"
	"io"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/services/cli"
)

// service is the binary: its name, configuration defaults and what it runs.
var service = cli.Service[app.Config]{
	Name:     "gateway",
	Defaults: app.DefaultConfig,
	Run:      app.Run,
}

func main() { cli.Main(service) }

// run is main with its inputs passed in, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return service.Execute(ctx, args, getenv, stdout)
}
