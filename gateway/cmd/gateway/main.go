// Command gateway serves Frontdesk's client protocol (WebSocket and SSE) over NATS.
//
//	gateway [-config file]
//	gateway --version
//	gateway keys [-rotate file] [-keep n] [-out file]
//
// `gateway keys` prints a new key set for gateway.signing_keys; with -rotate it prints the set
// of file with a new signing key put first and at most -keep keys in all (the Helm chart's
// secret generator and the key rotation procedure of the chart's README use it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/frontdesk-chat/frontdesk/gateway/app"
	"github.com/frontdesk-chat/frontdesk/gateway/token"
	"github.com/frontdesk-chat/frontdesk/services/cli"
)

// service is the binary: its name, configuration defaults and what it runs.
var service = cli.Service[app.Config]{
	Name:     "gateway",
	Defaults: app.DefaultConfig,
	Run:      app.Run,
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "keys" {
		if err := keys(os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "gateway keys:", err)
			os.Exit(2)
		}
		return
	}
	cli.Main(service)
}

// run is main with its inputs passed in, for tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 1 && args[1] == "keys" {
		return keys(args[2:], stdout)
	}
	return service.Execute(ctx, args, getenv, stdout)
}

// keys prints a new key set, or a rotated one.
func keys(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	rotate := fs.String("rotate", "", "key set file to rotate: a new signing key goes first, the others keep verifying")
	keep := fs.Int("keep", 3, "most keys kept in a rotated set (the oldest are dropped)")
	outFile := fs.String("out", "", "write the key set to this file (0600) instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var prev []byte
	if *rotate != "" {
		var err error
		if prev, err = os.ReadFile(*rotate); err != nil {
			return err
		}
		if _, err := token.ParseKeys(prev); err != nil {
			return err
		}
	}
	b, err := token.GenerateKeys(prev)
	if err != nil {
		return err
	}
	if *keep < 1 {
		return errors.New("-keep must be at least 1")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return err
	}
	if len(set.Keys) > *keep {
		set.Keys = set.Keys[:*keep]
		if b, err = json.MarshalIndent(set, "", "  "); err != nil {
			return err
		}
	}
	if *outFile != "" {
		return os.WriteFile(*outFile, append(b, '\n'), 0o600)
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}
