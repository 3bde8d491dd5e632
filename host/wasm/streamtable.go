package wasm

// streamTable maps an instance's live stream context ids to streams. Ids
// are handed out sequentially, so the live ones fall in a window and a
// direct-mapped array indexed by the id's low bits almost never collides;
// a colliding id goes to a map. A Go map insert and delete for every
// stream of every plugin was a visible share of a plugin's host cost.
type streamTable struct {
	slots [streamSlots]*Stream
	spill map[uint32]*Stream
}

const streamSlots = 64 // a power of two

func (t *streamTable) get(id uint32) (*Stream, bool) {
	if s := t.slots[id&(streamSlots-1)]; s != nil && s.id == id {
		return s, true
	}
	s, ok := t.spill[id]
	return s, ok
}

func (t *streamTable) put(s *Stream) {
	if slot := &t.slots[s.id&(streamSlots-1)]; *slot == nil {
		*slot = s
		return
	}
	if t.spill == nil {
		t.spill = map[uint32]*Stream{}
	}
	t.spill[s.id] = s
}

func (t *streamTable) delete(id uint32) {
	if slot := &t.slots[id&(streamSlots-1)]; *slot != nil && (*slot).id == id {
		*slot = nil
		return
	}
	delete(t.spill, id)
}

// each calls fn for every stream.
func (t *streamTable) each(fn func(*Stream)) {
	for _, s := range t.slots {
		if s != nil {
			fn(s)
		}
	}
	for _, s := range t.spill {
		fn(s)
	}
}
