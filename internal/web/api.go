package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// routesAPI mounts the admin API. Every handler authenticates the caller and
// passes it to admin.Service, which authorizes through authz.Decide; nothing
// here decides access.
func (s *Server) routesAPI() {
	s.route("GET /api/v1/me", s.api(s.me))
	s.route("GET /api/v1/roles", s.api(s.roles))
	s.route("GET /api/v1/users", s.api(s.listUsers))
	s.route("POST /api/v1/users", s.api(s.createUser))
	s.route("PATCH /api/v1/users/{email}", s.api(s.updateUser))
	s.route("PUT /api/v1/users/{email}/racks/{rack}", s.api(s.setRackRole))
	s.route("GET /api/v1/tokens", s.api(s.listTokens))
	s.route("POST /api/v1/tokens", s.api(s.createToken))
	s.route("DELETE /api/v1/tokens/{id}", s.api(s.revokeToken))
	s.route("GET /api/v1/audit", s.api(s.listAudit))
	s.route("GET /api/v1/audit/export", s.api(s.exportAudit))
	s.route("GET /api/v1/sessions", s.api(s.listSessions))
	s.route("DELETE /api/v1/sessions/{id}", s.api(s.revokeSession))
	s.route("DELETE /api/v1/users/{email}/sessions", s.api(s.revokeUserSessions))
}

// listSessions: ?user=EMAIL or ?user=* (admin); default the caller's own.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	return s.Admin.ListSessions(r.Context(), a, r.URL.Query().Get("user"))
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "session id must be a number"}
	}
	if err := s.Admin.RevokeSession(r.Context(), a, id); err != nil {
		return nil, err
	}
	return apitypes.Status{Status: "revoked"}, nil
}

func (s *Server) revokeUserSessions(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	n, err := s.Admin.RevokeUserSessions(r.Context(), a, r.PathValue("email"))
	if err != nil {
		return nil, err
	}
	return apitypes.RevokedSessions{Sessions: n, Status: "revoked"}, nil
}

type apiFunc func(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error)

// api authenticates the caller and renders the result as JSON, or the
// error in the one error shape (errors.go). Every answer carries the
// gateway's request id in X-Request-Id: a client's X-Request-Id is not
// trusted (unbounded, and it could collide with other records).
func (s *Server) api(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		rid := audit.NewRequestID()
		w.Header().Set("X-Request-Id", rid)
		ip := s.ClientIP.IP(r)
		if wait, blocked := s.Failures.Blocked(ip); blocked && !s.Authn.Known(r.Header.Get("Authorization")) {
			w.Header().Set("Retry-After", strconv.Itoa(max(int((wait+time.Second-1)/time.Second), 1)))
			writeError(w, http.StatusTooManyRequests, rid, apitypes.Error{Error: "too many failed requests from your address; try again later",
				Reason: string(authz.ReasonRateLimited)})
			return
		}
		res, err := s.Authn.Authenticate(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, rid, apitypes.Error{Error: "cannot check credentials right now", Reason: string(authz.ReasonAuthUnavailable)})
			return
		}
		if res.Principal == nil {
			s.Failures.Failed(ip)
			writeError(w, http.StatusUnauthorized, rid, apitypes.Error{Error: "authentication required", Reason: string(res.Reason)})
			return
		}
		a := admin.Actor{Principal: res.Principal, SourceIP: ip, UserAgent: truncate(r.UserAgent(), 256), RequestID: rid}
		if code := r.Header.Get(apitypes.HeaderMFACode); code != "" && s.MFA != nil {
			// A retry with a second factor (apitypes.HeaderMFACode): proved
			// here, it counts for this very request and starts the window.
			method, err := s.MFA.Verify(r.Context(), mfaActor(a), code)
			if err != nil {
				status, body := s.errorBody(s.mfaError(err))
				writeError(w, status, rid, body)
				return
			}
			p := *a.Principal
			p.Assurance = p.Assurance.WithProof(method, time.Now())
			a.Principal = &p
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
		out, err := f(w, r, a)
		if err != nil {
			status, body := s.errorBody(err)
			writeError(w, status, rid, body)
			return
		}
		if _, ok := out.(streamed); ok {
			return
		}
		status := http.StatusOK
		if r.Method == http.MethodPost {
			status = http.StatusCreated
		}
		writeJSON(w, status, out)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	p := a.Principal
	return apitypes.Me{Email: p.Email, Kind: string(p.Kind), Role: p.Role, TokenName: p.TokenName,
		Permissions: authz.Effective(p, "").Strings()}, nil
}

