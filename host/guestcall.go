package host

import (
	"context"
	"fmt"
)

// CallExport calls an exported function of worker VM worker by name and
// returns its results, holding the VM's lock like every other call into it.
// It exists for measurement and diagnostics (a build-tagged export reporting
// the guest's own statistics, say); the host attaches no meaning to the
// export. A trap fails the VM exactly as a trap in a callback does.
func (h *Host) CallExport(ctx context.Context, worker int, export string, args ...uint64) ([]uint64, error) {
	if worker < 0 || worker >= len(h.workers) {
		return nil, fmt.Errorf("host: no worker %d (have %d)", worker, len(h.workers))
	}
	v := h.workers[worker]
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failed || v.closed {
		return nil, errVMFailed
	}
	f := v.mod.ExportedFunction(export)
	if f == nil {
		return nil, fmt.Errorf("host: worker %d has no export %q", worker, export)
	}
	prev := v.effective
	v.effective = v.rootID
	defer func() { v.effective = prev }()
	res, err := f.Call(v.ctx, args...)
	if err != nil {
		v.fail(export, err)
		return nil, fmt.Errorf("host: calling %s on worker %d: %w", export, worker, err)
	}
	return res, nil
}
