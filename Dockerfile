# syntax=docker/dockerfile:1
#
# Rack Gateway container image: a static binary on distroless, run as a
# non-root user.
#
#   docker build -t rack-gateway --build-arg VERSION=v1.2.3 .
#   docker run --rm -p 8447:8447 --env-file rgw.env rack-gateway      # serve
#   docker run --rm rack-gateway version
#
# The builder's Go version is the `toolchain` line of go.mod (go1.27.3);
# internal/archtest/packaging_test.go fails when the two drift apart.
#
# No HEALTHCHECK: the distroless image has no shell and no HTTP client to
# run one. Probe the gateway from outside instead: GET /healthz (the
# process is up; liveness) and GET /readyz (database and racks answer;
# readiness), as Kubernetes, Convox (deploy/convox/convox.yml) or a load
# balancer do.

# ---------------------------------------------------------------------------
# Build stage: the native platform cross-compiles for the target one.
# ---------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:1.27.3-bookworm AS build

ARG TARGETOS=linux
ARG TARGETARCH=amd64
# Release version printed by `rack-gateway version` (else the module version
# the go command records, or "dev").
ARG VERSION=dev

# The image's Go is the toolchain go.mod names: never download another.
ENV GOTOOLCHAIN=local CGO_ENABLED=0

WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath \
      -ldflags "-s -w -X github.com/rack-gateway/rack-gateway/internal/gateway.Version=${VERSION}" \
      -o /out/rack-gateway ./cmd/rack-gateway \
 && mkdir -p /out/data

# ---------------------------------------------------------------------------
# Final stage: no shell, no package manager; CA certificates and tzdata
# included. The nonroot user is 65532:65532.
# ---------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

LABEL org.opencontainers.image.title="rack-gateway" \
      org.opencontainers.image.description="Identity-aware gateway for Convox racks" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/rack-gateway/rack-gateway"

COPY --from=build /out/rack-gateway /usr/local/bin/rack-gateway
# The working directory holds the default SQLite database
# (sqlite:rack-gateway.db); mount a volume here to keep it, or set
# RGW_DATABASE_URL to PostgreSQL.
COPY --from=build --chown=65532:65532 /out/data /var/lib/rack-gateway
WORKDIR /var/lib/rack-gateway

USER 65532:65532
EXPOSE 8447
ENTRYPOINT ["rack-gateway"]
CMD ["serve"]
