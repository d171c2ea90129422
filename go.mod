module github.com/kata-riscv64/kata-riscv64

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/prometheus/procfs v0.23.0
	github.com/sirupsen/logrus v1.10.2
)

require golang.org/x/sys v0.49.0 // indirect
