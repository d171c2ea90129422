# kata-riscv64 build and test entry points.
#
#   make            build every binary for the build host and for riscv64
#   make test       formatting, vet, lint, unit tests on the host (-race) and
#                   the same unit tests as riscv64 binaries under qemu-user
#   make integration  tests against real QEMU, mmdebstrap and runc on this machine
#   make e2e        end-to-end tests inside the emulated riscv64 host
#   make bench      sandbox start-up benchmark through containerd (root;
#                   BENCH_N runs per mode, results in BENCH_OUT)
#   make bench-hostvm  the same inside the emulated riscv64 host, with KVM,
#                   vhost-vsock and virtio-fs (results in BENCH_HOSTVM_OUT)
#   make generate   regenerate the agent protocol code
#   make guest      the riscv64 guest kernel, image and initrd in build/guest
#                   (needs build/riscv64/kata-agent from 'make build')
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

# Every main package of the module, from the command trees that exist so far.
CMDS := $(foreach d,runtime/cmd agent/cmd osbuilder/cmd tools,$(if $(wildcard $(d)),./$(d)/...))

QEMU_USER ?= qemu-riscv64-static
GOLANGCI_LINT_VERSION ?= v2.15.0
GOBIN_DIR := $(shell $(GO) env GOPATH)/bin

.PHONY: all build $(addprefix build-,$(ARCHES)) test fmt-check vet lint unit-host unit-riscv64 \
	integration e2e bench bench-hostvm hostvm demo generate deps clean guest guest-ready

all: build

build: $(addprefix build-,$(ARCHES))

# A static pattern rule, because make skips pattern rules for .PHONY targets.
$(addprefix build-,$(ARCHES)): build-%:
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
# The script retries a failed package once, as qemu-user can deadlock a
# forking test; see .ci/unit-riscv64.
unit-riscv64:
	@command -v $(QEMU_USER) >/dev/null || { echo "$(QEMU_USER) not found: run 'make deps' (Debian package qemu-user-static)"; exit 1; }
	QEMU_USER=$(QEMU_USER) ./.ci/unit-riscv64

# Integration tests boot real VMs under TCG and build real root filesystems;
# they need root and the packages of 'make deps'.
integration: build guest-ready
	$(GO) test -tags integration -count=1 -timeout 40m ./...

