package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
)

type tokensData struct {
	Tokens      []admin.TokenView
	All         bool
	CanAll      bool // may list and mint everyone's tokens (gateway:tokens)
	Permissions []string
	FollowRole  string
}

// tokens lists the caller's API tokens, or everyone's with ?all=1 (which
// admin.ListTokens allows only with gateway:tokens).
func (c *console) tokens(q *request) {
	all := q.r.URL.Query().Get("all") == "1"
	list, err := c.o.Admin.ListTokens(q.r.Context(), q.actor, all)
	if err != nil {
		c.fail(q, err)
		return
	}
	d := tokensData{Tokens: list, All: all, CanAll: c.grants(q.p, authz.GatewayTokens),
		Permissions: authz.EffectiveAnyRack(q.p).Strings(), FollowRole: "*"}
	c.render(q.w, q.r, q, http.StatusOK, "tokens", "API tokens", "/tokens", d)
}

type tokenCreated struct {
	Token  string
	Detail admin.TokenView
}

// createToken mints a token and shows its secret once, on this response
// only (never stored, never cached: Cache-Control no-store).
func (c *console) createToken(q *request) {
	f := q.r.PostForm
	req := admin.TokenRequest{Name: f.Get("name"), Owner: strings.TrimSpace(f.Get("owner")),
		ExpiresIn: strings.TrimSpace(f.Get("expires_in"))}
	for _, p := range strings.Split(f.Get("permissions"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			req.Permissions = append(req.Permissions, p)
		}
	}
	ct, err := c.o.Admin.CreateToken(q.r.Context(), q.actor, req)
	if err != nil {
		c.done(q, "/tokens", "", err)
		return
	}
	q.w.Header().Set("Cache-Control", "no-store")
	c.render(q.w, q.r, q, http.StatusOK, "token_created", "Token created", "/tokens", tokenCreated{Token: ct.Token, Detail: ct.Detail})
}

func (c *console) revokeToken(q *request) {
	back := "/tokens"
	if q.r.PostForm.Get("all") == "1" {
		back += "?all=1"
	}
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil {
		c.done(q, back, "", &admin.Error{Kind: admin.KindInvalid, Reason: authz.ReasonBadRequest, Msg: "token id must be a number"})
		return
	}
	err = c.o.Admin.RevokeToken(q.r.Context(), q.actor, id)
	c.done(q, back, "Revoked the token.", err)
}
