// Command aibridge answers Frontdesk customers with a model or a knowledge base, hands
// conversations to human agents, and drafts replies for agents.
//
//	aibridge [-config file]
//	aibridge --version
package main

import (
	"context"
	"io"

	"github.com/frontdesk-chat/frontdesk/aibridge/app"
	"github.com/frontdesk-chat/frontdesk/services/cli"
)

// service is the binary: its name, configuration defaults and what it runs.
var service = cli.Service[app.Config]{
	Name:     "aibridge",
	Defaults: app.DefaultConfig,
	Run:      app.Run,
}

func main() { cli.Main(service) }

// run is main with its inputs passed in, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	return service.Execute(ctx, args, getenv, stdout)
}
