package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Messages kata-runtime check prints, as upstream Kata does.
const (
	MsgCapable    = "System is capable of running Kata Containers"
	MsgCanCreate  = "System can currently create Kata Containers"
	MsgNotCapable = "ERROR: System is not capable of running Kata Containers"
)

// WriteText prints the report for people. Warnings come first and failed
// checks follow the verdict line, each with its reason and fix. Verbose
// lists every check with its details before the verdict. asRoot adds upstream's "can currently create" line when KVM
// created a VM, because only root runs that probe in upstream Kata.
func (r *Report) WriteText(w io.Writer, verbose, asRoot bool) error {
	var b strings.Builder
	if verbose {
		for _, c := range r.Checks {
			writeCheck(&b, c, true)
		}
		if r.Skipped != "" {
			fmt.Fprintf(&b, "NOTE  %s\n", r.Skipped)
		}
		b.WriteString("\n")
	}

	if !verbose {
		for _, c := range r.Checks {
			if c.Result == Warn {
				writeCheck(&b, c, false)
			}
		}
	}

	if r.Capable {
		b.WriteString(MsgCapable + "\n")
		if asRoot && r.CanCreate {
			b.WriteString(MsgCanCreate + "\n")
		}
	} else {
		b.WriteString(MsgNotCapable + "\n")
		for _, c := range r.Checks {
			if c.Result == Fail {
				writeCheck(&b, c, false)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeCheck(b *strings.Builder, c Check, details bool) {
	fmt.Fprintf(b, "%-4s  %s: %s\n", strings.ToUpper(string(c.Result)), c.Name, indent(c.Reason))
	if c.Fix != "" && c.Result != Pass {
		fmt.Fprintf(b, "      fix: %s\n", indent(c.Fix))
	}
	if details {
		for _, d := range c.Details {
			fmt.Fprintf(b, "      %s: %s\n", d.Key, indent(d.Value))
		}
	}
}

// indent keeps the continuation lines of a multi-line text, such as a
// configuration error listing several problems, under the check they belong to.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n      ")
}

// WriteJSON prints the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
