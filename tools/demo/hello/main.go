// Command hello is the container process of `make demo` on machines without
// a riscv64 busybox: it greets and reports the kernel and machine it runs on,
// which inside a Kata sandbox are the guest's.
package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func main() {
	msg := "Hello from a riscv64 Kata Containers sandbox"
	if len(os.Args) > 1 {
		msg = os.Args[1]
	}
	fmt.Println(msg)

	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		fmt.Fprintln(os.Stderr, "uname:", err)
		os.Exit(1)
	}
	fmt.Printf("guest kernel: %s %s %s\n", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]), unix.ByteSliceToString(u.Machine[:]))
}
