package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Gateway responses, shaped like AWS API Gateway's: a JSON body with a
// message and the request id, which is also in the X-Request-Id header.
type gatewayError struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

func writeError(w http.ResponseWriter, status int, reqID, msg string) {
	b, _ := json.Marshal(gatewayError{Message: msg, RequestID: reqID})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Set("X-Request-Id", reqID)
	h.Set("X-Wasmgate-Error", http.StatusText(status))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
