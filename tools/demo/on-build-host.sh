#!/bin/sh
# Runs a container in a riscv64 Kata sandbox through containerd on a machine
# that is not riscv64: QEMU emulates the guest (TCG), the agent talks over a
# virtio-serial port and the rootfs is shared over virtio-9p. A private
# containerd with its own root and socket keeps the host's containerd, if
# any, out of it.
#
# BUILD is the directory `make demo` filled (build/<arch> binaries, the
# guest in build/guest, this script and the configuration in build/demo).
set -eu

BUILD=${BUILD:-$(pwd)/build}
ARCH=${ARCH:-$(go env GOARCH 2>/dev/null || uname -m)}
WORK=$(mktemp -d /tmp/kata-demo.XXXXXX)
MESSAGE=${MESSAGE:-"Hello from a riscv64 Kata Containers sandbox"}

step() { printf '\n== %s\n' "$*"; }

cleanup() {
	[ -n "${CTD_PID:-}" ] && kill "$CTD_PID" 2>/dev/null && wait "$CTD_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

for f in "$BUILD/$ARCH/containerd-shim-kata-v2" "$BUILD/riscv64/hello" "$BUILD/guest/vmlinux.container" "$BUILD/guest/kata-containers-initrd.img"; do
	[ -e "$f" ] || { echo "missing $f: run 'make build guest'" >&2; exit 1; }
done
command -v containerd >/dev/null || { echo "containerd not found: run 'make deps' (Debian package containerd)" >&2; exit 1; }

step "writing the Kata configuration (QEMU TCG, agent-init initrd)"
config="$WORK/configuration.toml"
sed -e "s|^kernel = .*|kernel = \"$BUILD/guest/vmlinux.container\"|" \
	-e "s|^image = .*|initrd = \"$BUILD/guest/kata-containers-initrd.img\"|" \
	-e "s|^accelerator = .*|accelerator = \"tcg\"|" \
	-e "s|^shared_fs = .*|shared_fs = \"virtio-9p\"|" \
	-e "s|^dial_timeout = .*|dial_timeout = 300|" \
	"$BUILD/demo/configuration-qemu.toml" >"$config"
echo "$config"

step "starting a private containerd"
cat >"$WORK/containerd.toml" <<CONF
version = 2
root = "$WORK/containerd/root"
state = "$WORK/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$WORK/containerd.sock"
CONF
PATH="$BUILD/$ARCH:$PATH" containerd --config "$WORK/containerd.toml" >"$WORK/containerd.log" 2>&1 &
CTD_PID=$!
for _ in $(seq 100); do ctr --address "$WORK/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
ctr --address "$WORK/containerd.sock" version | sed -n 's/^ *Version: */containerd /p' | head -1

step "making a root filesystem with a riscv64 program"
rootfs="$WORK/rootfs"
mkdir -p "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/etc"
cp "$BUILD/riscv64/hello" "$rootfs/hello"

step "ctr run --runtime io.containerd.kata.v2"
start=$(date +%s.%N)
if ! ctr --address "$WORK/containerd.sock" run --rm --runtime io.containerd.kata.v2 \
	--runtime-config-path "$config" --rootfs "$rootfs" kata-demo /hello "$MESSAGE"; then
	echo "the container failed; containerd's log (with the shim's) follows" >&2
	tail -40 "$WORK/containerd.log" >&2
	exit 1
fi
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "\ncontainer ran and was removed in %.1f s (guest emulated by TCG)\n", e - s }'
