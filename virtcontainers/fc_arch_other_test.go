//go:build !riscv64

package virtcontainers

// wantFCBootArgs is the kernel command line of the x86_64 and aarch64 rules
// for an ext4 guest image on root and a default agent configuration.
func wantFCBootArgs(debug bool, root string) string {
	console := "8250.nr_uarts=0"
	if debug {
		console = "console=ttyS0"
	}
	return console + " reboot=k panic=1 pci=off net.ifnames=0 root=" + root + " rootfstype=ext4 ro rootflags=data=ordered,errors=remount-ro"
}
