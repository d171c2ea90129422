// Package e2e holds the end-to-end tests of kata-riscv64. They run on a
// riscv64 host with the H extension: natively with
//
//	go test -tags e2e ./tests/e2e
//
// after 'make build', or inside the emulated host with 'make e2e'
// (tools/hostvm), which also boots a host without the H extension for the
// tests named WithoutH.
//
// Environment:
//
//	KATA_E2E_BUILD_DIR  the build directory holding riscv64/kata-runtime
//	                    (default: $HOSTVM_BUILD_DIR, else the repository's build)
//	KATA_E2E_HOST_H     "present" (default) or "absent": whether this host is
//	                    expected to have the H extension
//	KATA_E2E_HOST_AIA   "present" when the host's KVM offers AIA (IMSIC guest
//	                    interrupt files), which enables the AIA guest test
//	FIRECRACKER         a riscv64 Firecracker binary; without it the Firecracker
//	                    test skips. With it the test runs a busybox container
//	                    (KATA_E2E_BUSYBOX, default /bin/busybox) whose rootfs
//	                    directory mkfs.ext4 copies into an image.
//	                    FIRECRACKER_KERNEL and FIRECRACKER_IMAGE name its guest
//	                    kernel (an uncompressed Image) and image,
//	                    FIRECRACKER_DEBUG=1 adds the serial console, and
//	                    FIRECRACKER_KERNEL_PARAMS adds kernel parameters
package e2e
