package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// keysCLI is one invocation of `keyplane keys`: the shared options and where
// the output goes.
type keysCLI struct {
	opts   keysOptions
	auth   gen.RequestEditorFn // set by prepare from the credentials
	stdout io.Writer
	stderr io.Writer
}

// keysSubcommand is one subcommand of `keyplane keys`.
type keysSubcommand struct {
	name     string
	synopsis string // the arguments after the name, for the usage text
	summary  string
	// setup defines the subcommand's own flags on fs and returns the function
	// that runs it once the command line is parsed.
	setup func(fs *flag.FlagSet) keysRunFunc
}

// keysRunFunc runs a parsed subcommand.
type keysRunFunc func(ctx context.Context, k *keysCLI, inv invocation) error

// invocation is a parsed subcommand line.
type invocation struct {
	args []string        // the positional arguments
	set  map[string]bool // the names of the flags given
}

// keysSubcommands lists the subcommands in the order the usage text shows them.
func keysSubcommands() []keysSubcommand {
	return []keysSubcommand{
		{"list", "[--filter FIELD=EXPR]... [--sort S] [--take N] [--skip N] [--count]",
			"list the keys that match an NData query", keysList},
		{"get", "ID", "show a key", keysGet},
		{"create", "--name NAME [--description D] [--active] [--organization ORG] [--user U] [--device D]\n" +
			"          [--expires RFC3339] [--permission SCOPE:VERB,VERB[:WS,WS]]...",
			"create a key and print its secret, once", keysCreate},
		{"update", "ID (--version V | --if-match ETAG) [the field flags of create]",
			"change a key: read it, apply the flags, write it back whole", keysUpdate},
		{"rotate", "ID [--grace 24h]", "issue a new secret and print it, once", keysRotate},
		{"delete", "ID [--if-match ETAG]", "delete a key", keysDelete},
	}
}

// runKeys runs `keyplane keys [global flags] <subcommand> [flags] [ID]`.
// Asking for help (-h, or the subcommand "help") prints it to stdout and
// returns flag.ErrHelp; a usage error prints a short usage to stderr.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	k := &keysCLI{opts: defaultKeysOptions(), stdout: stdout, stderr: stderr}
	subs := keysSubcommands()
	fs := flag.NewFlagSet("keys", flag.ContinueOnError)
	fs.SetOutput(stderr)
	k.opts.register(fs)
	help := helpFlag(fs)
	fs.Usage = func() { k.shortUsage(fs.Output(), subs) }
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *help || fs.Arg(0) == "help" {
		k.usage(stdout, subs)
		return flag.ErrHelp
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError{errors.New("keys: missing command")}
	}
	for _, sub := range subs {
		if sub.name == fs.Arg(0) {
			return k.run(ctx, sub, fs.Args()[1:])
		}
	}
	fs.Usage()
	return usageError{fmt.Errorf("keys: unknown command %q", fs.Arg(0))}
}

// run parses the subcommand's flags (its own and the shared ones, in any
// order, mixed with its positional arguments), checks the shared options and
// runs it under the --timeout. A usage error prints the subcommand's usage.
func (k *keysCLI) run(ctx context.Context, sub keysSubcommand, args []string) error {
	own := flag.NewFlagSet("keys "+sub.name, flag.ContinueOnError)
	runFn := sub.setup(own)
	fs := flag.NewFlagSet("keys "+sub.name, flag.ContinueOnError)
	fs.SetOutput(k.stderr)
	own.VisitAll(func(f *flag.Flag) { fs.Var(f.Value, f.Name, f.Usage) })
	k.opts.register(fs)
	help := helpFlag(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: keyplane keys %s %s\nRun \"keyplane keys %s -h\" for its flags.\n",
			sub.name, sub.synopsis, sub.name)
	}

	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return usageError{err}
	}
	if *help {
		k.subcommandUsage(k.stdout, sub, own)
		return flag.ErrHelp
	}
	inv := invocation{args: positional, set: map[string]bool{}}
	fs.Visit(func(f *flag.Flag) { inv.set[f.Name] = true })
	if err := k.prepare(); err != nil {
		fs.Usage()
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, k.opts.timeout)
	defer cancel()
	err = runFn(ctx, k, inv)
	var uerr usageError
	if errors.As(err, &uerr) {
		fs.Usage()
	}
	return err
}

// prepare checks the shared options and sets up authentication.
func (k *keysCLI) prepare() error {
	if err := k.opts.validate(); err != nil {
		return err
	}
	creds, err := k.opts.credentials()
	if err != nil {
		return err
	}
	k.auth = creds.editor()
	return nil
}

// helpFlag defines -h and -help on fs, so that a request for help is told
// apart from a bad command line (for which the flag package prints fs.Usage).
func helpFlag(fs *flag.FlagSet) *bool {
	help := fs.Bool("h", false, "show help")
	fs.BoolVar(help, "help", false, "show help")
	return help
}

