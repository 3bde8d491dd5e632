package examples

import (
	"encoding/json"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Backend is the petstore's demo upstream: an in-memory pets API.
type Backend struct {
	URL string
	srv *http.Server
}

// Close stops the backend.
func (b *Backend) Close() error { return b.srv.Close() }

type pet struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Tag  string `json:"tag,omitempty"`
}

// StartPetstoreBackend serves the demo pets API on addr ("127.0.0.1:0"
// picks a port): GET/POST /pets, GET /pets/{id}. Every response echoes the
// X-Request-Id it received.
func StartPetstoreBackend(addr string) (*Backend, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	pets := map[int]pet{1: {1, "Rex", "dog"}, 2: {2, "Tom", "cat"}, 3: {3, "Nemo", "fish"}}
	next := 4
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, r *http.Request, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		if id := r.Header.Get("X-Request-Id"); id != "" {
			w.Header().Set("X-Upstream-Request-Id", id)
		}
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /pets", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		list := make([]pet, 0, len(pets))
		for _, p := range pets {
			list = append(list, p)
		}
		mu.Unlock()
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
		if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n >= 0 && n < len(list) {
			list = list[:n]
		}
		reply(w, r, http.StatusOK, list)
	})
	mux.HandleFunc("POST /pets", func(w http.ResponseWriter, r *http.Request) {
		var p pet
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&p); err != nil || strings.TrimSpace(p.Name) == "" {
			reply(w, r, http.StatusBadRequest, map[string]string{"message": "send a JSON pet with a name"})
			return
		}
		mu.Lock()
		p.ID = next
		next++
		pets[p.ID] = p
		mu.Unlock()
		reply(w, r, http.StatusCreated, p)
	})
	mux.HandleFunc("GET /pets/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		mu.Lock()
		p, ok := pets[id]
		mu.Unlock()
		if !ok {
			reply(w, r, http.StatusNotFound, map[string]string{"message": "no pet " + r.PathValue("id")})
			return
		}
		reply(w, r, http.StatusOK, p)
	})
	b := &Backend{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: mux}}
	go b.srv.Serve(ln)
	return b, nil
}
