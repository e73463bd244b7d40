package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// routesApprovals mounts the deploy approval API: a CI token's request,
// the queue, and people's approvals and rejections. approval.Service
// authorizes through the one policy; nothing here decides access.
func (s *Server) routesApprovals() {
	if s.Approvals == nil {
		return
	}
	s.route("POST /api/v1/deploy-approvals", s.api(s.requestDeploy))
	s.route("GET /api/v1/deploy-approvals", s.api(s.listDeploys))
	s.route("GET /api/v1/deploy-approvals/{id}", s.api(s.getDeploy))
	s.route("POST /api/v1/deploy-approvals/{id}/approve", s.api(s.decideDeploy(true)))
	s.route("POST /api/v1/deploy-approvals/{id}/reject", s.api(s.decideDeploy(false)))
}

func approvalActor(a admin.Actor) approval.Actor {
	return approval.Actor{Principal: a.Principal, SourceIP: a.SourceIP, UserAgent: a.UserAgent, RequestID: a.RequestID}
}

func (s *Server) requestDeploy(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	var in apitypes.DeployRequestInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	d, err := s.Approvals.Request(r.Context(), approvalActor(a), in)
	if err != nil {
		return nil, s.approvalError(err)
	}
	return s.Approvals.View(r.Context(), d), nil
}

func (s *Server) listDeploys(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	q := r.URL.Query()
	f := store.DeployFilter{Status: q.Get("status"), Rack: q.Get("rack"), App: q.Get("app")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "limit must be 1 to 1000"}
		}
		f.Limit = n
	}
	switch f.Status {
	case "", store.DeployPending, store.DeployApproved, store.DeployRejected, store.DeployExpired, store.DeployDeployed:
	default:
		return nil, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest,
			Msg: "status must be pending, approved, rejected, expired or deployed"}
	}
	ds, err := s.Approvals.List(r.Context(), approvalActor(a), f)
	if err != nil {
		return nil, s.approvalError(err)
	}
	out := make([]apitypes.DeployRequest, 0, len(ds))
	for i := range ds {
		out = append(out, s.Approvals.View(r.Context(), &ds[i]))
	}
	return out, nil
}

func deployID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "request id must be a number"}
	}
	return id, nil
}

func (s *Server) getDeploy(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
	id, err := deployID(r)
	if err != nil {
		return nil, err
	}
	d, err := s.Approvals.Get(r.Context(), approvalActor(a), id)
	if err != nil {
		return nil, s.approvalError(err)
	}
	return s.Approvals.View(r.Context(), d), nil
}

func (s *Server) decideDeploy(approve bool) func(http.ResponseWriter, *http.Request, admin.Actor) (any, error) {
	return func(w http.ResponseWriter, r *http.Request, a admin.Actor) (any, error) {
		id, err := deployID(r)
		if err != nil {
			return nil, err
		}
		var in apitypes.DeployDecision
		if r.ContentLength != 0 {
			if err := decode(r, &in); err != nil {
				return nil, err
			}
		}
		decide := s.Approvals.Reject
		if approve {
			decide = s.Approvals.Approve
		}
		d, err := decide(r.Context(), approvalActor(a), id, in.Comment)
		if err != nil {
			return nil, s.approvalError(err)
		}
		return s.Approvals.View(r.Context(), d), nil
	}
}

// approvalError maps the service's errors to the API's, as
// approval.Answer says.
func (s *Server) approvalError(err error) error {
	var fb *approval.Forbidden
	if errors.As(err, &fb) {
		return admin.Refusal(fb.Decision, err.Error())
	}
	status, reason := approval.Answer(err)
	kind := map[int]admin.Kind{
		http.StatusBadRequest: admin.KindInvalid, http.StatusForbidden: admin.KindForbidden,
		http.StatusNotFound: admin.KindNotFound, http.StatusConflict: admin.KindConflict,
		http.StatusServiceUnavailable: admin.KindUnavailable,
	}[status]
	msg := err.Error()
	if kind == 0 {
		s.logger().Error("admin api: deploy approvals", "err", err)
		msg = "internal error; it was logged"
	}
	return &admin.Error{Kind: kind, Reason: reason, Msg: msg}
}
