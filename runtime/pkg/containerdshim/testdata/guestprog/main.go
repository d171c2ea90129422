// Command guestprog is the process of the shim's integration tests: a static
// riscv64 binary that needs no shell or libc in the container's rootfs.
//
//	guestprog echo WORDS...   prints WORDS
//	guestprog exit N          exits with status N
//	guestprog cat             copies stdin to stdout
//	guestprog sleep SECONDS   sleeps
//	guestprog tty             reports whether stdin is a terminal
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: guestprog echo|exit|cat|sleep|tty ...")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "echo":
		fmt.Println(strings.Join(args, " "))
	case "exit":
		n, _ := strconv.Atoi(args[0])
		fmt.Fprintf(os.Stderr, "exiting with %d\n", n)
		os.Exit(n)
	case "cat":
		if _, err := io.Copy(os.Stdout, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	case "sleep":
		s, _ := strconv.Atoi(args[0])
		time.Sleep(time.Duration(s) * time.Second)
	case "tty":
		fi, err := os.Stdin.Stat()
		fmt.Println("tty:", err == nil && fi.Mode()&os.ModeCharDevice != 0)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}
