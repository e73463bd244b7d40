package console

import (
	"errors"
	"net/http"
	"net/url"
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
	// Form is what the create form shows: empty, or what was sent when
	// it was refused (Error) and is to be corrected.
	Form  tokenForm
	Error string
	// ScopeError: the refusal is about the permissions asked for.
	ScopeError bool
}

// tokenForm is the create form's input.
type tokenForm struct {
	Name, Permissions, ExpiresIn, Owner string
}

// tokens lists the caller's API tokens, or everyone's with ?all=1 (which
// admin.ListTokens allows only with gateway:tokens).
func (c *console) tokens(q *request) {
	c.tokensPage(q, http.StatusOK, q.r.URL.Query().Get("all") == "1", tokensData{})
}

// tokensPage renders the tokens page with d's form and error.
func (c *console) tokensPage(q *request, status int, all bool, d tokensData) {
	list, err := c.o.Admin.ListTokens(q.r.Context(), q.actor, all)
	if err != nil {
		c.fail(q, err)
		return
	}
	d.Tokens, d.All, d.CanAll = list, all, c.grants(q.p, authz.GatewayTokens)
	d.Permissions, d.FollowRole = authz.EffectiveAnyRack(q.p).Strings(), "*"
	c.render(q.w, q.r, q, status, "tokens", "API tokens", "/tokens", d)
}

type tokenCreated struct {
	Token  string
	Detail admin.TokenView
	// RackURL is RACK_URL for the convox CLI on the default rack;
	// OtherRacks the same for the others (their /racks/NAME path).
	RackURL    string
	OtherRacks []rackURL
	// GatewayURL is RACK_GATEWAY_URL for the rack-gateway CLI in CI.
	GatewayURL string
}

type rackURL struct{ Rack, URL string }

// createToken mints a token and shows its secret once, on this response
// only (never stored, never cached: Cache-Control no-store). A request
// the form can fix (a scope beyond the creator's or owner's rights, bad
// input) is answered with the tokens page showing what was sent and why
// it was refused; a refusal by the policy is a page of its own (or the
// step-up, see fail).
func (c *console) createToken(q *request) {
	f := q.r.PostForm
	in := tokenForm{Name: f.Get("name"), Permissions: f.Get("permissions"), Owner: strings.TrimSpace(f.Get("owner")),
		ExpiresIn: strings.TrimSpace(f.Get("expires_in"))}
	req := admin.TokenRequest{Name: in.Name, Owner: in.Owner, ExpiresIn: in.ExpiresIn}
	for _, p := range strings.Split(in.Permissions, ",") {
		if p = strings.TrimSpace(p); p != "" {
			req.Permissions = append(req.Permissions, p)
		}
	}
	ct, err := c.o.Admin.CreateToken(q.r.Context(), q.actor, req)
	if err != nil {
		if status, scope, ok := tokenFormError(err); ok {
			c.tokensPage(q, status, f.Get("all") == "1", tokensData{Form: in, Error: err.Error(), ScopeError: scope})
			return
		}
		c.done(q, "/tokens", "", err)
		return
	}
	base := c.publicURL(q.r)
	d := tokenCreated{Token: ct.Token, Detail: ct.Detail, GatewayURL: base.String()}
	for i, rack := range c.o.Racks {
		u := *base
		u.User = url.UserPassword("convox", ct.Token)
		if i == 0 {
			u.Path += "/rack"
			d.RackURL = u.String()
			continue
		}
		u.Path += "/racks/" + rack
		d.OtherRacks = append(d.OtherRacks, rackURL{rack, u.String()})
	}
	q.w.Header().Set("Cache-Control", "no-store")
	c.render(q.w, q.r, q, http.StatusOK, "token_created", "Token created", "/tokens", d)
}

// tokenFormError reports whether a refusal of CreateToken is about the
// form's input, to be shown on the form (and with which status), and
// whether it is about the permissions asked for.
func tokenFormError(err error) (status int, scope, ok bool) {
	var ae *admin.Error
	if !errors.As(err, &ae) {
		return 0, false, false
	}
	switch {
	case ae.Reason == authz.ReasonScopeTooWide: // the form asked for more than the creator may give
		return http.StatusForbidden, true, true
	case ae.Kind == admin.KindInvalid:
		return http.StatusBadRequest, false, true
	case ae.Kind == admin.KindNotFound: // the owner named
		return http.StatusBadRequest, false, true
	}
	return 0, false, false
}

// publicURL is the gateway's base URL as its users reach it: the
// configured public URL, else (no public URL configured) the scheme the
// console is served with and the request's host.
func (c *console) publicURL(r *http.Request) *url.URL {
	if u, err := url.Parse(c.o.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimRight(u.Path, "/")}
	}
	scheme := "http"
	if c.o.Secure || r.TLS != nil {
		scheme = "https"
	}
	return &url.URL{Scheme: scheme, Host: r.Host}
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