func (s *Server) roles(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var out []apitypes.Role
	for _, rd := range authz.Roles() {
		ps, _ := authz.RolePermissions(rd.Name)
		out = append(out, apitypes.Role{Name: rd.Name, Extends: rd.Extends, Description: rd.Description, Permissions: ps.Strings()})
	}
	return out, nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	return s.Admin.ListUsers(r.Context(), a)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var req apitypes.CreateUserRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return s.Admin.CreateUser(r.Context(), a, req.Email, req.Name, req.Role)
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var ch admin.UserChange
	if err := decode(r, &ch); err != nil {
		return nil, err
	}
	return s.Admin.UpdateUser(r.Context(), a, r.PathValue("email"), ch)
}

func (s *Server) setRackRole(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var req apitypes.SetRackRoleRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if err := s.Admin.SetRackRole(r.Context(), a, r.PathValue("email"), r.PathValue("rack"), req.Role); err != nil {
		return nil, err
	}
	return apitypes.Status{Status: "ok"}, nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	return s.Admin.ListTokens(r.Context(), a, r.URL.Query().Get("all") == "1")
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var req admin.TokenRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	return s.Admin.CreateToken(r.Context(), a, req)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "token id must be a number"}
	}
	if err := s.Admin.RevokeToken(r.Context(), a, id); err != nil {
		return nil, err
	}
	return apitypes.Status{Status: "revoked"}, nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), App: q.Get("app"), Action: q.Get("action"),
		Decision: q.Get("decision"), Rack: q.Get("rack")}
	var err error
	parseTime := func(name string, dst *time.Time) {
		if v := q.Get(name); v != "" && err == nil {
			*dst, err = time.Parse(time.RFC3339, v)
		}
	}
	parseTime("since", &f.Since)
	parseTime("until", &f.Until)
	if v := q.Get("limit"); v != "" && err == nil {
		if f.Limit, err = strconv.Atoi(v); err == nil && (f.Limit < 1 || f.Limit > 1000) {
			err = errors.New("limit must be 1 to 1000")
		}
	}
	if v := q.Get("before"); v != "" && err == nil {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err == nil && f.BeforeID < 1 {
			err = errors.New("before must be an event id")
		}
	}
	if d := f.Decision; d != "" && d != "allow" && d != "deny" && err == nil {
		err = errors.New("decision must be allow or deny")
	}
	if err != nil {
		return nil, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest,
			Msg: "bad filter: " + err.Error() + " (since/until are RFC 3339)"}
	}
	evs, err := s.Admin.ListAudit(r.Context(), a, f)
	if err != nil {
		return nil, err
	}
	return auditEvents(evs), nil
}

// streamed is returned by handlers that wrote the response themselves.
type streamed struct{}

// exportAudit streams an export (JSONL verifiable, or CSV) of the log:
// ?format=jsonl|csv&since=&until=&app=&actor= (times RFC 3339).
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	q := r.URL.Query()
	o := export.Options{Format: q.Get("format"), App: q.Get("app"), Actor: q.Get("actor")}
	if o.Format == "" {
		o.Format = "jsonl"
	}
	var err error
	for name, dst := range map[string]*time.Time{"since": &o.Since, "until": &o.Until} {
		if v := q.Get(name); v != "" && err == nil {
			*dst, err = time.Parse(time.RFC3339, v)
		}
	}
	if err != nil || (o.Format != "jsonl" && o.Format != "csv") {
		return nil, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest,
			Msg: "bad export request: format is jsonl or csv; since/until are RFC 3339"}
	}
	ctype, ext := "application/x-ndjson", "jsonl"
	if o.Format == "csv" {
		ctype, ext = "text/csv; charset=utf-8", "csv"
	}
	if err := s.Admin.ExportAudit(r.Context(), a, o, func() io.Writer {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rack-gateway-audit-%s.%s"`, time.Now().UTC().Format("20060102T150405Z"), ext))
		return w
	}); err != nil {
		var ae *admin.Error
		if errors.As(err, &ae) {
			return nil, err
		}
		s.logger().Warn("audit export cut short", "err", err)
	}
	return streamed{}, nil
}
