package apikeys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// StoreFile is the store's file name in the data directory.
const StoreFile = "apikeys.db"

// The bbolt layout: JSON values by id.
var (
	bKeys  = []byte("keys")  // k-… → keyRecord
	bPlans = []byte("plans") // p-… → Plan (without Keys)
)

// keyRecord is a key as stored: with its value's SHA-256, never the value.
type keyRecord struct {
	Key
	Hash string `json:"sha256"` // hex
}

// Options configure a Store.
type Options struct {
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Store holds the API keys and usage plans. Its methods are safe for
// concurrent use; changes are serialized, lookups never wait on them.
type Store struct {
	db  *bolt.DB
	now func() time.Time

	mu    sync.Mutex // serializes changes; guards keys and plans
	keys  map[string]*keyRecord
	plans map[string]*Plan

	idx atomic.Pointer[index]
}

// Open opens (or creates) the store file at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("apikeys: data directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("apikeys: open %s: %w (is another wasmgate using this data directory?)", path, err)
	}
	s := &Store{db: db, now: opts.Now, keys: map[string]*keyRecord{}, plans: map[string]*Plan{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bKeys, bPlans} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bKeys).ForEach(func(k, v []byte) error {
			r := new(keyRecord)
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("key %s: %w", k, err)
			}
			s.keys[r.ID] = r
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bPlans).ForEach(func(k, v []byte) error {
			p := new(Plan)
			if err := json.Unmarshal(v, p); err != nil {
				return fmt.Errorf("plan %s: %w", k, err)
			}
			s.plans[p.ID] = p
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("apikeys: reading %s: %w", path, err)
	}
	for _, r := range s.keys {
		if _, err := hex.DecodeString(r.Hash); err != nil || len(r.Hash) != 2*sha256.Size {
			db.Close()
			return nil, fmt.Errorf("apikeys: reading %s: key %s has a malformed hash", path, r.ID)
		}
	}
	s.rebuild()
	return s, nil
}

// Close closes the store file; lookups keep answering from the last index.
func (s *Store) Close() error { return s.db.Close() }

// idAlphabet makes ids: lower-case letters and digits without look-alikes.
const idAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

func randomID(prefix string) string {
	var b [10]byte
	rand.Read(b[:])
	out := []byte(prefix)
	for _, c := range b {
		out = append(out, idAlphabet[int(c)%len(idAlphabet)]) // 256 % 32 == 0: uniform
	}
	return string(out)
}

const valueAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// generateValue returns 40 random alphanumeric characters (about 238
// bits), by rejection sampling so every character is equally likely.
func generateValue() string {
	out := make([]byte, 0, 40)
	var b [64]byte
	for len(out) < 40 {
		rand.Read(b[:])
		for _, c := range b {
			if int(c) < 4*len(valueAlphabet) && len(out) < 40 { // 248: a multiple of 62
				out = append(out, valueAlphabet[int(c)%len(valueAlphabet)])
			}
		}
	}
	return string(out)
}

// put writes records in one transaction; a nil value deletes.
func (s *Store) put(keys map[string]*keyRecord, plans map[string]*Plan) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for id, r := range keys {
			if err := putJSON(tx.Bucket(bKeys), id, r); err != nil {
				return err
			}
		}
		for id, p := range plans {
			if p != nil {
				stored := *p
				stored.Keys = nil // derived from the keys' plans
				p = &stored
			}
			if err := putJSON(tx.Bucket(bPlans), id, p); err != nil {
				return err
			}
		}
		return nil
	})
}

func putJSON[T any](b *bolt.Bucket, id string, v *T) error {
	if v == nil {
		return b.Delete([]byte(id))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), data)
}

// keyView is the key as shown, with its plans sorted.
func keyView(r *keyRecord) Key {
	k := r.Key
	k.Plans = slices.Clone(r.Plans)
	if k.Plans == nil {
		k.Plans = []string{}
	}
	return k
}

// planView is the plan as shown, with a deep copy of its fields and its
// keys.
func (s *Store) planView(p *Plan) Plan {
	v := *p
	v.PlanSpec = p.PlanSpec.clone()
	v.Keys = []string{}
	for _, id := range slices.Sorted(maps.Keys(s.keys)) {
		if slices.Contains(s.keys[id].Plans, p.ID) {
			v.Keys = append(v.Keys, id)
		}
	}
	return v
}

func (s PlanSpec) clone() PlanSpec {
	c := s
	if s.Throttle != nil {
		t := *s.Throttle
		c.Throttle = &t
	}
	if s.Quota != nil {
		q := *s.Quota
		c.Quota = &q
	}
	c.Stages = slices.Clone(s.Stages)
	c.RouteThrottles = maps.Clone(s.RouteThrottles)
	return c
}

