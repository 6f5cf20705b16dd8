# Frontdesk build. `make run` starts the whole system on this machine; `make test` runs every
# module's tests against real NATS, Postgres and (where installed) Chromium.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

MODULES    := proto services gateway dispatcher persister aibridge deploy deploy/local proto/examples/consumer
SERVICES   := gateway dispatcher persister aibridge
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT     ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS    := -s -w -X github.com/frontdesk-chat/frontdesk/services/buildinfo.Version=$(VERSION) \
              -X github.com/frontdesk-chat/frontdesk/services/buildinfo.Commit=$(COMMIT)
TOOLS      := $(CURDIR)/bin/tools
REGISTRY   ?= ghcr.io/frontdesk-chat/frontdesk
BINDIR     ?= bin
# Image tag: the release tag when HEAD carries one (v1.2.3 gives 1.2.3), else the chart's
# appVersion, so the chart's default image reference names what `make images` builds.
IMAGE_TAG  ?= $(shell git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null | sed 's/^v//' | grep . || \
                sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' deploy/helm/frontdesk/Chart.yaml)
IMAGE_PLATFORMS ?= linux/amd64 linux/arm64
IMAGES_DIR ?= artifacts/images
BUF        := $(TOOLS)/buf
GOTEST     ?= go test -race -count=1 -timeout 12m
FUZZTIME   ?= 10s

# Pinned tool versions (installed from the Go module proxy into bin/tools).
BUF_VERSION         := v1.75.0
PROTOC_GEN_GO       := v1.36.12
STATICCHECK_VERSION := v0.8.2
CYCLONEDX_GOMOD     := v1.10.0

.PHONY: all run run-processes build test test-faults test-unit fuzz vet lint generate proto-check \
        proto-snapshot bench images test-images tools clean

all: build

## run: the whole system in one process (embedded NATS, local Postgres, demo tenant).
# Built then executed (not `go run`), so Ctrl-C ends with the program's own clean exit status.
run:
	@mkdir -p bin
	go build -o bin/frontdesk ./deploy/local/cmd/frontdesk
	bin/frontdesk

## run-processes: the services as separate processes against FRONTDESK_NATS_URL / FRONTDESK_DATABASE_URL.
run-processes: build
	go build -o bin/frontdesk ./deploy/local/cmd/frontdesk
	bin/frontdesk -processes -bin $(CURDIR)/bin

## build: static binaries into bin/ (BINDIR; GOOS and GOARCH from the environment cross-compile).
build:
	@mkdir -p $(BINDIR)
	@for s in $(SERVICES); do \
	  echo "build $(BINDIR)/$$s"; \
	  CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o $(BINDIR)/$$s ./$$s/cmd/$$s; \
	done
	@if [ "$(BINDIR)" = bin ] && [ -d gateway/cmd/loadgen ]; then CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/loadgen ./gateway/cmd/loadgen; fi

## test: every module's tests with the race detector, the contract checks and a short fuzz run.
# The end-to-end tests run the binaries `build` just made (FRONTDESK_BIN) instead of building their own.
test: proto-check vet build
	@failed=""; for m in $(MODULES); do \
	  if [ -f $$m/go.mod ]; then echo "== test $$m"; (cd $$m && FRONTDESK_BIN=$(CURDIR)/bin $(GOTEST) ./...) || failed="$$failed $$m"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED modules:$$failed"; exit 1; fi
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

## test-faults: kill -9 and restart every service and NATS during a run; a 3-node NATS cluster.
test-faults: build
	cd deploy/local && FRONTDESK_BIN=$(CURDIR)/bin go test -count=1 -timeout 30m -tags faults -run 'Fault' -v ./...

## fuzz: a short run of every fuzz target (longer by hand: make fuzz FUZZTIME=5m). A run that
## fails only with the Go 1.26 fuzz coordinator's deadline race (no failing input written), or
## with no output at all, is run once more; anything else fails. (The recipe shell runs with
## -e: a failing `out=$$(...)` ended it before its output was printed or the retry was tried.)
fuzz:
	@for pkg in $$(grep -rl --include='*_test.go' --exclude-dir=node_modules '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
	  mod=$$pkg; while [ ! -f $$mod/go.mod ]; do mod=$$(dirname $$mod); done; \
	  rel=.; [ "$$pkg" = "$$mod" ] || rel=./$${pkg#$$mod/}; \
	  for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== fuzz $$pkg $$f ($(FUZZTIME))"; \
	    for try in 1 2; do \
	      rc=0; out=$$(cd $$mod && go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$rel 2>&1) || rc=$$?; echo "$$out"; \
	      [ $$rc -eq 0 ] && break; \
	      if [ $$try -eq 1 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
	        echo "== fuzz $$f: the fuzzing engine's deadline race (go.dev/issue/75804, fixed in Go 1.27), no input failed: again"; continue; \
	      fi; \
	      if [ $$try -eq 1 ] && [ -z "$$out" ]; then \
	        echo "== fuzz $$f: exit status $$rc with no output (no input failed): again"; continue; \
	      fi; \
	      echo "== fuzz $$f: exit status $$rc"; \
	      exit 1; \
	    done; \
	  done; \
	done

## vet: gofmt and go vet over every module (part of test).
vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@for m in $(MODULES); do if [ -f $$m/go.mod ]; then (cd $$m && go vet ./...) || exit 1; fi; done

## lint: gofmt, go vet and staticcheck over every module.
lint: $(TOOLS)/staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	@for m in $(MODULES); do if [ -f $$m/go.mod ]; then echo "== vet $$m"; (cd $$m && go vet ./... && $(TOOLS)/staticcheck ./...); fi; done

## generate: regenerate protobuf Go code.
generate: $(BUF) $(TOOLS)/protoc-gen-go
	cd proto && PATH=$(TOOLS):$$PATH $(BUF) generate

## proto-check: buf lint, no breaking change against the released schema, generated code up to date.
proto-check: $(BUF) $(TOOLS)/protoc-gen-go
	cd proto && $(BUF) lint
	cd proto && $(BUF) breaking --against compat/frontdesk-v1.binpb
	@tmp=$$(mktemp -d); cp -r proto/gen $$tmp/before; \
	  (cd proto && PATH=$(TOOLS):$$PATH $(BUF) generate); \
	  diff -r $$tmp/before proto/gen >/dev/null || { echo "proto/gen is stale: run make generate and commit"; rm -rf $$tmp; exit 1; }; \
	  rm -rf $$tmp

## proto-snapshot: accept the current schema as the compatibility baseline (after an intended addition).
proto-snapshot: $(BUF)
	cd proto && $(BUF) build -o compat/frontdesk-v1.binpb

## bench: Go benchmarks of every module (figures go to BENCHMARKS.md).
bench:
	@for m in $(MODULES); do if [ -f $$m/go.mod ]; then (cd $$m && go test -run '^$$' -bench . -benchmem ./...); fi; done

## images: one multi-platform image per service (OCI archives in artifacts/images, tagged
# IMAGE_TAG, with a CycloneDX SBOM per platform), built offline with buildah from the static
# binaries; no Docker engine or registry needed. deploy/docker/Dockerfile is the same image for
# a Docker engine.
images: $(TOOLS)/cyclonedx-gomod
	@for p in $(IMAGE_PLATFORMS); do \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(MAKE) --no-print-directory build VERSION=$(IMAGE_TAG) BINDIR=bin/images/$${p%/*}_$${p#*/}; \
	done
	TAG=$(IMAGE_TAG) COMMIT=$(COMMIT) SERVICES='$(SERVICES)' PLATFORMS='$(IMAGE_PLATFORMS)' REGISTRY=$(REGISTRY) \
	  BIN_DIR=bin/images WORK_DIR=bin/images/buildah OUT_DIR=$(IMAGES_DIR) SBOM_TOOL=$(TOOLS)/cyclonedx-gomod \
	  deploy/images/build.sh

## test-images: run the four images with podman (read-only, non-root) against a test NATS and
# Postgres; a customer and an agent chat through the containerised gateway.
test-images: images
	cd deploy/local && FRONTDESK_IMAGES=$(abspath $(IMAGES_DIR)) FRONTDESK_IMAGE_TAG=$(IMAGE_TAG) \
	  FRONTDESK_IMAGE_REGISTRY=$(REGISTRY) go test -count=1 -timeout 20m -tags images -run 'Images' -v ./images/...

tools: $(BUF) $(TOOLS)/protoc-gen-go $(TOOLS)/staticcheck $(TOOLS)/cyclonedx-gomod

$(BUF):
	GOBIN=$(TOOLS) GOFLAGS=-mod=mod go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(TOOLS)/protoc-gen-go:
	GOBIN=$(TOOLS) GOFLAGS=-mod=mod go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO)
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) GOFLAGS=-mod=mod go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/cyclonedx-gomod:
	GOBIN=$(TOOLS) GOFLAGS=-mod=mod go install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD)

clean:
	rm -rf bin artifacts
