module github.com/kata-riscv64/kata-riscv64

go 1.26.8
