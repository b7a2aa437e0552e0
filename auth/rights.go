package auth

import (
	"slices"
	"strings"
	"unicode"
)

// Scope is a feature that permissions cover (akenza's vocabulary).
type Scope string

// Verb is what is done to a scope.
type Verb string

// The scopes and verbs. AnyScope in a grant covers every scope.
const (
	ScopeOrganization    Scope = "ORGANIZATION"
	ScopeWorkspace       Scope = "WORKSPACE"
	ScopeAsset           Scope = "ASSET"
	ScopeData            Scope = "DATA"
	ScopeAPIKey          Scope = "API_KEY"
	ScopeRule            Scope = "RULE"
	ScopeOutputConnector Scope = "OUTPUT_CONNECTOR"
	ScopeDeviceType      Scope = "DEVICE_TYPE"
	ScopeDataFlow        Scope = "DATA_FLOW"
	ScopeUser            Scope = "USER"
	ScopeRole            Scope = "ROLE"
	// ScopeMetrics is the operational surface (/metrics): only READ means anything.
	ScopeMetrics Scope = "METRICS"
	// ScopeKey is the checking of credentials presented to other services
	// (POST /v3/keys/verify): its one verb is VERIFY. It is apart from
	// API_KEY, which manages keys, so that a service can check its callers'
	// keys without being able to read, create or change any.
	ScopeKey Scope = "KEY"
	// ScopeAudit is the audit log: its one verb is READ (only the server
	// writes it).
	ScopeAudit Scope = "AUDIT"
	AnyScope   Scope = "*"

	Read   Verb = "READ"
	Create Verb = "CREATE"
	Update Verb = "UPDATE"
	Delete Verb = "DELETE"
	// Verify checks a credential (KEY:VERIFY).
	Verify Verb = "VERIFY"
)

// Scopes lists every scope; Verbs every verb. Not every verb applies to
// every scope: VerbsOf tells which do.
var (
	Scopes = []Scope{ScopeOrganization, ScopeWorkspace, ScopeAsset, ScopeData, ScopeAPIKey, ScopeRule,
		ScopeOutputConnector, ScopeDeviceType, ScopeDataFlow, ScopeUser, ScopeRole, ScopeMetrics,
		ScopeKey, ScopeAudit}
	Verbs = []Verb{Read, Create, Update, Delete, Verify}
)

// crud are the verbs of the scopes that hold resources.
var crud = []Verb{Read, Create, Update, Delete}

// VerbsOf lists the verbs that are rights on scope s: READ, CREATE, UPDATE
// and DELETE on the scopes that hold resources, only VERIFY on KEY and only
// READ on AUDIT (nil for an unknown scope). A grant of a scope without verbs
// (an Owner's, an Admin's) covers these, and a permission naming another
// verb on s is refused, so that "keyRead" or "assetVerify" never exist.
func VerbsOf(s Scope) []Verb {
	switch s {
	case ScopeKey:
		return []Verb{Verify}
	case ScopeAudit:
		return []Verb{Read}
	}
	if slices.Contains(Scopes, s) {
		return crud
	}
	return nil
}

// IsRight reports whether verb v on scope s is a right (VerbsOf).
func IsRight(s Scope, v Verb) bool { return slices.Contains(VerbsOf(s), v) }

// OrganizationOnly reports whether s is granted for a whole organization
// only: checking keys and reading the audit log concern no workspace, so a
// permission limiting them to workspaces would allow nothing.
func OrganizationOnly(s Scope) bool { return s == ScopeKey || s == ScopeAudit }

// Right is the Portos spelling of a scope and a verb, in camelCase
// (API_KEY + CREATE = "apiKeyCreate"), or Admin, which holds every right.
// Rights and permissions are one vocabulary, so a role's rights and a key's
// permissions can be intersected.
type Right string

// Admin holds every right.
const Admin Right = "admin"

// The rights the code names directly.
var (
	APIKeyRead   = RightOf(ScopeAPIKey, Read)
	APIKeyCreate = RightOf(ScopeAPIKey, Create)
	APIKeyUpdate = RightOf(ScopeAPIKey, Update)
	APIKeyDelete = RightOf(ScopeAPIKey, Delete)
	KeyVerify    = RightOf(ScopeKey, Verify)
	AuditRead    = RightOf(ScopeAudit, Read)
)

// RightOf spells scope and verb as a right.
func RightOf(s Scope, v Verb) Right {
	var b strings.Builder
	for i, part := range strings.Split(strings.ToLower(string(s)), "_") {
		if i > 0 {
			part = upperFirst(part)
		}
		b.WriteString(part)
	}
	b.WriteString(upperFirst(strings.ToLower(string(v))))
	return Right(b.String())
}

// ParseRight splits a right into its scope and verb. Admin gives AnyScope and
// an empty verb (every verb). ok is false for an unknown right.
func ParseRight(r Right) (s Scope, v Verb, ok bool) {
	if r == Admin {
		return AnyScope, "", true
	}
	for _, s := range Scopes {
		for _, v := range VerbsOf(s) {
			if RightOf(s, v) == r {
				return s, v, true
			}
		}
	}
	return "", "", false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
