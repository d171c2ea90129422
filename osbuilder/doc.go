// Package osbuilder holds the riscv64 guest builder: the osbuilder command
// (cmd/osbuilder), the boot initrd's kata-preinit (cmd/kata-preinit) and
// their packages. Its boot tests, tagged integration, build guests with the
// command and boot them with qemu-system-riscv64.
package osbuilder
