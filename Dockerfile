# syntax=docker/dockerfile:1
# Static ddn binary on a minimal, non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ddn ./cmd/ddn

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ddn /usr/local/bin/ddn
WORKDIR /var/lib/ddn
EXPOSE 9521
# Configuration: mount a JSON file and pass -config, and/or set DDN_* variables.
ENTRYPOINT ["/usr/local/bin/ddn"]
