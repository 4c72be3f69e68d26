package abi

// streamTable holds the live HTTP streams by context id, in place of a
// map: every stream costs several lookups (create, each callback, log,
// delete), and Go's map hashes each key, about a tenth of a cached
// request in V8. The host numbers every context from one counter, so the
// live ids lie close together and id & mask spreads them over the slots
// without hashing. Linear probing, with deletion by backward shift, leaves
// no tombstones, so probe chains stay as short as the table is sparse.
type streamTable struct {
	slots []streamSlot // a power of two long, or empty
	n     int          // slots in use
}

type streamSlot struct {
	id   uint32
	used bool
	s    stream
}

// minStreamSlots is the table's first size.
const minStreamSlots = 16

// index returns the slot holding id, or -1.
func (t *streamTable) index(id uint32) int {
	if len(t.slots) == 0 {
		return -1
	}
	mask := uint32(len(t.slots) - 1)
	for i := id & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if !sl.used {
			return -1
		}
		if sl.id == id {
			return int(i)
		}
	}
}

// get returns id's stream and whether there is one.
func (t *streamTable) get(id uint32) (stream, bool) {
	i := t.index(id)
	if i < 0 {
		return stream{}, false
	}
	return t.slots[i].s, true
}

// set stores s as id's stream.
func (t *streamTable) set(id uint32, s stream) {
	if i := t.index(id); i >= 0 {
		t.slots[i].s = s
		return
	}
	// At most half full, so a probe meets an empty slot soon.
	if 2*(t.n+1) > len(t.slots) {
		t.resize(max(minStreamSlots, 2*len(t.slots)))
	}
	t.insert(id, s)
	t.n++
}

// insert puts a new id in its first free slot from its home.
func (t *streamTable) insert(id uint32, s stream) {
	mask := uint32(len(t.slots) - 1)
	i := id & mask
	for t.slots[i].used {
		i = (i + 1) & mask
	}
	t.slots[i] = streamSlot{id: id, used: true, s: s}
}

// resize moves every stream into a table of size slots.
func (t *streamTable) resize(size int) {
	old := t.slots
	t.slots = make([]streamSlot, size)
	for i := range old {
		if old[i].used {
			t.insert(old[i].id, old[i].s)
		}
	}
}

// remove forgets id's stream, if there is one. The streams after it in
// its probe chain move back into the hole when their home slot allows, so
// every stream stays reachable from its home without tombstones.
func (t *streamTable) remove(id uint32) {
	at := t.index(id)
	if at < 0 {
		return
	}
	mask := uint32(len(t.slots) - 1)
	hole := uint32(at)
	for j := (hole + 1) & mask; t.slots[j].used; j = (j + 1) & mask {
		home := t.slots[j].id & mask
		// The stream at j stays when its home lies cyclically in
		// (hole, j]: moving it before its home would hide it.
		if hole <= j {
			if hole < home && home <= j {
				continue
			}
		} else if hole < home || home <= j {
			continue
		}
		t.slots[hole] = t.slots[j]
		hole = j
	}
	t.slots[hole] = streamSlot{}
	t.n--
}
