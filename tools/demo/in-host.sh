#!/bin/sh
# Runs a container in a riscv64 Kata sandbox through containerd, on a
# riscv64 host with KVM: the emulated host of `make demo`, or a real board.
#
# BUILD is the directory `make demo` filled: riscv64 binaries in
# $BUILD/riscv64, the guest in $BUILD/guest, this script and the shipped
# configuration in $BUILD/demo. Set DEMO_KEEP=1 to keep the rootfs it
# writes under $WORK.
set -eu

BUILD=${BUILD:-/mnt/build}
WORK=${WORK:-/run/kata-demo}
MESSAGE=${MESSAGE:-"Hello from a riscv64 Kata Containers sandbox"}
# Seconds to wait for the guest's agent. Under nested virtualization in the
# emulated host a guest boots in tens of seconds; on hardware in a few.
DIAL_TIMEOUT=${DIAL_TIMEOUT:-180}

step() { printf '\n== %s\n' "$*"; }

step "installing the runtime from $BUILD/riscv64"
for bin in containerd-shim-kata-v2 kata-runtime; do
	[ -x "$BUILD/riscv64/$bin" ] || { echo "missing $BUILD/riscv64/$bin: run 'make build-riscv64'" >&2; exit 1; }
	ln -sf "$BUILD/riscv64/$bin" "/usr/local/bin/$bin"
done
for f in vmlinux.container kata-containers-initrd.img; do
	[ -f "$BUILD/guest/$f" ] || { echo "missing $BUILD/guest/$f: run 'make guest'" >&2; exit 1; }
done

mkdir -p "$WORK" /etc/kata-containers
config=/etc/kata-containers/configuration.toml
# The guest boots from the initrd whose init is the agent: the fastest start.
sed -e "s|^kernel = .*|kernel = \"$BUILD/guest/vmlinux.container\"|" \
	-e "s|^image = .*|initrd = \"$BUILD/guest/kata-containers-initrd.img\"|" \
	-e "s|^dial_timeout = .*|dial_timeout = $DIAL_TIMEOUT|" \
	"$BUILD/demo/configuration-qemu.toml" >"$config"
echo "configuration: $config"

step "kata-runtime check"
kata-runtime check --verbose || { echo "this host cannot run Kata Containers; see above" >&2; exit 1; }

step "starting containerd"
if ! ctr version >/dev/null 2>&1; then
	systemctl start containerd
	for _ in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
fi
ctr version | sed -n 's/^ *Version: */containerd /p' | head -2

step "making a busybox root filesystem"
rootfs="$WORK/rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/etc"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh echo cat uname true sleep ls; do ln -s busybox "$rootfs/bin/$applet"; done

step "ctr run --runtime io.containerd.kata.v2"
start=$(date +%s.%N)
ctr run --rm --runtime io.containerd.kata.v2 --rootfs "$rootfs" kata-demo \
	/bin/sh -c "echo '$MESSAGE'; echo \"guest kernel: \$(uname -srm)\""
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "\ncontainer ran and was removed in %.1f s\n", e - s }'

if [ "${DEMO_KEEP:-0}" != 1 ]; then
	rm -rf "$rootfs"
fi
