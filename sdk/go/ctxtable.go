package sdk

// httpTable maps HTTP context ids to their entries without a Go map on
// the hot path: map operations and the allocations they make cost about a
// microsecond each in a standard-Go guest, several times the cost of the
// whole host call. Hosts number contexts sequentially, so the live ones
// fall in a window of ids and a direct-mapped array indexed by the low
// bits of the id almost never collides; an id whose slot is taken goes to
// a map.
type httpTable struct {
	slots [httpSlots]httpSlot
	spill map[uint32]*httpEntry
	n     int
}

const httpSlots = 256 // a power of two

type httpSlot struct {
	id uint32 // 0: free (0 is never an HTTP context id)
	e  httpEntry
}

// get returns the entry of id, or nil.
func (t *httpTable) get(id uint32) *httpEntry {
	if s := &t.slots[id&(httpSlots-1)]; s.id == id && id != 0 {
		return &s.e
	}
	if t.spill != nil {
		return t.spill[id]
	}
	return nil
}

// claim returns the zero entry of a new id when its slot is free, or nil.
// It runs for every request and is inlined.
func (t *httpTable) claim(id uint32) *httpEntry {
	if s := &t.slots[id&(httpSlots-1)]; s.id == 0 && id != 0 {
		s.id = id
		t.n++
		return &s.e
	}
	return nil
}

// entry returns the entry of id, adding a zero one when there is none.
func (t *httpTable) entry(id uint32) *httpEntry {
	if e := t.claim(id); e != nil {
		return e
	}
	return t.entrySlow(id)
}

// entrySlow is entry when the slot is taken: by id itself or by another
// id (spill).
//
//go:noinline
func (t *httpTable) entrySlow(id uint32) *httpEntry {
	if p := t.get(id); p != nil {
		return p
	}
	t.n++
	if t.spill == nil {
		t.spill = map[uint32]*httpEntry{}
	}
	p := new(httpEntry) // only a spilled entry is allocated
	t.spill[id] = p
	return p
}

// put adds or replaces the entry of id and returns where it is stored.
func (t *httpTable) put(id uint32, e httpEntry) *httpEntry {
	p := t.entry(id)
	*p = e
	return p
}

// delete removes the entry of id, reporting whether there was one.
func (t *httpTable) delete(id uint32) bool {
	if s := &t.slots[id&(httpSlots-1)]; s.id == id && id != 0 {
		*s = httpSlot{}
		t.n--
		return true
	}
	return t.spill != nil && t.spillDelete(id)
}

func (t *httpTable) spillDelete(id uint32) bool {
	if _, ok := t.spill[id]; !ok {
		return false
	}
	delete(t.spill, id)
	t.n--
	return true
}

// len returns the number of live entries.
func (t *httpTable) len() int { return t.n }
