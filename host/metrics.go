package host

import (
	"fmt"
	"io"
	"sort"
	"sync"
)

// Metric types of proxy_define_metric.
const (
	metricCounter   = 0
	metricGauge     = 1
	metricHistogram = 2
)

// metric is one plugin metric, shared by every VM of the host like Envoy's stats.
type metric struct {
	name  string
	kind  uint32
	value int64  // counter or gauge
	count uint64 // histogram: values recorded
	sum   uint64 // histogram: their sum
}

// metricRegistry holds the host-wide plugin metrics by name.
type metricRegistry struct {
	mu     sync.Mutex
	byName map[string]*metric
	byID   []*metric // id = index+1
}

func newMetricRegistry() *metricRegistry {
	return &metricRegistry{byName: map[string]*metric{}}
}

func (r *metricRegistry) define(kind uint32, name string) (uint32, uint32) {
	if kind > metricHistogram {
		return 0, statusBadArgument
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if m, ok := r.byName[name]; ok {
		if m.kind != kind {
			return 0, statusBadArgument
		}
		for i, x := range r.byID {
			if x == m {
				return uint32(i + 1), statusOK
			}
		}
	}
	m := &metric{name: name, kind: kind}
	r.byName[name] = m
	r.byID = append(r.byID, m)
	return uint32(len(r.byID)), statusOK
}

// update runs change on metric id under the registry's lock; an unknown id
// is NOT_FOUND.
func (r *metricRegistry) update(id uint32, change func(m *metric) uint32) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id == 0 || int(id) > len(r.byID) {
		return statusNotFound
	}
	return change(r.byID[id-1])
}

// increment is proxy_increment_metric: counters only grow, gauges move
// either way, histograms cannot be incremented.
func (r *metricRegistry) increment(id uint32, offset int64) uint32 {
	return r.update(id, func(m *metric) uint32 {
		switch {
		case m.kind == metricGauge, m.kind == metricCounter && offset >= 0:
			m.value += offset
			return statusOK
		}
		return statusBadArgument
	})
}

// record is proxy_record_metric: a gauge takes the value, a histogram counts
// it, and a counter only moves forward to it.
func (r *metricRegistry) record(id uint32, value uint64) uint32 {
	return r.update(id, func(m *metric) uint32 {
		switch m.kind {
		case metricCounter:
			m.value = max(m.value, int64(value))
		case metricGauge:
			m.value = int64(value)
		case metricHistogram:
			m.count++
			m.sum += value
		}
		return statusOK
	})
}

// get is proxy_get_metric; a histogram has no single value (BAD_ARGUMENT).
func (r *metricRegistry) get(id uint32) (val uint64, status uint32) {
	status = r.update(id, func(m *metric) uint32 {
		if m.kind == metricHistogram {
			return statusBadArgument
		}
		val = uint64(m.value)
		return statusOK
	})
	return val, status
}

func (r *metricRegistry) value(name string) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.byName[name]
	if !ok {
		return 0, false
	}
	if m.kind == metricHistogram {
		return m.count, true
	}
	return uint64(m.value), true
}

// writeStats prints every metric in Envoy's /stats text format, sorted by
// name, with the wasmcustom. prefix Envoy gives wasm metrics.
func (r *metricRegistry) writeStats(w io.Writer, keep func(string) bool) {
	r.mu.Lock()
	lines := make([]string, 0, len(r.byName))
	for _, m := range r.byName {
		name := "wasmcustom." + m.name
		if !keep(name) {
			continue
		}
		if m.kind == metricHistogram {
			lines = append(lines, fmt.Sprintf("%s: count=%d sum=%d", name, m.count, m.sum))
		} else {
			lines = append(lines, fmt.Sprintf("%s: %d", name, m.value))
		}
	}
	r.mu.Unlock()
	sort.Strings(lines)
	for _, l := range lines {
		io.WriteString(w, l+"\n")
	}
}
