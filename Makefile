# keyplane — two commands for a fresh machine: `make run` and `make test`.
GO      ?= go
PKGS    ?= ./...

.PHONY: run build test test-go test-ts test-console screenshots generate check-generate check-ogen lint vet bench fuzz fuzz-api tooling

## run: start the service on the embedded SQLite (prints the URL and a root token)
run:
	$(GO) run ./cmd/keyplane serve

## build: build the binary into bin/keyplane
build:
	$(GO) build -o bin/keyplane ./cmd/keyplane

## test: every test: Go (unit, PostgreSQL + SQLite, e2e, docs in Chromium), the TypeScript client live, the console in Chromium
test: test-go test-ts test-console

## test-go: the Go tests, against PostgreSQL (KEYPLANE_TEST_POSTGRES_URL) and SQLite
test-go:
	$(GO) test -race -count=1 $(PKGS)

## test-ts: the TypeScript client's type check and live suite against the real binary
test-ts:
	bash clients/ts/run-live.sh

## test-console: the console end to end in headless Chromium (playwright-core) against the built binary
test-console: console/node_modules clients/ts/node_modules
	bash console/e2e/run.sh

## screenshots: the console end to end, writing its screenshots to docs/console (the README shows them)
screenshots: console/node_modules clients/ts/node_modules
	KEYPLANE_UPDATE_SCREENSHOTS=1 bash console/e2e/run.sh

## tooling: install the pinned npm tooling (Redocly, Swagger UI assets, the TS generator, the console's Vite/Preact/playwright-core)
tooling: node_modules clients/ts/node_modules console/node_modules
node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules
clients/ts/node_modules: clients/ts/package.json clients/ts/package-lock.json
	npm --prefix clients/ts ci --no-audit --no-fund
	@touch clients/ts/node_modules
console/node_modules: console/package.json console/package-lock.json
	npm --prefix console ci --no-audit --no-fund
	@touch console/node_modules

## generate: bundle openapi/src/ into openapi/openapi.yaml, then rebuild everything derived from it (gen/, the TS types, the docs assets, the console's build)
generate: tooling
	{ echo '# Bundled from openapi/src/ by `make generate` (Redocly): edit the files there, not this one.'; \
	  npx --no-install redocly bundle openapi/src/openapi.yaml; } > openapi/openapi.yaml.tmp
	mv openapi/openapi.yaml.tmp openapi/openapi.yaml
	$(GO) generate ./gen
	npm --prefix clients/ts run --silent generate
	bash server/docsui/update.sh
	bash server/consoleui/build.sh

## check-generate: fail when a fresh `make generate` changes anything committed
check-generate: generate
	@git diff --exit-code --stat -- openapi/openapi.yaml gen clients/ts/src server/docsui server/consoleui || (echo "generated files are stale: run 'make generate' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- openapi/openapi.yaml gen clients/ts/src server/docsui server/consoleui)" || (git status --porcelain -- openapi/openapi.yaml gen clients/ts/src server/docsui server/consoleui; echo "untracked generated files: run 'make generate' and commit" >&2; exit 1)

## lint: lint the OpenAPI source (openapi/src/) with Redocly (recommended rules, redocly.yaml)
lint: node_modules
	npx --no-install redocly lint openapi/src/openapi.yaml

## check-ogen: the spec also generates with ogen (pinned in tools/ogencheck/go.mod) and its output compiles
check-ogen:
	GO="$(GO)" bash tools/ogencheck/check.sh

## vet: gofmt (every Go file formatted) and go vet
vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w on the files above" >&2; exit 1)
	$(GO) vet $(PKGS)

## bench: NData list vs hand-written SQL (100k rows), and each auth scheme vs no auth; PostgreSQL
bench:
	bash bench/ndata.sh
	bash bench/auth.sh
	bash bench/ingest.sh

## fuzz-api: the generative spec walk for longer (20 rounds of every operation, mutated; both databases)
fuzz-api:
	KEYPLANE_SPECWALK_ROUNDS=20 $(GO) test -count=1 -run '^TestSpecWalk$$' -timeout 30m ./server/

## fuzz: fuzz the NData parser and the NWS4 verifier for a minute each
fuzz:
	$(GO) test ./store/ndata -run '^$$' -fuzz FuzzParse -fuzztime 60s
	$(GO) test ./auth/nws4 -run '^$$' -fuzz FuzzVerify -fuzztime 60s