# The end-to-end tests run inside the emulated riscv64 host of tools/hostvm,
# whose image is built on first use (3 to 11 minutes) and cached in
# $(BUILD_DIR)/hostvm.
# hostvm runs from build/ rather than through 'go run', which would turn the
# tests' exit code into 1.
e2e: build guest-ready
	@mkdir -p $(BUILD_DIR)/configs
	cp configs/*.toml $(BUILD_DIR)/configs/
	$(BUILD_DIR)/$(HOST_GOARCH)/hostvm e2e

# Builds the emulated host image without running anything in it.
hostvm: build-$(HOST_GOARCH)
	$(BUILD_DIR)/$(HOST_GOARCH)/hostvm build

# Guest artifacts: build/guest/vmlinux.container (the distribution kernel
# as a flat Image), kata-containers.img (systemd guest) with root.txt and
# kata-containers-boot-initrd.img (loads virtio_blk and ext4 for the image),
# and kata-containers-initrd.img (the agent as PID 1). Downloads are kept
# in build/cache.
GUEST_DIR ?= $(BUILD_DIR)/guest
GUEST_CACHE ?= $(BUILD_DIR)/cache
GUEST_DISTRO ?= debian
GUEST_SUITE ?= trixie
GUEST_AGENT ?= $(BUILD_DIR)/riscv64/kata-agent
OSBUILDER := $(BUILD_DIR)/$(HOST_GOARCH)/osbuilder
PREINIT := $(BUILD_DIR)/riscv64/kata-preinit
OSB_DISTRO := --distro $(GUEST_DISTRO) --suite $(GUEST_SUITE) --cache-dir $(GUEST_CACHE)

guest:
	@test -f $(GUEST_AGENT) || { echo "guest: $(GUEST_AGENT) not found: run 'make build' first to build the riscv64 kata-agent"; exit 1; }
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(OSBUILDER) ./osbuilder/cmd/osbuilder
	CGO_ENABLED=0 GOARCH=riscv64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(PREINIT) ./osbuilder/cmd/kata-preinit
	$(OSBUILDER) kernel $(OSB_DISTRO) --out $(GUEST_DIR)/kernel --force
	cp $(GUEST_DIR)/kernel/vmlinux.container $(GUEST_DIR)/vmlinux.container
	$(OSBUILDER) rootfs $(OSB_DISTRO) --agent $(GUEST_AGENT) \
		--kernel-modules $(GUEST_DIR)/kernel/modules --out $(GUEST_DIR)/rootfs --force
	$(OSBUILDER) image --rootfs $(GUEST_DIR)/rootfs --preinit $(PREINIT) \
		--out $(GUEST_DIR)/kata-containers.img --force
	$(OSBUILDER) rootfs $(OSB_DISTRO) --agent $(GUEST_AGENT) --agent-init \
		--kernel-modules $(GUEST_DIR)/kernel/modules --out $(GUEST_DIR)/rootfs-agent-init --force
	$(OSBUILDER) initrd --rootfs $(GUEST_DIR)/rootfs-agent-init \
		--out $(GUEST_DIR)/kata-containers-initrd.img --force
	@ls -l $(GUEST_DIR)

# guest-ready builds the guest only when build/guest lacks it, so that the
# test targets and the demo reuse one guest; 'make guest' rebuilds it.
guest-ready:
	@if [ -f $(GUEST_DIR)/kata-containers-initrd.img ] && [ -f $(GUEST_DIR)/kata-containers.img ]; then \
		echo "guest: reusing $(GUEST_DIR); run 'make guest' to rebuild it"; \
	else \
		$(MAKE) guest; \
	fi

# The sandbox start-up benchmark of tools/bench: bare QEMU boots and cold
# runs interleaved, then warm execs, with the shim's and QEMU's RSS. Under
# TCG a cold run took 6 to 25 s here, hence the small default; the method
# calls for BENCH_N=100.
BENCH_N ?= 10
BENCH_OUT ?= $(BUILD_DIR)/bench
BENCH_FLAGS ?=

bench: build guest-ready
	$(BUILD_DIR)/$(HOST_GOARCH)/bench -n $(BENCH_N) -out $(BENCH_OUT) $(BENCH_FLAGS) all

# The same benchmark inside the emulated riscv64 host: its containerd, QEMU
# with KVM (nested), vhost-vsock and virtio-fs, as on a riscv64 server. The
# host software is emulated as well as the guest there, so the two slow down
# alike. The repository is shared at /mnt/build, where bench finds build/
# and configs/. A run of 12 of each took about 10 minutes on 2 cores.
BENCH_HOSTVM_OUT ?= $(BUILD_DIR)/bench-hostvm
BENCH_HOSTVM_TIMEOUT ?= 120m

bench-hostvm: build guest-ready
	$(BUILD_DIR)/$(HOST_GOARCH)/hostvm run -share $(CURDIR) -out $(BENCH_HOSTVM_OUT) -timeout $(BENCH_HOSTVM_TIMEOUT) -- \
		sh -c 'build/riscv64/bench -n $(BENCH_N) -out "$$HOSTVM_OUT_DIR" $(BENCH_FLAGS) all'

# The main job: a container in a riscv64 Kata sandbox through containerd.
# On a riscv64 host with KVM it runs there. Elsewhere it runs inside the
# emulated riscv64 host of tools/hostvm, with the host's containerd and the
# guest under nested KVM; DEMO_IN_HOSTVM=0 runs it on this machine instead,
# with a private containerd and QEMU emulating the guest (TCG), which is
# quicker.
DEMO_DIR := $(BUILD_DIR)/demo
DEMO_IN_HOSTVM ?= 1
demo: build guest-ready
	@mkdir -p $(DEMO_DIR)
	cp tools/demo/in-host.sh tools/demo/on-build-host.sh configs/configuration-qemu.toml $(DEMO_DIR)/
ifeq ($(HOST_GOARCH),riscv64)
	BUILD=$(abspath $(BUILD_DIR)) sh $(DEMO_DIR)/in-host.sh
else ifeq ($(DEMO_IN_HOSTVM),1)
	$(BUILD_DIR)/$(HOST_GOARCH)/hostvm run --timeout 30m -- sh /mnt/build/demo/in-host.sh
else
	BUILD=$(abspath $(BUILD_DIR)) ARCH=$(HOST_GOARCH) sh $(DEMO_DIR)/on-build-host.sh
endif

generate:
	$(MAKE) -C agent/protocols generate

deps:
	./.ci/install-deps

clean:
	rm -rf $(BUILD_DIR)
