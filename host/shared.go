package host

import "sync"

// sharedData is Envoy's host-wide key/value store with compare-and-swap.
type sharedData struct {
	mu      sync.Mutex
	entries map[string]sharedEntry
	lastCas uint32
}

type sharedEntry struct {
	value []byte
	cas   uint32
}

func newSharedData() *sharedData { return &sharedData{entries: map[string]sharedEntry{}} }

func (d *sharedData) get(key string) ([]byte, uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[key]
	return e.value, e.cas, ok
}

// set stores value; a non-zero cas must equal the entry's current cas
// (CAS_MISMATCH otherwise). Every write gets a new cas.
func (d *sharedData) set(key string, value []byte, cas uint32) uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[key]; ok && cas != 0 && cas != e.cas {
		return statusCasMismatch
	}
	d.lastCas++
	if d.lastCas == 0 {
		d.lastCas = 1
	}
	d.entries[key] = sharedEntry{value: append([]byte(nil), value...), cas: d.lastCas}
	return statusOK
}

// sharedQueues are Envoy's shared queues: registered by one VM, fed by any.
type sharedQueues struct {
	mu     sync.Mutex
	byName map[string]uint32
	queues []*sharedQueue // id = index+1
}

type sharedQueue struct {
	owner *vm
	items [][]byte
}

func newSharedQueues() *sharedQueues { return &sharedQueues{byName: map[string]uint32{}} }

func (q *sharedQueues) register(name string, owner *vm) uint32 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id, ok := q.byName[name]; ok {
		q.queues[id-1].owner = owner
		return id
	}
	q.queues = append(q.queues, &sharedQueue{owner: owner})
	id := uint32(len(q.queues))
	q.byName[name] = id
	return id
}

func (q *sharedQueues) resolve(name string) (uint32, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	id, ok := q.byName[name]
	return id, ok
}

func (q *sharedQueues) dequeue(id uint32) ([]byte, uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id == 0 || int(id) > len(q.queues) {
		return nil, statusNotFound
	}
	sq := q.queues[id-1]
	if len(sq.items) == 0 {
		return nil, statusEmpty
	}
	item := sq.items[0]
	sq.items = sq.items[1:]
	return item, statusOK
}

// enqueue adds an item and tells the owning VM (proxy_on_queue_ready) from
// another goroutine, since the caller may be that very VM.
func (q *sharedQueues) enqueue(id uint32, data []byte) uint32 {
	q.mu.Lock()
	if id == 0 || int(id) > len(q.queues) {
		q.mu.Unlock()
		return statusNotFound
	}
	sq := q.queues[id-1]
	sq.items = append(sq.items, append([]byte(nil), data...))
	owner := sq.owner
	q.mu.Unlock()
	h := owner.h
	h.mu.Lock()
	closed := h.closed
	if !closed {
		h.bg.Add(1)
	}
	h.mu.Unlock()
	if !closed {
		go func() {
			defer h.bg.Done()
			owner.mu.Lock()
			defer owner.mu.Unlock()
			if !owner.failed && !owner.closed {
				owner.callOn(owner.rootID, "proxy_on_queue_ready", uint64(owner.rootID), uint64(id))
			}
		}()
	}
	return statusOK
}
