package admin

import (
	"net/http"

	"github.com/wasmgate/wasmgate/host/apikeys"
)

// keyRoutes are the /v1/apikeys and /v1/usageplans endpoints.
func (s *server) keyRoutes() []struct {
	pattern string
	h       func(http.ResponseWriter, *http.Request) error
} {
	return []struct {
		pattern string
		h       func(http.ResponseWriter, *http.Request) error
	}{
		{"POST /v1/apikeys", s.withKeys(s.createKey)},
		{"GET /v1/apikeys", s.withKeys(s.listKeys)},
		{"GET /v1/apikeys/{id}", s.withKeys(s.getKey)},
		{"PATCH /v1/apikeys/{id}", s.withKeys(s.updateKey)},
		{"DELETE /v1/apikeys/{id}", s.withKeys(s.deleteKey)},
		{"POST /v1/usageplans", s.withKeys(s.createPlan)},
		{"GET /v1/usageplans", s.withKeys(s.listPlans)},
		{"GET /v1/usageplans/{id}", s.withKeys(s.getPlan)},
		{"PUT /v1/usageplans/{id}", s.withKeys(s.putPlan)},
		{"DELETE /v1/usageplans/{id}", s.withKeys(s.deletePlan)},
		{"PUT /v1/usageplans/{id}/keys/{keyId}", s.withKeys(s.addPlanKey)},
		{"DELETE /v1/usageplans/{id}/keys/{keyId}", s.withKeys(s.removePlanKey)},
	}
}

// withKeys answers 404 when the admin API has no key store, and checks
// that the request has no query parameters.
func (s *server) withKeys(h func(http.ResponseWriter, *http.Request) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.keys == nil {
			return &httpError{http.StatusNotFound, "this gateway has no API key store: API keys and usage plans are served by `wasmgate serve`"}
		}
		if err := query(r); err != nil {
			return err
		}
		return h(w, r)
	}
}

func (s *server) createKey(w http.ResponseWriter, r *http.Request) error {
	var spec apikeys.KeySpec
	if err := decodeJSON(w, r, &spec, false, `{"name":"ci","plan":"p-..."}`); err != nil {
		return err
	}
	k, err := s.keys.CreateKey(spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, k)
	return nil
}

func (s *server) listKeys(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.keys.Keys())
	return nil
}

func (s *server) getKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.keys.Key(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *server) updateKey(w http.ResponseWriter, r *http.Request) error {
	var u apikeys.KeyUpdate
	if err := decodeJSON(w, r, &u, false, `{"enabled":false}`); err != nil {
		return err
	}
	if u == (apikeys.KeyUpdate{}) {
		return badRequest(`nothing to change: send {"enabled":false}, {"enabled":true}, {"name":"..."} or {"description":"..."}`)
	}
	k, err := s.keys.UpdateKey(r.PathValue("id"), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *server) deleteKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.keys.DeleteKey(r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

const planExample = `{"name":"basic","throttle":{"rate":10,"burst":20},"quota":{"limit":10000,"period":"month"},"stages":["prod"]}`

func (s *server) createPlan(w http.ResponseWriter, r *http.Request) error {
	var spec apikeys.PlanSpec
	if err := decodeJSON(w, r, &spec, false, planExample); err != nil {
		return err
	}
	p, err := s.keys.CreatePlan(spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, p)
	return nil
}

func (s *server) listPlans(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.keys.Plans())
	return nil
}

func (s *server) getPlan(w http.ResponseWriter, r *http.Request) error {
	p, err := s.keys.Plan(r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *server) putPlan(w http.ResponseWriter, r *http.Request) error {
	var spec apikeys.PlanSpec
	if err := decodeJSON(w, r, &spec, false, planExample); err != nil {
		return err
	}
	p, err := s.keys.PutPlan(r.PathValue("id"), spec)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *server) deletePlan(w http.ResponseWriter, r *http.Request) error {
	if err := s.keys.DeletePlan(r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *server) addPlanKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.keys.AddKey(r.PathValue("id"), r.PathValue("keyId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *server) removePlanKey(w http.ResponseWriter, r *http.Request) error {
	p, err := s.keys.RemoveKey(r.PathValue("id"), r.PathValue("keyId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}
