module github.com/kata-riscv64/kata-riscv64

go 1.26.8

require (
	github.com/cavaliergopher/cpio v1.0.1
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/sirupsen/logrus v1.10.2
	github.com/ulikunitz/xz v0.5.17
	golang.org/x/sys v0.50.0
)
