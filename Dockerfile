# syntax=docker/dockerfile:1
# keyplane: a static, pure-Go binary (no cgo; the embedded SQLite is pure Go)
# on a distroless base, running as a non-root user.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/keyplane ./cmd/keyplane

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyplane /usr/local/bin/keyplane
# The data dir holds the SQLite file and the generated secret key when no
# PostgreSQL URL or KEYPLANE_SECRET_KEY is given; mount a volume there.
ENV KEYPLANE_ADDR=0.0.0.0:8080 \
    KEYPLANE_DATA_DIR=/data \
    KEYPLANE_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/keyplane"]
CMD ["serve"]
