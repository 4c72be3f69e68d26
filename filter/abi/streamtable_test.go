package abi

import (
	"math/rand/v2"
	"testing"
)

// The table is held to a Go map under random creates, updates and
// deletes, with ids as a host hands them out (one counter, streams
// living a while) and with ids chosen to collide.
func TestStreamTableAgreesWithAMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		next func(r *rand.Rand, counter *uint32) uint32
	}{
		{"ids from one counter, as hosts number contexts", func(_ *rand.Rand, c *uint32) uint32 { *c++; return *c }},
		{"ids that share their low bits", func(_ *rand.Rand, c *uint32) uint32 { *c++; return *c * 64 }},
		{"random ids", func(r *rand.Rand, _ *uint32) uint32 { return r.Uint32() }},
	} {
		t.Run(tc.name+" read the same as a map", func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var table streamTable
			want := map[uint32]stream{}
			var live []uint32
			var counter uint32
			for step := 0; step < 20000; step++ {
				switch op := r.IntN(10); {
				case op < 4 || len(live) == 0: // a new stream
					id := tc.next(r, &counter)
					if _, dup := want[id]; dup {
						continue
					}
					s := stream{root: id ^ 1, orphan: r.IntN(2) == 0}
					table.set(id, s)
					want[id] = s
					live = append(live, id)
				case op < 6: // an update of a live stream
					id := live[r.IntN(len(live))]
					s := want[id]
					s.done, s.failed = !s.done, r.IntN(2) == 0
					table.set(id, s)
					want[id] = s
				default: // a stream deleted (a few ids that were never there)
					k := r.IntN(len(live))
					id := live[k]
					if r.IntN(20) == 0 {
						id = tc.next(r, &counter) // not live
					} else {
						live[k] = live[len(live)-1]
						live = live[:len(live)-1]
						delete(want, id)
					}
					table.remove(id)
				}
				if table.n != len(want) {
					t.Fatalf("step %d: the table holds %d streams, the map %d", step, table.n, len(want))
				}
				if step%97 == 0 {
					for id, s := range want {
						if got, ok := table.get(id); !ok || got != s {
							t.Fatalf("step %d: stream %d = %+v, %v; want %+v", step, id, got, ok, s)
						}
					}
				}
			}
			for _, id := range []uint32{0, counter + 1, 1 << 31} {
				if _, inMap := want[id]; !inMap {
					if _, ok := table.get(id); ok {
						t.Fatalf("stream %d found, never stored", id)
					}
				}
			}
		})
	}
}

func TestStreamTableStaysHalfEmpty(t *testing.T) {
	var table streamTable
	for id := uint32(1); id <= 1000; id++ {
		table.set(id, stream{})
		if 2*table.n > len(table.slots) {
			t.Fatalf("%d streams in %d slots", table.n, len(table.slots))
		}
	}
	if table.n != 1000 {
		t.Fatalf("len %d", table.n)
	}
}
