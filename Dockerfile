# syntax=docker/dockerfile:1
# ddn's images. The binaries are built by deploy/build.sh, the script CI and
# `task build` run (static, CGO_ENABLED=0, -trimpath, version stamped), on
# a distroless static base that runs as the non-root user nonroot (65532).
#   docker build --build-arg VERSION=$(git describe --tags --always) -t ddn .
#   docker build --target agent -t ddn-agent .    (and --target bench)
# deploy/dockerfile_test.go checks this file without Docker.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    sh deploy/build.sh /out "${VERSION}" && mkdir -p /state/ddn-data

# The reference agent (cmd/ddn-agent): DDN_AGENT_* variables or flags.
FROM gcr.io/distroless/static-debian12:nonroot AS agent
COPY --from=build /out/ddn-agent /usr/local/bin/ddn-agent
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ddn-agent"]

# The load generator (cmd/ddn-bench).
FROM gcr.io/distroless/static-debian12:nonroot AS bench
COPY --from=build /out/ddn-bench /usr/local/bin/ddn-bench
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ddn-bench"]

# The node (the default target). Configuration: DDN_* variables, and/or a
# JSON file mounted read-only and named with -config, e.g.
#   docker run -v ./config.json:/etc/ddn/config.json:ro ddn -config /etc/ddn/config.json
# The embedded store (when MongoDB.URI is empty) lives in ./ddn-data of the
# working directory, the volume /var/lib/ddn, owned by the non-root user.
FROM gcr.io/distroless/static-debian12:nonroot AS ddn
COPY --from=build /out/ddn /usr/local/bin/ddn
COPY --from=build --chown=65532:65532 /state /var/lib/ddn
USER 65532:65532
WORKDIR /var/lib/ddn
EXPOSE 9521
VOLUME ["/var/lib/ddn"]
# Distroless has no shell and no curl: the binary probes its own /healthz.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/ddn", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/ddn"]
