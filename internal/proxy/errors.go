package proxy

import (
	"encoding/json"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// errorBody is the JSON shape of every refusal. The convox CLI prints the
// "error" field, so it is written as one line saying what to do next.
type errorBody struct {
	Error     string       `json:"error"`
	Reason    authz.Reason `json:"reason"`
	RequestID string       `json:"request_id,omitempty"`
	// MFALevel is the second factor needed (apitypes.HeaderMFARequired).
	MFALevel string `json:"mfa_level,omitempty"`
}

func writeError(w http.ResponseWriter, status int, reason authz.Reason, requestID, msg string) {
	writeErrorMFA(w, status, reason, requestID, msg, "")
}

// writeErrorMFA is writeError for a refusal that names the second factor
// needed (apitypes.HeaderMFARequired).
func writeErrorMFA(w http.ResponseWriter, status int, reason authz.Reason, requestID, msg, mfaLevel string) {
	h := w.Header()
	if mfaLevel != "" {
		h.Set(apitypes.HeaderMFARequired, mfaLevel)
	}
	h.Set("Content-Type", "application/json")
	hardenResponse(h, false)
	h.Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		// Bearer, never Basic: a Basic challenge makes browsers prompt for
		// and cache credentials, which any site could then ride on.
		h.Set("WWW-Authenticate", `Bearer realm="rack-gateway"`)
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: msg, Reason: reason, RequestID: requestID, MFALevel: mfaLevel})
}