// CreateKey creates a key from spec and returns it with its value.
func (s *Store) CreateKey(spec KeySpec) (CreatedKey, error) {
	if err := checkText("name", spec.Name, 1, maxNameLen); err != nil {
		return CreatedKey{}, err
	}
	if err := checkText("description", spec.Description, 0, maxDescLen); err != nil {
		return CreatedKey{}, err
	}
	value := spec.Value
	if value == "" {
		value = generateValue()
	} else if err := CheckValue(value); err != nil {
		return CreatedKey{}, err
	}
	sum := sha256.Sum256([]byte(value))
	hash := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.keys {
		if r.Hash == hash {
			return CreatedKey{}, errorf(ErrConflict, "another key (%s) has this value: choose another, or leave it out to have one generated", r.ID)
		}
	}
	r := &keyRecord{Key: Key{ID: randomID("k-"), Name: spec.Name, Description: spec.Description, Enabled: true, Created: s.now().UTC()}, Hash: hash}
	for s.keys[r.ID] != nil {
		r.ID = randomID("k-")
	}
	if spec.Enabled != nil {
		r.Enabled = *spec.Enabled
	}
	if spec.Plan != "" {
		if s.plans[spec.Plan] == nil {
			return CreatedKey{}, errorf(ErrNotFound, "no usage plan %s: create it first or leave plan out", spec.Plan)
		}
		r.Plans = []string{spec.Plan}
	}
	if err := s.put(map[string]*keyRecord{r.ID: r}, nil); err != nil {
		return CreatedKey{}, fmt.Errorf("apikeys: saving key %s: %w", r.ID, err)
	}
	s.keys[r.ID] = r
	s.rebuild()
	return CreatedKey{Key: keyView(r), Value: value}, nil
}

// Keys lists the keys by id.
func (s *Store) Keys() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, 0, len(s.keys))
	for _, id := range slices.Sorted(maps.Keys(s.keys)) {
		out = append(out, keyView(s.keys[id]))
	}
	return out
}

// Key returns the key with id.
func (s *Store) Key(id string) (Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.keys[id]
	if r == nil {
		return Key{}, errorf(ErrNotFound, "no api key %s (wasmgate apikeys list shows them)", id)
	}
	return keyView(r), nil
}

