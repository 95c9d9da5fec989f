# syntax=docker/dockerfile:1
#
# PolyBot's container image: one static binary, run as a non-root user.
#
#   docker build -t polybot:dev .
#   docker run --rm -e POLYBOT_MASTER_KEY_FILE=/run/secrets/master_key ... polybot:dev serve
#
# The same image runs every role (`serve --role all|api|gateway|worker`, see
# docs/DEPLOY.md). deploy/deploy_test.go checks this file's shape in CI; the
# image itself is built where a Docker engine runs.

ARG GO_VERSION=1.26

# ---- build: a pure-Go static binary (SQLite is modernc.org/sqlite, no cgo) ----
FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
# No separate `go mod download` layer: it would fetch the modules of every
# test too (the Helm SDK for deploy/'s checks); go build fetches only what
# the binaries import, into the cache mount.
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w -X github.com/polybot/polybot.Version=${VERSION}" -o /out/polybot ./cmd/polybot && \
    go build -ldflags="-s -w" -o /out/polybot-probe ./deploy/probe && \
    mkdir -p /out/data

# ---- run: distroless static (CA certificates and tzdata, no shell), non-root ----
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/polybot /out/polybot-probe /usr/local/bin/
# The data directory, for the single-process SQLite setup; on PostgreSQL with
# the master key from POLYBOT_MASTER_KEY(_FILE) nothing is written to disk.
COPY --from=build --chown=65532:65532 /out/data /var/lib/polybot
ENV POLYBOT_ADDR=0.0.0.0:8080 \
    POLYBOT_DATA_DIR=/var/lib/polybot \
    POLYBOT_LOG_FORMAT=json
# 65532 is distroless's "nonroot"; numeric so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080 9090
# Docker and Compose use this; Kubernetes ignores it and probes /healthz and
# /readyz itself (deploy/helm/polybot). There is no shell in the image, so
# the check is a tiny static Go client (deploy/probe).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/polybot-probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["/usr/local/bin/polybot"]
CMD ["serve"]
