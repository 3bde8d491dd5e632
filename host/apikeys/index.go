package apikeys

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// index is what the request path reads: immutable, replaced whole.
type index struct {
	byHash map[[sha256.Size]byte]*entry
}

// entry is one enabled key's answers, pre-encoded.
type entry struct {
	id      string
	byStage map[string][]byte // the document with the plan for that stage
	all     []byte            // the document with its plan for every stage, or nil
	noPlan  []byte            // the document with "plan": null
}

// Document is the JSON answer of wasmgate.api_key_verify.
type Document struct {
	ID   string        `json:"id"`
	Name string        `json:"name"`
	Plan *PlanDocument `json:"plan"`
}

// PlanDocument is a usage plan as plugins see it.
type PlanDocument struct {
	ID             string              `json:"id"`
	Name           string              `json:"name"`
	Throttle       *Throttle           `json:"throttle"`
	Quota          *Quota              `json:"quota"`
	RouteThrottles map[string]Throttle `json:"route_throttles,omitempty"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("apikeys: " + err.Error()) // plain structs of strings and numbers
	}
	return b
}

// rebuild swaps in an index of the current keys and plans; s.mu is held.
func (s *Store) rebuild() {
	idx := &index{byHash: make(map[[sha256.Size]byte]*entry, len(s.keys))}
	for _, r := range s.keys {
		if !r.Enabled {
			continue
		}
		var h [sha256.Size]byte
		if _, err := hex.Decode(h[:], []byte(r.Hash)); err != nil {
			continue // checked at Open; new records are written by us
		}
		e := &entry{id: r.ID, noPlan: mustJSON(Document{ID: r.ID, Name: r.Name})}
		for _, pid := range r.Plans {
			p := s.plans[pid]
			if p == nil {
				continue
			}
			doc := mustJSON(Document{ID: r.ID, Name: r.Name, Plan: &PlanDocument{
				ID: p.ID, Name: p.Name, Throttle: p.Throttle, Quota: p.Quota, RouteThrottles: p.RouteThrottles,
			}})
			if len(p.Stages) == 0 {
				e.all = doc
				continue
			}
			if e.byStage == nil {
				e.byStage = map[string][]byte{}
			}
			for _, st := range p.Stages {
				e.byStage[st] = doc
			}
		}
		idx.byHash[h] = e
	}
	s.idx.Store(idx)
}

// VerifyAPIKey looks up the enabled key whose value is value, for stage:
// its id and its JSON Document, whose plan is the key's plan for that
// stage or null. ok is false for an unknown or disabled key. It is a map
// read on an immutable index, with no allocation; the returned document
// is shared and must not be modified.
func (s *Store) VerifyAPIKey(stage, value string) (id string, doc []byte, ok bool) {
	if len(value) < MinValueLen || len(value) > MaxValueLen {
		return "", nil, false // no key has such a value: do not even hash it
	}
	var buf [MaxValueLen]byte
	h := sha256.Sum256(buf[:copy(buf[:], value)])
	e := s.idx.Load().byHash[h]
	if e == nil {
		return "", nil, false
	}
	if d, ok := e.byStage[stage]; ok {
		return e.id, d, true
	}
	if e.all != nil {
		return e.id, e.all, true
	}
	return e.id, e.noPlan, true
}
