package shimmonitor

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ErrTypeConflict reports two metric families of the same name with
// different types, which one exposition cannot hold.
var ErrTypeConflict = errors.New("metric family type conflict")

// ParseText parses the Prometheus text exposition format (version 0.0.4),
// keyed by family name. Names must be classic Prometheus names, so the merged
// output stays valid for every text-format consumer.
func ParseText(r io.Reader) (map[string]*dto.MetricFamily, error) {
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parsing Prometheus text: %w", err)
	}
	return families, nil
}

// AddPrefix renames mf to prefix+name when its name starts with one of
// match. Client libraries name their runtime families go_* and process_*, so
// a prefix is needed to distinguish the processes that report them.
func AddPrefix(mf *dto.MetricFamily, prefix string, match ...string) {
	name := mf.GetName()
	for _, m := range match {
		if strings.HasPrefix(name, m) {
			mf.Name = &[]string{prefix + name}[0]
			return
		}
	}
}

// Families merges metric families from several sources into one exposition:
// one family per name, so one HELP and TYPE line each, with the samples of
// every source. The zero value is not usable; use NewFamilies.
type Families struct {
	byName map[string]*dto.MetricFamily
}

// NewFamilies returns an empty set of families.
func NewFamilies() *Families {
	return &Families{byName: make(map[string]*dto.MetricFamily)}
}

// Add appends the samples of mf to the family of the same name. The first
// family added for a name sets its HELP text and type. A family whose type
// differs from the one already held is rejected with ErrTypeConflict, and
// none of its samples are added. Add keeps references to mf's metrics, so the
// caller must not change them afterwards.
func (f *Families) Add(mf *dto.MetricFamily) error {
	name := mf.GetName()
	existing, ok := f.byName[name]
	if !ok {
		f.byName[name] = &dto.MetricFamily{
			Name:   mf.Name,
			Help:   mf.Help,
			Type:   mf.Type,
			Unit:   mf.Unit,
			Metric: append([]*dto.Metric(nil), mf.Metric...),
		}
		return nil
	}

	if existing.GetType() != mf.GetType() {
		return fmt.Errorf("%s is %s here but %s in an earlier source: %w",
			name, mf.GetType(), existing.GetType(), ErrTypeConflict)
	}
	existing.Metric = append(existing.Metric, mf.Metric...)
	return nil
}

// Len returns the number of families held.
func (f *Families) Len() int {
	return len(f.byName)
}

// Sorted returns the families ordered by name, the order client_golang's
// registries use.
func (f *Families) Sorted() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(f.byName))
	for _, mf := range f.byName {
		out = append(out, mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}
