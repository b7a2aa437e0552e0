package auth

import (
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
	AnyScope     Scope = "*"

	Read   Verb = "READ"
	Create Verb = "CREATE"
	Update Verb = "UPDATE"
	Delete Verb = "DELETE"
)

// Scopes lists every scope; Verbs every verb.
var (
	Scopes = []Scope{ScopeOrganization, ScopeWorkspace, ScopeAsset, ScopeData, ScopeAPIKey, ScopeRule,
		ScopeOutputConnector, ScopeDeviceType, ScopeDataFlow, ScopeUser, ScopeRole, ScopeMetrics}
	Verbs = []Verb{Read, Create, Update, Delete}
)

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
		for _, v := range Verbs {
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
