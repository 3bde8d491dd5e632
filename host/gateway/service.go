package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/wasmgate/wasmgate/host/config"
)

// ServiceStore is the key-value store behind "service" integrations: direct
// CRUD on a table, mapped from the route (GET → get, PUT → put, DELETE →
// delete, scan → list).
type ServiceStore interface {
	Get(table, key string) ([]byte, bool, error)
	Put(table, key string, value []byte) error
	Delete(table, key string) (bool, error)
	Scan(table, prefix string, limit int) ([]Item, error)
}

// Item is one key and value of a table.
type Item struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// BoltStore is the embedded ServiceStore (go.etcd.io/bbolt): one bucket per
// table in one file.
type BoltStore struct{ db *bolt.DB }

// OpenBoltStore opens (creating) the store file.
func OpenBoltStore(path string) (*BoltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("service store %s: %w (is another wasmgate using this data directory?)", path, err)
	}
	return &BoltStore{db: db}, nil
}

// Close closes the store.
func (s *BoltStore) Close() error { return s.db.Close() }

// Get implements ServiceStore.
func (s *BoltStore) Get(table, key string) (v []byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(table))
		if b == nil {
			return nil
		}
		if got := b.Get([]byte(key)); got != nil {
			v, ok = append([]byte(nil), got...), true
		}
		return nil
	})
	return v, ok, err
}

// Put implements ServiceStore.
func (s *BoltStore) Put(table, key string, value []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(table))
		if err != nil {
			return err
		}
		return b.Put([]byte(key), value)
	})
}

// Delete implements ServiceStore.
func (s *BoltStore) Delete(table, key string) (found bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(table))
		if b == nil || b.Get([]byte(key)) == nil {
			return nil
		}
		found = true
		return b.Delete([]byte(key))
	})
	return found, err
}

// Scan implements ServiceStore.
func (s *BoltStore) Scan(table, prefix string, limit int) (items []Item, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(table))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		p := []byte(prefix)
		for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p) && len(items) < limit; k, v = c.Next() {
			items = append(items, Item{Key: string(k), Value: jsonValue(v)})
		}
		return nil
	})
	return items, err
}

// jsonValue embeds a stored value in a JSON listing: as is when it is JSON,
// as a string otherwise.
func jsonValue(v []byte) json.RawMessage {
	if json.Valid(v) {
		return append(json.RawMessage(nil), v...)
	}
	var s string
	if utf8.Valid(v) {
		s = string(v)
	} else {
		s = base64.StdEncoding.EncodeToString(v)
	}
	b, _ := json.Marshal(s)
	return b
}

type serviceIntegration struct {
	store ServiceStore
	spec  config.ServiceSpec
	to    time.Duration
}

func (s *serviceIntegration) timeout() time.Duration { return s.to }

const maxScan = 1000

func (s *serviceIntegration) call(ctx context.Context, rc *reqCtx, out *http.Request) (*http.Response, error) {
	key := expandKey(s.spec.Key, rc)
	action := s.spec.Action
	if action == "" {
		switch out.Method {
		case http.MethodGet, http.MethodHead:
			action = "get"
			if key == "" {
				action = "scan"
			}
		case http.MethodPut, http.MethodPost:
			action = "put"
		case http.MethodDelete:
			action = "delete"
		}
	}
	switch action {
	case "get":
		v, ok, err := s.store.Get(s.spec.Table, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			return jsonResponse(http.StatusNotFound, map[string]string{"message": "no item " + strconv.Quote(key) + " in " + s.spec.Table}), nil
		}
		resp := rawResponse(http.StatusOK, v)
		if json.Valid(v) {
			resp.Header.Set("Content-Type", "application/json")
		} else {
			resp.Header.Set("Content-Type", "application/octet-stream")
		}
		return resp, nil
	case "put":
		if key == "" {
			return jsonResponse(http.StatusBadRequest, map[string]string{"message": "the route gives no key for the item"}), nil
		}
		var body []byte
		if out.Body != nil {
			b, err := io.ReadAll(out.Body)
			if err != nil {
				return nil, err
			}
			body = b
		}
		if err := s.store.Put(s.spec.Table, key, body); err != nil {
			return nil, err
		}
		return jsonResponse(http.StatusOK, map[string]string{"key": key, "table": s.spec.Table}), nil
	case "delete":
		found, err := s.store.Delete(s.spec.Table, key)
		if err != nil {
			return nil, err
		}
		if !found {
			return jsonResponse(http.StatusNotFound, map[string]string{"message": "no item " + strconv.Quote(key) + " in " + s.spec.Table}), nil
		}
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody}, nil
	case "scan":
		limit := maxScan
		if l, err := strconv.Atoi(out.URL.Query().Get("limit")); err == nil && l > 0 && l < maxScan {
			limit = l
		}
		items, err := s.store.Scan(s.spec.Table, out.URL.Query().Get("prefix"), limit)
		if err != nil {
			return nil, err
		}
		if items == nil {
			items = []Item{}
		}
		return jsonResponse(http.StatusOK, map[string]any{"items": items, "count": len(items)}), nil
	}
	return nil, errors.New("service integration: unknown action " + action)
}

func expandKey(tmpl string, rc *reqCtx) string {
	var b strings.Builder
	for len(tmpl) > 0 {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			break
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			b.WriteString(tmpl)
			break
		}
		b.WriteString(tmpl[:i])
		b.WriteString(rc.param(strings.TrimSuffix(tmpl[i+1:i+j], "+")))
		tmpl = tmpl[i+j+1:]
	}
	return b.String()
}

func rawResponse(status int, body []byte) *http.Response {
	return &http.Response{
		StatusCode:    status,
		Header:        http.Header{"Content-Length": {strconv.Itoa(len(body))}},
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
	}
}

func jsonResponse(status int, v any) *http.Response {
	b, _ := json.Marshal(v)
	r := rawResponse(status, append(b, '\n'))
	r.Header.Set("Content-Type", "application/json")
	return r
}
