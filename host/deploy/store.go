package deploy

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bbolt layout: one bucket per kind, JSON values.
var (
	bPlugins     = []byte("plugins")     // digest → PluginInfo
	bBlobs       = []byte("blobs")       // digest → .wasm
	bTags        = []byte("tags")        // name@version → digest
	bDeployments = []byte("deployments") // d-N (seq big-endian) → Deployment
	bDocs        = []byte("docs")        // doc digest → document bytes
	bStages      = []byte("stages")      // name → Stage
	bHistory     = []byte("history")     // seq big-endian → Event
	bMeta        = []byte("meta")        // "schema" → 1

	allBuckets = [][]byte{bPlugins, bBlobs, bTags, bDeployments, bDocs, bStages, bHistory, bMeta}
)

const schemaVersion = 1

// StoreFile is the store's file name in the data directory.
const StoreFile = "wasmgate.db"

func openDB(dir string) (*bolt.DB, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, StoreFile)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w (is another wasmgate using this data directory?)", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get([]byte("schema")); v != nil {
			if n := int(binary.BigEndian.Uint32(v)); n != schemaVersion {
				return fmt.Errorf("%s has schema %d, this wasmgate reads %d: use the wasmgate version that wrote it", path, n, schemaVersion)
			}
			return nil
		}
		return meta.Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, schemaVersion))
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func seqKey(n int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// appendEvents writes events with the next history sequence numbers.
func appendEvents(tx *bolt.Tx, now time.Time, events []Event) ([]Event, error) {
	h := tx.Bucket(bHistory)
	for i := range events {
		n, err := h.NextSequence()
		if err != nil {
			return nil, err
		}
		events[i].Seq = int(n)
		events[i].Time = now
		if err := putJSON(h, seqKey(int(n)), events[i]); err != nil {
			return nil, err
		}
	}
	return events, nil
}
