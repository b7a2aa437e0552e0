package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/keyplane/keyplane/gen"
)

// keyFields are the flags that set a key's writable fields, shared by create
// and update.
type keyFields struct {
	name, description string
	organization      string
	user, device      string
	expires           string
	active            bool
	permissions       stringList
}

func (f *keyFields) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "the key's `name`")
	fs.StringVar(&f.description, "description", "", "a `text` describing the key; empty removes it")
	fs.BoolVar(&f.active, "active", false, "whether the key authenticates requests; a new key is inactive without it")
	fs.StringVar(&f.organization, "organization", "", "the `ID` of the key's organization; empty makes a platform key")
	fs.StringVar(&f.user, "user", "", "the user `name` the key acts as; empty removes it")
	fs.StringVar(&f.device, "device", "", "the device `name` requests made with the key run on; empty removes it")
	fs.StringVar(&f.expires, "expires", "", "end of validity, an RFC 3339 `time` (2027-01-31T00:00:00Z); empty removes it")
	fs.Var(&f.permissions, "permission",
		"a `SCOPE:VERB,VERB[:WS,WS]` grant (API_KEY:READ, ASSET:READ,UPDATE:29a1b2c3d4e5f608); repeatable;\n"+
			"the grants given replace all of the key's; '' alone leaves it none")
}

// edits returns the changes the given flags make to a key, in a form that
// applies to a new key as well as to one read for an update. Bad values are
// usage errors, found before any request is sent.
func (f *keyFields) edits(set map[string]bool) ([]func(*gen.ApiKeyInput), error) {
	var edits []func(*gen.ApiKeyInput)
	add := func(flag string, edit func(*gen.ApiKeyInput)) {
		if set[flag] {
			edits = append(edits, edit)
		}
	}
	if set["name"] && strings.TrimSpace(f.name) == "" {
		return nil, usageError{errors.New("--name must not be empty")}
	}
	add("name", func(in *gen.ApiKeyInput) { in.Name = f.name })
	add("description", func(in *gen.ApiKeyInput) { in.Description = optional(f.description) })
	add("active", func(in *gen.ApiKeyInput) { in.IsActive = &f.active })
	add("organization", func(in *gen.ApiKeyInput) { in.OrganizationId = optional(f.organization) })
	add("user", func(in *gen.ApiKeyInput) { in.UserName = optional(f.user) })
	add("device", func(in *gen.ApiKeyInput) { in.DeviceName = optional(f.device) })
	if set["expires"] {
		expires, err := parseExpires(f.expires)
		if err != nil {
			return nil, err
		}
		add("expires", func(in *gen.ApiKeyInput) { in.ExpiresAt = expires })
	}
	if set["permission"] {
		perms, err := parsePermissions(f.permissions)
		if err != nil {
			return nil, err
		}
		add("permission", func(in *gen.ApiKeyInput) { in.Permissions = &perms })
	}
	return edits, nil
}

// parseExpires parses --expires; empty means no end of validity.
func parseExpires(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, usageError{fmt.Errorf("--expires %q: want an RFC 3339 time like 2027-01-31T00:00:00Z", s)}
	}
	return &t, nil
}

// parsePermissions parses the --permission values; empty values are skipped,
// so that a lone ” means no grants.
func parsePermissions(values []string) ([]gen.Permission, error) {
	perms := []gen.Permission{}
	for _, v := range values {
		if v == "" {
			continue
		}
		p, err := parsePermission(v)
		if err != nil {
			return nil, usageError{fmt.Errorf("--permission %q: %w", v, err)}
		}
		perms = append(perms, p)
	}
	return perms, nil
}

// parsePermission parses SCOPE:VERB,VERB[:WS,WS], the form formatPermission
// prints. Scope and verbs are case-insensitive.
func parsePermission(s string) (gen.Permission, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return gen.Permission{}, errors.New("want SCOPE:VERB,VERB[:WORKSPACE,WORKSPACE]")
	}
	p := gen.Permission{Scope: gen.Scope(strings.ToUpper(strings.TrimSpace(parts[0])))}
	if !p.Scope.Valid() {
		return gen.Permission{}, fmt.Errorf("unknown scope %q", parts[0])
	}
	for _, v := range strings.Split(parts[1], ",") {
		verb := gen.Verb(strings.ToUpper(strings.TrimSpace(v)))
		if !verb.Valid() {
			return gen.Permission{}, fmt.Errorf("unknown verb %q (want CREATE, READ, UPDATE, DELETE or VERIFY)", v)
		}
		p.Verbs = append(p.Verbs, verb)
	}
	if len(parts) == 3 {
		var workspaces []string
		for _, ws := range strings.Split(parts[2], ",") {
			if ws = strings.TrimSpace(ws); ws == "" {
				return gen.Permission{}, errors.New("empty workspace ID")
			}
			workspaces = append(workspaces, ws)
		}
		p.WorkspaceIds = &workspaces
	}
	return p, nil
}

// formatPermission writes a grant as parsePermission reads it.
func formatPermission(p gen.Permission) string {
	verbs := make([]string, len(p.Verbs))
	for i, v := range p.Verbs {
		verbs[i] = string(v)
	}
	s := string(p.Scope) + ":" + strings.Join(verbs, ",")
	if p.WorkspaceIds != nil && len(*p.WorkspaceIds) > 0 {
		s += ":" + strings.Join(*p.WorkspaceIds, ",")
	}
	return s
}

// inputOf returns the writable fields of a key as read, the base of an update.
func inputOf(k *gen.ApiKey) gen.ApiKeyInput {
	perms := append([]gen.Permission{}, k.Permissions...)
	return gen.ApiKeyInput{
		Name:           k.Name,
		Description:    k.Description,
		IsActive:       &k.IsActive,
		OrganizationId: k.OrganizationId,
		UserName:       k.UserName,
		DeviceName:     k.DeviceName,
		ExpiresAt:      k.ExpiresAt,
		Permissions:    &perms,
	}
}

// optional returns s as an optional field: nil when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
