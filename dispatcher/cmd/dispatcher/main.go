// Command dispatcher is Frontdesk's control plane: it queues conversations that need a human,
// tracks agents' presence and status, and assigns, transfers and closes conversations.
//
//	dispatcher [-config file]             run the service
//	dispatcher provision [-config file]   create or update the JetStream topology and exit
//	                                      (the provisioning Job, with the provisioner's credentials)
//	dispatcher --version
package main

import (
	_ "time/tzdata" // business hours need time zones even in a scratch image

	"context"
	"io"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/dispatcher/app"
	"github.com/frontdesk-chat/frontdesk/services/cli"
)

// service is the binary: its name, configuration defaults and what it runs.
var service = cli.Service[app.Config]{
	Name:     "dispatcher",
	Defaults: app.DefaultConfig,
	Run:      app.Run,
	Commands: map[string]func(context.Context, app.Config, *zap.Logger) error{"provision": app.Provision},
}

func main() { cli.Main(service) }

// run is main with its inputs passed in, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return service.Execute(ctx, args, getenv, stdout)
}
