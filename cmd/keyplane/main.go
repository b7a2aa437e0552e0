// Command keyplane runs the keyplane API-key service.
//
//	keyplane serve [flags]   run the HTTP API (flags default to KEYPLANE_* env vars)
//	keyplane keys <command>  manage API keys through the API (list, get, create, update, rotate, delete)
//	keyplane probe [-url U]  exit 0 when the server's /readyz answers 200 (container health checks)
//
// Exit codes: 0 ok, 1 runtime or API error, 2 usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "keys":
		err = runKeys(ctx, args[1:], stdout, stderr)
	case "probe":
		err = probe(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "keyplane: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var uerr usageError
	if errors.As(err, &uerr) {
		fmt.Fprintf(stderr, "keyplane: %v\n", err)
		return 2
	}
	var aerr *apiError
	if errors.As(err, &aerr) {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyplane: %v\n", err)
		return 1
	}
	return 0
}

// usageError marks errors caused by how the command was invoked (exit code 2).
type usageError struct{ error }

func usage(w io.Writer) {
	fmt.Fprint(w, `keyplane issues, manages and authenticates API keys.

Usage:
  keyplane serve [flags]    run the HTTP API; "keyplane serve -h" lists the flags
  keyplane keys <command>   manage API keys through the API: list, get, create, update,
                            rotate, delete; "keyplane keys -h" describes them
  keyplane probe [-url URL] exit 0 when the server is ready (GET /readyz answers 200),
                            1 otherwise: the health check of container images

`)
}
