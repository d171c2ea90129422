package fctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// kind is a JSON type of the swagger schema.
type kind int

const (
	kindString kind = iota
	kindBoolean
	kindInteger
	kindObject
)

func (k kind) String() string {
	return [...]string{"string", "boolean", "integer", "object"}[k]
}

// property is one swagger property: its type, and the enum or range that
// Firecracker's schema gives it.
type property struct {
	kind kind
	enum []string
	min  *int64
	max  *int64
}

func integer(min, max *int64) property { return property{kind: kindInteger, min: min, max: max} }
func enum(values ...string) property   { return property{kind: kindString, enum: values} }
func bound(v int64) *int64             { return &v }

var (
	str     = property{kind: kindString}
	boolean = property{kind: kindBoolean}
	object  = property{kind: kindObject}
)

// definition is one object of the swagger definitions section. Firecracker
// deserializes with serde's deny_unknown_fields, so properties not listed
// are rejected.
type definition struct {
	name       string
	required   []string
	properties map[string]property
}

// The definitions the runtime sends, from Firecracker's swagger file
// (src/firecracker/swagger/firecracker.yaml, v1.17.0-dev). Drive lists
// is_read_only and path_on_host as required because the schema requires them
// for virtio-block drives, the only kind this stand-in models, and Firecracker
// 1.4 requires them always.
var (
	defMachineConfiguration = definition{
		name:     "MachineConfiguration",
		required: []string{"vcpu_count", "mem_size_mib"},
		properties: map[string]property{
			"vcpu_count":        integer(bound(1), bound(32)),
			"mem_size_mib":      integer(bound(1), nil),
			"smt":               boolean,
			"track_dirty_pages": boolean,
			"huge_pages":        enum("None", "Transparent", "2M"),
			"cpu_template":      enum("C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None"),
		},
	}
	defBootSource = definition{
		name:     "BootSource",
		required: []string{"kernel_image_path"},
		properties: map[string]property{
			"kernel_image_path": str,
			"boot_args":         str,
			"initrd_path":       str,
		},
	}
	defDrive = definition{
		name:     "Drive",
		required: []string{"drive_id", "is_root_device", "is_read_only", "path_on_host"},
		properties: map[string]property{
			"drive_id":       str,
			"partuuid":       str,
			"is_root_device": boolean,
			"cache_type":     enum("Unsafe", "Writeback"),
			"is_read_only":   boolean,
			"path_on_host":   str,
			"rate_limiter":   object,
			"io_engine":      enum("Sync", "Async"),
		},
	}
	defPartialDrive = definition{
		name:     "PartialDrive",
		required: []string{"drive_id"},
		properties: map[string]property{
			"drive_id":     str,
			"path_on_host": str,
			"rate_limiter": object,
		},
	}
	defNetworkInterface = definition{
		name:     "NetworkInterface",
		required: []string{"iface_id", "host_dev_name"},
		properties: map[string]property{
			"iface_id":        str,
			"host_dev_name":   str,
			"guest_mac":       str,
			"mtu":             integer(bound(68), bound(65535)),
			"rx_rate_limiter": object,
			"tx_rate_limiter": object,
		},
	}
	defVsock = definition{
		name:     "Vsock",
		required: []string{"guest_cid", "uds_path"},
		properties: map[string]property{
			"guest_cid": integer(bound(3), nil),
			"uds_path":  str,
			"vsock_id":  str,
		},
	}
	defLogger = definition{
		name: "Logger",
		properties: map[string]property{
			"level":           enum("Error", "Warning", "Info", "Debug", "Trace", "Off"),
			"log_path":        str,
			"show_level":      boolean,
			"show_log_origin": boolean,
			"module":          str,
		},
	}
	defMetrics = definition{
		name:       "Metrics",
		required:   []string{"metrics_path"},
		properties: map[string]property{"metrics_path": str},
	}
	defInstanceActionInfo = definition{
		name:     "InstanceActionInfo",
		required: []string{"action_type"},
		properties: map[string]property{
			"action_type": enum("FlushMetrics", "InstanceStart", "SendCtrlAltDel"),
		},
	}
	defVM = definition{
		name:       "Vm",
		required:   []string{"state"},
		properties: map[string]property{"state": enum("Paused", "Resumed")},
	}
)

// validate checks body against def and returns its fields. The error reads
// like Firecracker's deserialization faults: it names the field and what was
// expected.
func (def definition) validate(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("invalid %s body: %w", def.name, err)
	}
	if fields == nil {
		return nil, fmt.Errorf("invalid %s body: expected a JSON object", def.name)
	}

	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		prop, ok := def.properties[name]
		if !ok {
			return nil, fmt.Errorf("unknown field `%s` in %s, expected one of %s", name, def.name, def.fieldList())
		}
		if err := prop.check(fields[name]); err != nil {
			return nil, fmt.Errorf("invalid %s field `%s`: %w", def.name, name, err)
		}
	}

	for _, name := range def.required {
		if _, ok := fields[name]; !ok {
			return nil, fmt.Errorf("missing field `%s` in %s", name, def.name)
		}
	}
	return fields, nil
}

func (def definition) fieldList() string {
	names := make([]string, 0, len(def.properties))
	for name := range def.properties {
		names = append(names, "`"+name+"`")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (p property) check(v any) error {
	switch p.kind {
	case kindString:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("invalid type %s, expected a string", jsonType(v))
		}
		if len(p.enum) > 0 && !contains(p.enum, s) {
			return fmt.Errorf("unknown variant `%s`, expected one of %s", s, strings.Join(p.enum, ", "))
		}
	case kindBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("invalid type %s, expected a boolean", jsonType(v))
		}
	case kindInteger:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("invalid type %s, expected an integer", jsonType(v))
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("invalid value %s, expected an integer", n)
		}
		if p.min != nil && i < *p.min {
			return fmt.Errorf("value %d is below the minimum %d", i, *p.min)
		}
		if p.max != nil && i > *p.max {
			return fmt.Errorf("value %d is above the maximum %d", i, *p.max)
		}
	case kindObject:
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("invalid type %s, expected an object", jsonType(v))
		}
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
