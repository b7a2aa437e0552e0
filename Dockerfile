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
# The data dir, for the final image: distroless has no shell to create it,
# and a volume mounted where the image has no directory is owned by root.
RUN install -d -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyplane /usr/local/bin/keyplane
# The data dir holds the SQLite file and the generated secret key when no
# PostgreSQL URL or KEYPLANE_SECRET_KEY is given; mount a volume there. It is
# owned by the nonroot user (65532), and a new named volume takes its owner.
COPY --from=build --chown=65532:65532 /out/data /data
ENV KEYPLANE_ADDR=0.0.0.0:8080 \
    KEYPLANE_DATA_DIR=/data \
    KEYPLANE_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
# Numeric, so that Kubernetes' runAsNonRoot can verify it (65532 is nonroot).
USER 65532:65532
# `keyplane probe` GETs /readyz on the loopback side of KEYPLANE_ADDR
# (no curl or wget in distroless): exit 0 on 200, 1 otherwise, 2 s timeout.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/keyplane", "probe"]
ENTRYPOINT ["/usr/local/bin/keyplane"]
CMD ["serve"]
