package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/keyplane/keyplane/gen"
)

// secretWarning goes to stderr whenever a secret is printed.
const secretWarning = "warning: store this secret now; it cannot be shown again"

// printKeys prints a list result: a table of keys, or only the number of
// matches when countOnly; with -o json, the QueryResult.
func (k *keysCLI) printKeys(res *gen.ApiKeyQueryResult, countOnly bool) error {
	if k.opts.output == "json" {
		return writeJSON(k.stdout, res)
	}
	if countOnly {
		_, err := fmt.Fprintln(k.stdout, res.Count)
		return err
	}
	var items []gen.ApiKey
	if res.Items != nil {
		items = *res.Items
	}
	tw := newTable(k.stdout)
	fmt.Fprintln(tw, "ID\tNAME\tACTIVE\tORGANIZATION\tUSER\tCREATED\tLAST USED\tV")
	for _, key := range items {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\t%s\t%s\t%d\n", clean(key.Id), clean(key.Name), key.IsActive,
			orDash(key.OrganizationId), orDash(key.UserName), formatTime(&key.CreatedAt), formatTime(key.LastUsedAt),
			key.UnderscoreV)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if int64(len(items)) < res.TotalCount {
		fmt.Fprintf(k.stderr, "showing %d of %d keys; page with --skip and --take\n", len(items), res.TotalCount)
	}
	return nil
}

// printKey prints one key: a field per line, or with -o json the key.
func (k *keysCLI) printKey(key *gen.ApiKey) error {
	if k.opts.output == "json" {
		return writeJSON(k.stdout, key)
	}
	tw := newTable(k.stdout)
	row := func(label, value string) { fmt.Fprintf(tw, "%s\t%s\n", label, value) }
	row("id", clean(key.Id))
	row("clientId", clean(key.ClientId))
	if key.ClientSecret != nil {
		row("clientSecret", clean(*key.ClientSecret))
	}
	row("name", clean(key.Name))
	row("description", orDash(key.Description))
	row("isActive", strconv.FormatBool(key.IsActive))
	row("organizationId", orDash(key.OrganizationId))
	row("userName", orDash(key.UserName))
	row("deviceName", orDash(key.DeviceName))
	row("permissions", formatPermissions(key.Permissions))
	row("createdAt", formatTime(&key.CreatedAt))
	row("expiresAt", formatTime(key.ExpiresAt))
	row("lastUsedAt", formatTime(key.LastUsedAt))
	if key.PreviousSecretExpiresAt != nil {
		row("previousSecretExpiresAt", formatTime(key.PreviousSecretExpiresAt))
	}
	row("_v", strconv.FormatInt(key.UnderscoreV, 10))
	return tw.Flush()
}

// printNewSecret prints a key that carries its secret, the one time the API
// shows it, with a warning on stderr.
func (k *keysCLI) printNewSecret(key *gen.ApiKey) error {
	if key.ClientSecret != nil {
		fmt.Fprintln(k.stderr, secretWarning)
	}
	return k.printKey(key)
}

// printDeleted prints the key a delete removed.
func (k *keysCLI) printDeleted(key *gen.ApiKey) error {
	if k.opts.output == "json" {
		return writeJSON(k.stdout, key)
	}
	_, err := fmt.Fprintf(k.stdout, "deleted key %s (%s)\n", clean(key.Id), clean(key.Name))
	return err
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// formatPermissions writes grants as --permission takes them, space separated.
func formatPermissions(perms []gen.Permission) string {
	if len(perms) == 0 {
		return "-"
	}
	s := make([]string, len(perms))
	for i, p := range perms {
		s[i] = clean(formatPermission(p))
	}
	return strings.Join(s, " ")
}

// formatTime writes a time in RFC 3339, UTC, to the second; "-" when unset.
func formatTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash returns an optional string for a table cell, "-" when unset.
func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return clean(*s)
}

// clean replaces control characters (tabs, newlines, escape sequences) with
// spaces, so that text from the server cannot break a table or the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
