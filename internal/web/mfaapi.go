package web

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
)

// routesMFA mounts the second-factor API: a person's own status and
// verification, and the admin's unlock and reset. mfa.Service authorizes
// through the one policy; nothing here decides access.
func (s *Server) routesMFA() {
	if s.MFA == nil {
		return
	}
	s.route("GET /api/v1/mfa", s.api(s.mfaStatus))
	s.route("POST /api/v1/mfa/verify", s.api(s.mfaVerify))
	s.route("POST /api/v1/mfa/browser", s.api(s.mfaBrowserStart))
	s.route("GET /api/v1/mfa/browser/{id}", s.api(s.mfaBrowserStatus))
	s.route("GET /api/v1/users/{email}/mfa", s.api(s.userMFAStatus))
	s.route("POST /api/v1/users/{email}/mfa/unlock", s.api(s.mfaUnlock))
	s.route("DELETE /api/v1/users/{email}/mfa", s.api(s.mfaReset))
}

func mfaActor(a admin.Actor) mfa.Actor {
	return mfa.Actor{Principal: a.Principal, SourceIP: a.SourceIP, UserAgent: a.UserAgent, RequestID: a.RequestID}
}

func (s *Server) mfaStatus(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	st, err := s.MFA.StatusOf(r.Context(), mfaActor(a))
	if err != nil {
		return nil, s.mfaError(err)
	}
	out := statusJSON(st)
	out.WindowSeconds = int64(s.MFA.WindowLeft(a.Principal) / time.Second)
	out.SignedIn = a.Principal.Assurance.SignedIn
	out.Required = s.MFA.Required()
	return out, nil
}

func statusJSON(st *mfa.Status) apitypes.MFAStatus {
	out := apitypes.MFAStatus{Methods: []apitypes.MFAMethod{}, BackupCodes: st.BackupCodes, Locked: st.Locked, Offered: st.Offered}
	for _, m := range st.Methods {
		out.Methods = append(out.Methods, apitypes.MFAMethod{ID: m.ID, Kind: m.Kind, Name: m.Name,
			CreatedAt: apitypes.Time(m.CreatedAt), LastUsedAt: apitypes.Time(m.LastUsedAt)})
	}
	return out
}

func (s *Server) mfaVerify(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var req apitypes.MFAVerifyRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	method, err := s.MFA.Verify(r.Context(), mfaActor(a), req.Code)
	if err != nil {
		return nil, s.mfaError(err)
	}
	return apitypes.MFAVerified{Method: method, WindowSeconds: int64(s.MFA.Window() / time.Second)}, nil
}

func (s *Server) mfaBrowserStart(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	id, err := s.MFA.StartBrowserVerification(r.Context(), mfaActor(a))
	if err != nil {
		return nil, s.mfaError(err)
	}
	return apitypes.MFABrowser{ID: id, Path: "/mfa/cli/" + id}, nil
}

func (s *Server) mfaBrowserStatus(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	id := r.PathValue("id")
	req, err := s.MFA.BrowserVerification(r.Context(), mfaActor(a), id)
	if err != nil {
		return nil, s.mfaError(err)
	}
	if req.SessionID != a.Principal.SessionID {
		return nil, s.mfaError(mfa.ErrExpired) // another session's: as if it did not exist
	}
	return apitypes.MFABrowser{ID: id, Path: "/mfa/cli/" + id, Done: req.Done}, nil
}

func (s *Server) userMFAStatus(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	st, err := s.MFA.UserStatus(r.Context(), mfaActor(a), r.PathValue("email"))
	if err != nil {
		return nil, s.mfaError(err)
	}
	return statusJSON(st), nil
}

func (s *Server) mfaUnlock(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	if err := s.MFA.Unlock(r.Context(), mfaActor(a), r.PathValue("email")); err != nil {
		return nil, s.mfaError(err)
	}
	return apitypes.Status{Status: "unlocked"}, nil
}

func (s *Server) mfaReset(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	if err := s.MFA.Reset(r.Context(), mfaActor(a), r.PathValue("email")); err != nil {
		return nil, s.mfaError(err)
	}
	return apitypes.Status{Status: "reset"}, nil
}

// mfaError maps the service's errors to the API's, as mfa.Answer says.
func (s *Server) mfaError(err error) error {
	var fb *mfa.Forbidden
	if errors.As(err, &fb) {
		return admin.Refusal(fb.Decision, err.Error())
	}
	status, reason := mfa.Answer(err)
	msg := err.Error()
	kind := map[int]admin.Kind{
		http.StatusBadRequest: admin.KindInvalid, http.StatusUnauthorized: admin.KindUnauthorized,
		http.StatusForbidden: admin.KindForbidden, http.StatusTooManyRequests: admin.KindTooMany,
		http.StatusServiceUnavailable: admin.KindUnavailable,
	}[status]
	if kind == 0 { // a bug: no text
		s.logger().Error("admin api: second factor", "err", err)
		msg = "internal error; it was logged"
	}
	return &admin.Error{Kind: kind, Reason: reason, Msg: msg}
}

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}
