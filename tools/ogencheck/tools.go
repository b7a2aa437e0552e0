//go:build tools

// Package ogencheck pins ogen, a second OpenAPI generator that `make check-ogen`
// runs on openapi/openapi.yaml to prove that the spec is not tied to
// oapi-codegen. This directory is a module of its own, so ogen and its
// dependencies stay out of the main module's go.mod; its go.sum is committed,
// so every machine downloads exactly these versions.
//
// Besides the generator, it imports every package that ogen's generated code
// imports, so that go.mod and go.sum also pin the runtime that check.sh
// compiles the output against. When a change to the spec makes ogen import a
// package missing here, check.sh fails with "no required module provides
// package ...": add it below and run `go mod tidy` in this directory.
package ogencheck

import (
	_ "github.com/ogen-go/ogen/cmd/ogen"

	_ "github.com/go-faster/errors"
	_ "github.com/go-faster/jx"
	_ "github.com/ogen-go/ogen/conv"
	_ "github.com/ogen-go/ogen/http"
	_ "github.com/ogen-go/ogen/json"
	_ "github.com/ogen-go/ogen/middleware"
	_ "github.com/ogen-go/ogen/ogenerrors"
	_ "github.com/ogen-go/ogen/ogenregex"
	_ "github.com/ogen-go/ogen/otelogen"
	_ "github.com/ogen-go/ogen/uri"
	_ "github.com/ogen-go/ogen/validate"
	_ "go.opentelemetry.io/otel"
	_ "go.opentelemetry.io/otel/attribute"
	_ "go.opentelemetry.io/otel/codes"
	_ "go.opentelemetry.io/otel/metric"
	_ "go.opentelemetry.io/otel/semconv/v1.39.0"
	_ "go.opentelemetry.io/otel/trace"
)
