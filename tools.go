//go:build tools

// Package tools pins the code generators that `make generate` runs, so that
// every machine builds gen/ with the same versions recorded in go.mod.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
)
