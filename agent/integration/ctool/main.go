// Command ctool is the program inside the test containers of the guest
// integration test: a static binary that needs no shell or libraries.
//
//	ctool hello     print to stdout and stderr, echo one stdin line, exit 42
//	ctool sleep     sleep for an hour
//	ctool exit N    exit with status N
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ctool hello|sleep|exit N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hello":
		fmt.Println("hello")
		fmt.Fprintln(os.Stderr, "oops")
		line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		fmt.Print("got:" + line)
		os.Exit(42)
	case "sleep":
		time.Sleep(time.Hour)
	case "exit":
		if len(os.Args) < 3 {
			os.Exit(2)
		}
		n, err := strconv.Atoi(os.Args[2])
		if err != nil {
			os.Exit(2)
		}
		os.Exit(n)
	default:
		fmt.Fprintf(os.Stderr, "ctool: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}
