package rootfs

// AgentPath is the agent's path in the guest, the one upstream's units and
// the runtime's configuration expect.
const AgentPath = "/usr/bin/kata-agent"

// UnitDir is the systemd system unit directory of a merged-/usr guest.
const UnitDir = "/usr/lib/systemd/system"

// KataTarget is the unit the guest boots to: the kernel command line
// carries systemd.unit=kata-containers.target, and default.target points to
// it for boots without that parameter.
const KataTarget = "kata-containers.target"

// AgentService starts the agent. The directives follow upstream Kata's
// kata-agent.service so guests and host configurations carry over: the
// console gets the agent's output, the guest powers off when the agent
// stops or fails, and the OOM killer spares the agent.
const AgentService = `[Unit]
Description=Kata Containers Agent
Documentation=https://github.com/kata-containers/kata-containers
Wants=kata-containers.target

[Service]
Type=simple
StandardOutput=tty
ExecStart=/usr/bin/kata-agent
LimitNOFILE=1073741824
ExecStop=/bin/sync ; /usr/bin/systemctl --force poweroff
FailureAction=poweroff
OOMScoreAdjust=-997
`

// ContainersTarget is the boot target, with upstream's dependencies. The
// Wants on chronyd.service is kept for compatibility; systemd ignores it
// when chrony is not installed.
const ContainersTarget = `[Unit]
Description=Kata Containers Agent Target
Requires=basic.target
Requires=tmp.mount
Wants=chronyd.service
Requires=kata-agent.service
Conflicts=rescue.service rescue.target
After=basic.target rescue.service rescue.target
AllowIsolate=yes
`

// MaskedUnits are units that sysinit.target, basic.target, sockets.target
// or timers.target would otherwise start in every sandbox although no
// sandbox needs them: first-boot prompts, TPM measurements, binfmt, hardware
// database updates, periodic maintenance and login handling.
var MaskedUnits = []string{
	"dpkg-db-backup.timer",
	"e2scrub_all.timer",
	"e2scrub_reap.service",
	"fstrim.timer",
	"getty.target",
	"ldconfig.service",
	"proc-sys-fs-binfmt_misc.automount",
	"sys-kernel-config.mount",
	"sys-kernel-debug.mount",
	"sys-kernel-tracing.mount",
	"systemd-ask-password-console.path",
	"systemd-ask-password-wall.path",
	"systemd-binfmt.service",
	"systemd-firstboot.service",
	"systemd-hibernate-clear.service",
	"systemd-hostnamed.socket",
	"systemd-hwdb-update.service",
	"systemd-journal-catalog-update.service",
	"systemd-logind.service",
	"systemd-machine-id-commit.service",
	"systemd-pcrextend.socket",
	"systemd-pcrlock.socket",
	"systemd-pcrmachine.service",
	"systemd-pcrphase-sysinit.service",
	"systemd-pcrphase.service",
	"systemd-pstore.service",
	"systemd-sysext.socket",
	"systemd-tpm2-setup-early.service",
	"systemd-tpm2-setup.service",
	"systemd-update-utmp.service",
	"systemd-user-sessions.service",
}