// UpdateKey renames, describes, enables or disables a key.
func (s *Store) UpdateKey(id string, u KeyUpdate) (Key, error) {
	if u.Name != nil {
		if err := checkText("name", *u.Name, 1, maxNameLen); err != nil {
			return Key{}, err
		}
	}
	if u.Description != nil {
		if err := checkText("description", *u.Description, 0, maxDescLen); err != nil {
			return Key{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.keys[id]
	if old == nil {
		return Key{}, errorf(ErrNotFound, "no api key %s (wasmgate apikeys list shows them)", id)
	}
	r := *old
	if u.Name != nil {
		r.Name = *u.Name
	}
	if u.Description != nil {
		r.Description = *u.Description
	}
	if u.Enabled != nil {
		r.Enabled = *u.Enabled
	}
	if err := s.put(map[string]*keyRecord{id: &r}, nil); err != nil {
		return Key{}, fmt.Errorf("apikeys: saving key %s: %w", id, err)
	}
	s.keys[id] = &r
	s.rebuild()
	return keyView(&r), nil
}

// DeleteKey deletes a key (and its plan memberships).
func (s *Store) DeleteKey(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[id] == nil {
		return errorf(ErrNotFound, "no api key %s (wasmgate apikeys list shows them)", id)
	}
	if err := s.put(map[string]*keyRecord{id: nil}, nil); err != nil {
		return fmt.Errorf("apikeys: deleting key %s: %w", id, err)
	}
	delete(s.keys, id)
	s.rebuild()
	return nil
}

// CreatePlan creates a usage plan.
func (s *Store) CreatePlan(spec PlanSpec) (Plan, error) {
	spec = spec.clone()
	if err := spec.normalize(); err != nil {
		return Plan{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Plan{ID: randomID("p-"), PlanSpec: spec, Created: s.now().UTC()}
	for s.plans[p.ID] != nil {
		p.ID = randomID("p-")
	}
	if err := s.put(nil, map[string]*Plan{p.ID: p}); err != nil {
		return Plan{}, fmt.Errorf("apikeys: saving plan %s: %w", p.ID, err)
	}
	s.plans[p.ID] = p
	s.rebuild()
	return s.planView(p), nil
}

// Plans lists the usage plans by id.
func (s *Store) Plans() []Plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Plan, 0, len(s.plans))
	for _, id := range slices.Sorted(maps.Keys(s.plans)) {
		out = append(out, s.planView(s.plans[id]))
	}
	return out
}

// Plan returns the usage plan with id.
func (s *Store) Plan(id string) (Plan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plans[id]
	if p == nil {
		return Plan{}, noPlan(id)
	}
	return s.planView(p), nil
}

func noPlan(id string) error {
	return errorf(ErrNotFound, "no usage plan %s (wasmgate usageplans list shows them)", id)
}

// PutPlan replaces usage plan id's settings. Its keys stay; it is refused
// when new stages would give one of them two plans for a stage.
func (s *Store) PutPlan(id string, spec PlanSpec) (Plan, error) {
	spec = spec.clone()
	if err := spec.normalize(); err != nil {
		return Plan{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.plans[id]
	if old == nil {
		return Plan{}, noPlan(id)
	}
	for _, kid := range slices.Sorted(maps.Keys(s.keys)) {
		r := s.keys[kid]
		if !slices.Contains(r.Plans, id) {
			continue
		}
		if err := s.checkOverlap(r, id, spec.Stages); err != nil {
			return Plan{}, err
		}
	}
	p := &Plan{ID: id, PlanSpec: spec, Created: old.Created}
	if err := s.put(nil, map[string]*Plan{id: p}); err != nil {
		return Plan{}, fmt.Errorf("apikeys: saving plan %s: %w", id, err)
	}
	s.plans[id] = p
	s.rebuild()
	return s.planView(p), nil
}

// checkOverlap refuses plan id with stages for key r when another of r's
// plans covers one of those stages.
func (s *Store) checkOverlap(r *keyRecord, id string, stages []string) error {
	for _, other := range r.Plans {
		q := s.plans[other]
		if other == id || q == nil {
			continue
		}
		if st := overlap(stages, q.Stages); st != "" {
			return errorf(ErrConflict, "key %s is in usage plan %s, which also covers %s (its stages: %s): a key has at most one plan per stage; remove it from %s first or use stages apart",
				r.ID, other, st, stagesText(q.Stages), other)
		}
	}
	return nil
}

// DeletePlan deletes a usage plan that has no keys.
func (s *Store) DeletePlan(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.plans[id] == nil {
		return noPlan(id)
	}
	if v := s.planView(s.plans[id]); len(v.Keys) > 0 {
		return errorf(ErrConflict, "usage plan %s has %d keys (%s): remove them from it first (wasmgate usageplans remove-key %s KEY_ID)",
			id, len(v.Keys), shortList(v.Keys), id)
	}
	if err := s.put(nil, map[string]*Plan{id: nil}); err != nil {
		return fmt.Errorf("apikeys: deleting plan %s: %w", id, err)
	}
	delete(s.plans, id)
	s.rebuild()
	return nil
}

func shortList(ids []string) string {
	if len(ids) > 5 {
		return fmt.Sprintf("%s, … and %d more", strings.Join(ids[:5], ", "), len(ids)-5)
	}
	return strings.Join(ids, ", ")
}

// AddKey puts key keyID in usage plan planID (nothing changes when it is
// in it already). It is refused when another of the key's plans covers
// one of the plan's stages.
func (s *Store) AddKey(planID, keyID string) (Plan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plans[planID]
	if p == nil {
		return Plan{}, noPlan(planID)
	}
	old := s.keys[keyID]
	if old == nil {
		return Plan{}, errorf(ErrNotFound, "no api key %s (wasmgate apikeys list shows them)", keyID)
	}
	if slices.Contains(old.Plans, planID) {
		return s.planView(p), nil
	}
	if err := s.checkOverlap(old, planID, p.Stages); err != nil {
		return Plan{}, err
	}
	r := *old
	r.Plans = append(slices.Clone(old.Plans), planID)
	slices.Sort(r.Plans)
	if err := s.put(map[string]*keyRecord{keyID: &r}, nil); err != nil {
		return Plan{}, fmt.Errorf("apikeys: saving key %s: %w", keyID, err)
	}
	s.keys[keyID] = &r
	s.rebuild()
	return s.planView(p), nil
}

// RemoveKey takes key keyID out of usage plan planID.
func (s *Store) RemoveKey(planID, keyID string) (Plan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.plans[planID]
	if p == nil {
		return Plan{}, noPlan(planID)
	}
	old := s.keys[keyID]
	if old == nil || !slices.Contains(old.Plans, planID) {
		return Plan{}, errorf(ErrNotFound, "api key %s is not in usage plan %s", keyID, planID)
	}
	r := *old
	r.Plans = slices.DeleteFunc(slices.Clone(old.Plans), func(id string) bool { return id == planID })
	if err := s.put(map[string]*keyRecord{keyID: &r}, nil); err != nil {
		return Plan{}, fmt.Errorf("apikeys: saving key %s: %w", keyID, err)
	}
	s.keys[keyID] = &r
	s.rebuild()
	return s.planView(p), nil
}