// parseInterspersed parses fs from args, allowing positional arguments
// between the flags ("update ID --version 2" as well as "update --version 2
// ID"), and returns the positional arguments in order. Everything after "--"
// is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// oneID returns the single positional argument, a key ID.
func oneID(inv invocation) (string, error) {
	if len(inv.args) != 1 || inv.args[0] == "" {
		return "", usageError{fmt.Errorf("want one key ID, got %d arguments", len(inv.args))}
	}
	return inv.args[0], nil
}

// usage writes the help of `keyplane keys`.
func (k *keysCLI) usage(w io.Writer, subs []keysSubcommand) {
	fmt.Fprint(w, "Usage: keyplane keys [global flags] <command> [flags]\n\n"+
		"Manages API keys through the keyplane API.\n\n")
	k.commands(w, subs)
	fmt.Fprint(w, "\"keyplane keys <command> -h\" describes a command.\n\n")
	k.globalUsage(w)
}

// shortUsage writes the usage of `keyplane keys` shown after a usage error.
func (k *keysCLI) shortUsage(w io.Writer, subs []keysSubcommand) {
	fmt.Fprint(w, "Usage: keyplane keys [global flags] <command> [flags]\n\n")
	k.commands(w, subs)
	fmt.Fprint(w, "Run \"keyplane keys -h\" for the global flags and credentials.\n")
}

// commands writes the synopsis of every subcommand.
func (k *keysCLI) commands(w io.Writer, subs []keysSubcommand) {
	fmt.Fprint(w, "Commands:\n")
	for _, sub := range subs {
		fmt.Fprintf(w, "  %-7s %s\n", sub.name, sub.synopsis)
	}
	fmt.Fprintln(w)
}

// subcommandUsage writes the usage text of one subcommand.
func (k *keysCLI) subcommandUsage(w io.Writer, sub keysSubcommand, own *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: keyplane keys %s %s\n\n%s%s.\n\n",
		sub.name, sub.synopsis, strings.ToUpper(sub.summary[:1]), sub.summary[1:])
	hasFlags := false
	own.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "Flags:")
		own.SetOutput(w)
		own.PrintDefaults()
		fmt.Fprintln(w)
	}
	k.globalUsage(w)
}

// globalUsage describes the shared flags and the credentials rule.
func (k *keysCLI) globalUsage(w io.Writer) {
	fmt.Fprint(w, "Credentials: exactly one kind, --token, --api-key, or --client-id with\n"+
		"--client-secret. When no credential flag is given, the KEYPLANE_TOKEN, KEYPLANE_API_KEY,\n"+
		"KEYPLANE_CLIENT_ID and KEYPLANE_CLIENT_SECRET variables supply them instead.\n\n"+
		"Global flags (before or after the command):\n")
	shown := flag.NewFlagSet("keys", flag.ContinueOnError)
	shown.SetOutput(w)
	opts := k.opts // a copy: registering must not touch the options in use
	opts.register(shown)
	shown.PrintDefaults()
}

// keysList is `keys list`.
func keysList(fs *flag.FlagSet) keysRunFunc {
	var filters stringList
	fs.Var(&filters, "filter", "NData `FIELD=EXPR`, sent verbatim; repeatable, all must match (isActive=true, 'name=gte:a;lt:n')")
	sort := fs.String("sort", "", "sort `FIELDS`: name, name:desc, -createdAt; comma separated")
	take := fs.Int("take", 0, "at most `N` keys (server default 100, at most 1000)")
	skip := fs.Int("skip", 0, "skip the first `N` matches")
	count := fs.Bool("count", false, "print only the number of matches")
	return func(ctx context.Context, k *keysCLI, inv invocation) error {
		if len(inv.args) > 0 {
			return usageError{fmt.Errorf("list takes no arguments, got %q", inv.args)}
		}
		query, err := encodeFilters(filters)
		if err != nil {
			return err
		}
		params := &gen.ListApiKeysParams{}
		if inv.set["sort"] {
			params.Sort = &[]string{*sort}
		}
		if inv.set["take"] {
			params.Take = take
		}
		if inv.set["skip"] {
			params.Skip = skip
		}
		if *count {
			params.Count = count
		}
		api, err := k.client(appendQuery(query))
		if err != nil {
			return err
		}
		res, err := api.ListApiKeysWithResponse(ctx, params)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		result, err := decoded(res, res.JSON200)
		if err != nil {
			return err
		}
		return k.printKeys(result, *count)
	}
}

// keysGet is `keys get ID`.
func keysGet(*flag.FlagSet) keysRunFunc {
	return func(ctx context.Context, k *keysCLI, inv invocation) error {
		id, err := oneID(inv)
		if err != nil {
			return err
		}
		api, err := k.client()
		if err != nil {
			return err
		}
		key, err := getKey(ctx, api, id)
		if err != nil {
			return err
		}
		return k.printKey(key)
	}
}

