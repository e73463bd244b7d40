package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// The admin API answers every refusal in one shape, apitypes.Error:
//
//	{"error": "...", "reason": "missing_permission", "request_id": "...", "mfa_level": "..."}
//
// with Content-Type application/json, Cache-Control no-store and the
// request id also in X-Request-Id; 401 adds WWW-Authenticate (Bearer,
// never Basic), 405 Allow, 429 Retry-After, a second-factor refusal
// Rack-Gateway-Mfa-Required. Unknown /api/ paths and wrong methods get
// that shape too, not net/http's text/plain. (The rack API proxy's own
// refusals, internal/proxy/errors.go, use the same fields.)

// maxAPIBody is the largest request body the admin API reads.
const maxAPIBody = 1 << 20

// apiError is a refusal decided here rather than by a service (a status
// that admin.Kind has no word for, such as 413).
type apiError struct {
	status int
	reason string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

// writeError writes the one error shape.
func writeError(w http.ResponseWriter, status int, requestID string, body apitypes.Error) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if requestID != "" {
		h.Set("X-Request-Id", requestID)
	}
	body.RequestID = requestID
	if body.MFALevel != "" {
		h.Set(apitypes.HeaderMFARequired, body.MFALevel)
	}
	if status == http.StatusUnauthorized {
		// Bearer, never Basic: a Basic challenge makes browsers prompt for
		// and cache credentials.
		h.Set("WWW-Authenticate", `Bearer realm="rack-gateway"`)
	}
	writeJSON(w, status, body)
}

// errorBody turns a handler's error into its status and body. Errors that
// are neither a service's (admin.Error) nor this package's are faults: the
// caller learns only that, the log gets the detail.
func (s *Server) errorBody(err error) (int, apitypes.Error) {
	var ae *admin.Error
	var we *apiError
	switch {
	case errors.As(err, &ae):
		return ae.Kind.Status(), apitypes.Error{Error: ae.Msg, Reason: string(ae.Reason), MFALevel: ae.MFALevel}
	case errors.As(err, &we):
		return we.status, apitypes.Error{Error: we.msg, Reason: we.reason}
	}
	s.logger().Error("admin api: internal error", "err", err)
	return http.StatusInternalServerError, apitypes.Error{Error: "internal error; it was logged", Reason: apitypes.ReasonInternal}
}

// decode reads one JSON object from the body into v: unknown fields,
// trailing data and bodies over maxAPIBody are refused, and nothing is
// changed.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err == nil {
		// encoding/json matches field names case-insensitively and lets
		// a repeated key win: {"role":"ops","Role":"admin"} would be an
		// admin. Only the exact snake_case names, once each, are taken.
		err = exactKeys(data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(v)
	}
	if err == nil {
		// One object only: "{} {}" or "{}x" is not a body we understand.
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return &apiError{status: http.StatusRequestEntityTooLarge, reason: apitypes.ReasonBodyTooLarge,
			msg: "the request body is larger than 1 MiB"}
	}
	return &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "invalid JSON body: " + err.Error()}
}

// exactKeys refuses JSON whose objects have a key that is not lower
// snake_case, or the same key twice. (Malformed JSON is left to the
// decoder, which says where.)
func exactKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	type object struct {
		keys     map[string]bool
		wantsKey bool
	}
	var stack []*object
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch tok {
		case json.Delim('{'):
			if top != nil {
				top.wantsKey = true
			}
			stack = append(stack, &object{keys: map[string]bool{}, wantsKey: true})
			continue
		case json.Delim('['):
			if top != nil {
				top.wantsKey = true
			}
			stack = append(stack, &object{}) // an array: no keys
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].keys != nil {
				stack[len(stack)-1].wantsKey = true
			}
			continue
		}
		if top == nil || top.keys == nil {
			continue
		}
		if top.wantsKey {
			k, _ := tok.(string)
			if !snakeKey(k) {
				return fmt.Errorf("field %q: names are lower snake_case", k)
			}
			if top.keys[k] {
				return fmt.Errorf("field %q given twice", k)
			}
			top.keys[k] = true
			top.wantsKey = false
		} else {
			top.wantsKey = true // a scalar value
		}
	}
}

func snakeKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// apiFallback answers /api/ requests that no route took: 405 with Allow
// when the path is an API route for other methods, else 404.
func (s *Server) apiFallback(w http.ResponseWriter, r *http.Request) {
	rid := audit.NewRequestID()
	if _, pattern := s.apiPaths.Handler(r); pattern != "" {
		methods := s.apiMethods[pattern]
		w.Header().Set("Allow", strings.Join(methods, ", "))
		writeError(w, http.StatusMethodNotAllowed, rid, apitypes.Error{
			Error:  r.Method + " is not allowed here; use " + strings.Join(methods, " or "),
			Reason: apitypes.ReasonMethodNotAllowed})
		return
	}
	writeError(w, http.StatusNotFound, rid, apitypes.Error{Error: "no such API path (see /api/v1/openapi.yaml)",
		Reason: apitypes.ReasonNotFound})
}

// route registers one /api/v1 route ("METHOD /api/v1/...") and remembers
// it for apiFallback and APIRoutes.
func (s *Server) route(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.apiRoutes = append(s.apiRoutes, pattern)
	method, path, _ := strings.Cut(pattern, " ")
	if s.apiMethods == nil {
		s.apiMethods = map[string][]string{}
		s.apiPaths = http.NewServeMux()
	}
	if _, seen := s.apiMethods[path]; !seen {
		s.apiPaths.Handle(path, http.NotFoundHandler())
	}
	s.apiMethods[path] = append(s.apiMethods[path], method)
	if method == http.MethodGet {
		s.apiMethods[path] = append(s.apiMethods[path], http.MethodHead)
	}
	sort.Strings(s.apiMethods[path])
}

// APIRoutes lists the /api/v1 routes registered by Handler, as
// "METHOD /path/{param}" patterns, in registration order.
func (s *Server) APIRoutes() []string {
	return append([]string(nil), s.apiRoutes...)
}
