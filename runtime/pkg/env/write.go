package env

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/BurntSushi/toml"
)

// WriteTOML writes the report as TOML, the default output of kata-env.
func WriteTOML(w io.Writer, info *Info) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(info); err != nil {
		return fmt.Errorf("encoding the report as TOML: %w", err)
	}
	// The encoder leaves the last line without a newline.
	if buf.Len() > 0 && buf.Bytes()[buf.Len()-1] != '\n' {
		buf.WriteByte('\n')
	}
	_, err := buf.WriteTo(w)
	return err
}

// WriteJSON writes the report as indented JSON, as kata-env --json does.
func WriteJSON(w io.Writer, info *Info) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(info); err != nil {
		return fmt.Errorf("encoding the report as JSON: %w", err)
	}
	return nil
}