// keysCreate is `keys create`.
func keysCreate(fs *flag.FlagSet) keysRunFunc {
	var fields keyFields
	fields.register(fs)
	return func(ctx context.Context, k *keysCLI, inv invocation) error {
		if len(inv.args) > 0 {
			return usageError{fmt.Errorf("create takes no arguments, got %q", inv.args)}
		}
		if !inv.set["name"] {
			return usageError{errors.New("create: --name is required")}
		}
		edits, err := fields.edits(inv.set)
		if err != nil {
			return err
		}
		in := gen.ApiKeyInput{Permissions: &[]gen.Permission{}}
		for _, edit := range edits {
			edit(&in)
		}
		api, err := k.client()
		if err != nil {
			return err
		}
		res, err := api.CreateApiKeyWithResponse(ctx, in)
		if err != nil {
			return fmt.Errorf("create key: %w", err)
		}
		key, err := decoded(res, res.JSON201)
		if err != nil {
			return err
		}
		return k.printNewSecret(key)
	}
}

// keysUpdate is `keys update ID`. The API replaces a key whole (PUT), so it
// reads the key, applies the flags over it and writes it back, naming the
// version the caller gave (not the one it read: a stale --version must fail).
func keysUpdate(fs *flag.FlagSet) keysRunFunc {
	var fields keyFields
	fields.register(fs)
	version := fs.Int64("version", 0, "the `version` (_v) being changed; required unless --if-match is given")
	ifMatch := fs.String("if-match", "", "change the key only if its `ETag` matches (\"3\" or 3); instead of or with --version")
	return func(ctx context.Context, k *keysCLI, inv invocation) error {
		id, err := oneID(inv)
		if err != nil {
			return err
		}
		if !inv.set["version"] && !inv.set["if-match"] {
			return usageError{errors.New("update: --version (or --if-match) is required")}
		}
		edits, err := fields.edits(inv.set)
		if err != nil {
			return err
		}
		if len(edits) == 0 {
			return usageError{errors.New("update: nothing to change; give at least one field flag")}
		}
		api, err := k.client()
		if err != nil {
			return err
		}
		current, err := getKey(ctx, api, id)
		if err != nil {
			return err
		}
		in := inputOf(current)
		for _, edit := range edits {
			edit(&in)
		}
		params := &gen.PutApiKeyParams{}
		if inv.set["version"] {
			in.UnderscoreV = version
		}
		if inv.set["if-match"] {
			params.IfMatch = ptrTo(etagOf(*ifMatch))
		}
		res, err := api.PutApiKeyWithResponse(ctx, id, params, in)
		if err != nil {
			return fmt.Errorf("update key %s: %w", id, err)
		}
		key, err := decoded(res, res.JSON200)
		if err != nil {
			return err
		}
		return k.printKey(key)
	}
}

// keysRotate is `keys rotate ID`.
func keysRotate(fs *flag.FlagSet) keysRunFunc {
	grace := fs.Duration("grace", 24*time.Hour, "how long the previous secret keeps working (0 revokes it now)")
	return func(ctx context.Context, k *keysCLI, inv invocation) error {
		id, err := oneID(inv)
		if err != nil {
			return err
		}
		if *grace < 0 {
			return usageError{fmt.Errorf("rotate: --grace must not be negative, got %v", *grace)}
		}
		seconds := int(*grace / time.Second)
		api, err := k.client()
		if err != nil {
			return err
		}
		res, err := api.RotateApiKeyWithResponse(ctx, id, gen.RotateRequest{GracePeriodSeconds: &seconds})
		if err != nil {
			return fmt.Errorf("rotate key %s: %w", id, err)
		}
		key, err := decoded(res, res.JSON200)
		if err != nil {
			return err
		}
		return k.printNewSecret(key)
	}
}

// keysDelete is `keys delete ID`.
func keysDelete(fs *flag.FlagSet) keysRunFunc {
	ifMatch := fs.String("if-match", "", "delete the key only if its `ETag` matches (\"3\" or 3)")
	return func(ctx context.Context, k *keysCLI, inv invocation) error {
		id, err := oneID(inv)
		if err != nil {
			return err
		}
		params := &gen.DeleteApiKeyParams{}
		if inv.set["if-match"] {
			params.IfMatch = ptrTo(etagOf(*ifMatch))
		}
		api, err := k.client()
		if err != nil {
			return err
		}
		res, err := api.DeleteApiKeyWithResponse(ctx, id, params)
		if err != nil {
			return fmt.Errorf("delete key %s: %w", id, err)
		}
		key, err := decoded(res, res.JSON200)
		if err != nil {
			return err
		}
		return k.printDeleted(key)
	}
}

// getKey reads one key.
func getKey(ctx context.Context, api *gen.ClientWithResponses, id string) (*gen.ApiKey, error) {
	res, err := api.GetApiKeyWithResponse(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("get key %s: %w", id, err)
	}
	return decoded(res, res.JSON200)
}

// etagOf returns an If-Match value: a bare version (3) becomes the strong
// ETag the API sends ("3"); anything else ("3", W/"3", *) is kept.
func etagOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" || strings.ContainsAny(s, `"`) {
		return s
	}
	return `"` + s + `"`
}

func ptrTo[T any](v T) *T { return &v }
