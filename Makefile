# kata-riscv64 build and test entry points.
#
#   make            build every binary for the build host and for riscv64
#   make test       formatting, vet, lint, unit tests on the host (-race) and
#                   the same unit tests as riscv64 binaries under qemu-user
#   make integration  tests against real QEMU, mmdebstrap and runc on this machine
#   make e2e        end-to-end tests inside the emulated riscv64 host
#   make generate   regenerate the agent protocol code
#   make deps       install what the targets above need on Debian (root)

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO ?= go
HOST_GOARCH := $(shell $(GO) env GOARCH)
ARCHES ?= $(HOST_GOARCH) riscv64
BUILD_DIR ?= build

VERSION ?= $(shell cat VERSION 2>/dev/null || echo 0.0.0-dev)
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# Every main package declares 'var version, commit string' and hands them to its library.
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Every main package of the module.
CMDS := ./runtime/cmd/... ./agent/cmd/... ./osbuilder/cmd/... ./tools/...

QEMU_USER ?= qemu-riscv64-static
GOLANGCI_LINT_VERSION ?= v2.15.0
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin

.PHONY: all build $(addprefix build-,$(ARCHES)) test fmt-check vet lint unit-host unit-riscv64 \
	integration e2e hostvm generate deps clean

all: build

build: $(addprefix build-,$(ARCHES))

build-%:
	@mkdir -p $(BUILD_DIR)/$*
	CGO_ENABLED=0 GOOS=linux GOARCH=$* $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
		-o $(BUILD_DIR)/$*/ $(CMDS)
	@echo "built $(BUILD_DIR)/$*: $$(ls $(BUILD_DIR)/$* | tr '\n' ' ')"

test: fmt-check vet lint unit-host unit-riscv64

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...
	GOARCH=riscv64 $(GO) vet ./...

# The linter is optional: when the module proxy cannot serve it, the other
# checks still run and the skip is printed.
lint:
	@if [ ! -x $(GOBIN_DIR)/golangci-lint ]; then \
		$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION) \
			|| echo "lint: golangci-lint $(GOLANGCI_LINT_VERSION) did not install; skipping the linter"; \
	fi
	@if [ -x $(GOBIN_DIR)/golangci-lint ]; then $(GOBIN_DIR)/golangci-lint run ./...; fi

unit-host:
	$(GO) test -race -count=1 ./...

# The race detector has no riscv64 support, so the emulated run goes without it.
unit-riscv64:
	@command -v $(QEMU_USER) >/dev/null || { echo "$(QEMU_USER) not found: run 'make deps' (Debian package qemu-user-static)"; exit 1; }
	CGO_ENABLED=0 GOARCH=riscv64 $(GO) test -count=1 -exec $(QEMU_USER) ./...

# Integration tests boot real VMs under TCG and build real root filesystems;
# they need root and the packages of 'make deps'.
integration: build
	$(GO) test -tags integration -count=1 -timeout 40m ./...

# The end-to-end tests run inside the emulated riscv64 host of tools/hostvm,
# whose image is built on first use (about 8 minutes) and cached in
# $(BUILD_DIR)/hostvm.
e2e: build
	$(GO) run ./tools/hostvm e2e

# Builds the emulated host image without running anything in it.
hostvm:
	$(GO) run ./tools/hostvm build

generate:
	$(MAKE) -C agent/protocols generate

deps:
	./.ci/install-deps

clean:
	rm -rf $(BUILD_DIR)
