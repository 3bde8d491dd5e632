package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// L2 is a second cache level shared by the nodes of a cluster. Get returns
// (nil, false, nil) for a missing key. Set stores e for ttl (the entry's
// remaining lifetime; e carries its own Stored and TTL so that every node
// computes the same Age). Implementations must be safe for concurrent use;
// the Cache bounds each call with Options.L2Timeout and treats every error as
// a miss (see the package documentation).
type L2 interface {
	Get(ctx context.Context, key string) (*Entry, bool, error)
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// NewRedisL2 returns an L2 on Redis. Keys are prefix+key; values use a compact
// binary encoding (see EncodeEntry) and expire with SET ... PX (millisecond
// TTL).
func NewRedisL2(client redis.UniversalClient, prefix string) L2 {
	return &redisL2{client: client, prefix: prefix}
}

type redisL2 struct {
	client redis.UniversalClient
	prefix string
}

func (r *redisL2) Get(ctx context.Context, key string) (*Entry, bool, error) {
	b, err := r.client.Get(ctx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	e, err := DecodeEntry(b)
	if err != nil {
		return nil, false, err
	}
	return e, true, nil
}

func (r *redisL2) Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error {
	ms := ttl.Milliseconds()
	if ms <= 0 {
		return nil // expires within the millisecond: not worth a round trip
	}
	return r.client.Do(ctx, "SET", r.prefix+key, EncodeEntry(nil, e), "PX", strconv.FormatInt(ms, 10)).Err()
}

func (r *redisL2) Delete(ctx context.Context, key string) error {
	return r.client.Del(ctx, r.prefix+key).Err()
}

// entryFormat is the first byte of an encoded entry.
const entryFormat = 1

// EncodeEntry appends the binary encoding of e to dst:
//
//	version byte (1)
//	uvarint status
//	varint  stored, Unix nanoseconds (0 = zero time)
//	varint  ttl, nanoseconds
//	uvarint number of headers, then per header: uvarint len, name, uvarint len, value
//	body (the rest)
func EncodeEntry(dst []byte, e *Entry) []byte {
	var stored int64
	if !e.Stored.IsZero() {
		stored = e.Stored.UnixNano()
	}
	dst = append(dst, entryFormat)
	dst = binary.AppendUvarint(dst, uint64(e.Status))
	dst = binary.AppendVarint(dst, stored)
	dst = binary.AppendVarint(dst, int64(e.TTL))
	dst = binary.AppendUvarint(dst, uint64(len(e.Headers)))
	for _, h := range e.Headers {
		dst = binary.AppendUvarint(dst, uint64(len(h[0])))
		dst = append(dst, h[0]...)
		dst = binary.AppendUvarint(dst, uint64(len(h[1])))
		dst = append(dst, h[1]...)
	}
	return append(dst, e.Body...)
}

// DecodeEntry parses what EncodeEntry produced. The entry does not alias b.
func DecodeEntry(b []byte) (*Entry, error) {
	d := decoder{b: b}
	if v := d.byte(); v != entryFormat {
		if d.err != nil {
			return nil, d.err
		}
		return nil, fmt.Errorf("cache: unknown entry format %d", v)
	}
	e := &Entry{}
	e.Status = int(d.uvarint())
	if ns := d.varint(); ns != 0 {
		e.Stored = time.Unix(0, ns)
	}
	e.TTL = time.Duration(d.varint())
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/2) { // every header takes >= 2 bytes
		d.err = errCorrupt
	}
	if d.err == nil && n > 0 {
		e.Headers = make([][2]string, n)
		for i := range e.Headers {
			e.Headers[i][0] = d.str()
			e.Headers[i][1] = d.str()
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) > 0 {
		e.Body = append([]byte(nil), d.b...)
	}
	return e, nil
}

var errCorrupt = errors.New("cache: corrupt entry encoding")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.err = errCorrupt
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
