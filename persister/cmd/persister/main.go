// Command persister copies Frontdesk's message, lifecycle and read-position streams into
// Postgres and answers history, conversation, unread and search queries over NATS.
//
//	persister [-config file]           run the service
//	persister migrate [-config file]   apply the schema migrations and exit (Helm hook job)
//	persister erase [-config file] <tenant> <user> <requested-by>
//	                                   erase one customer everywhere (GDPR) and exit
//	persister --version
package main

import (
	"context"
	"io"

	"go.uber.org/zap"

	"github.com/frontdesk-chat/frontdesk/persister/app"
	"github.com/frontdesk-chat/frontdesk/services/cli"
)

// service is the binary: its name, configuration defaults and what it runs.
var service = cli.Service[app.Config]{
	Name:     "persister",
	Defaults: app.DefaultConfig,
	Run:      app.Run,
	Commands: map[string]func(context.Context, app.Config, *zap.Logger) error{"migrate": app.Migrate},
	ArgCommands: map[string]func(context.Context, app.Config, *zap.Logger, []string) error{
		"erase": app.Erase},
}

func main() { cli.Main(service) }

// run is main with its inputs passed in, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return service.Execute(ctx, args, getenv, stdout)
}
