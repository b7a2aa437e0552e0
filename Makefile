# keyplane — two commands for a fresh machine: `make run` and `make test`.
GO      ?= go
PKGS    ?= ./...

.PHONY: run test generate check-generate vet bench fuzz build

## run: start the service on the embedded SQLite (prints the URL and a root token)
run:
	$(GO) run ./cmd/keyplane serve

## build: build the binary into bin/keyplane
build:
	$(GO) build -o bin/keyplane ./cmd/keyplane

## test: every test, against PostgreSQL (KEYPLANE_TEST_POSTGRES_URL) and SQLite
test:
	$(GO) test -race -count=1 $(PKGS)

## generate: rebuild gen/ from openapi/openapi.yaml
generate:
	$(GO) generate ./gen

## check-generate: fail when gen/ differs from a fresh `make generate`
check-generate: generate
	@git diff --exit-code --stat -- gen || (echo "gen/ is stale: run 'make generate' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- gen)" || (git status --porcelain -- gen; echo "gen/ has untracked files: run 'make generate' and commit" >&2; exit 1)

## vet: go vet
vet:
	$(GO) vet $(PKGS)

## bench: NData list vs hand-written SQL (100k rows), each auth scheme vs no auth; PostgreSQL
bench:
	bash bench/ndata.sh
	bash bench/auth.sh

## fuzz: fuzz the NData parser for a minute
fuzz:
	$(GO) test ./store/ndata -run '^$$' -fuzz FuzzParse -fuzztime 60s
