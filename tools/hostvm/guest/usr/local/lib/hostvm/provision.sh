#!/bin/sh
# Provisions the emulated host's root filesystem. hostvm runs it inside the
# new root (chroot, riscv64 binaries through qemu-user binfmt) as the last
# mmdebstrap customize hook.
set -eu

chmod 0755 /usr/local/sbin/hostvm-run
mkdir -p /mnt/build /mnt/run
systemctl enable hostvm-run.service

# No one logs in: hostvm talks to the guest through the shares, and a getty
# on the serial console interleaves its prompt with the console log.
systemctl mask serial-getty@ttyS0.service getty@tty1.service

# Periodic jobs only cost boot time in a machine that lives for one command.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
	systemctl mask "$unit"
done
