// Package routes is the rack API route table as data: every route the rack
// serves (method, path pattern, websocket or not) mapped to the permission it
// needs, whether it mutates, and which request and response fields carry
// secrets. A request that matches no route here is never forwarded.
package routes

import "github.com/rack-gateway/rack-gateway/internal/authz"

// Filter names a response transformation the proxy applies for callers who
// lack the permission to see a secret-bearing field.
type Filter string

// Response filters.
const (
	FilterNone Filter = ""
	// FilterReleaseEnv removes "env" from releases for callers without
	// env:read, and masks secret values for callers without secret:read.
	FilterReleaseEnv Filter = "release-env"
	// FilterResourceURL masks credentials in "url" fields for callers without
	// resource:credentials.
	FilterResourceURL Filter = "resource-url"
	// FilterRegistryPassword masks "password" fields for callers without
	// secret:read.
	FilterRegistryPassword Filter = "registry-password"
)

// Guard names a request check the proxy runs on the request body before
// forwarding.
type Guard string

// Request guards.
const (
	GuardNone Guard = ""
	// GuardReleaseEnv checks env changes in a release create: env:set,
	// protected keys, and masked values sent back unchanged.
	GuardReleaseEnv Guard = "release-env"
)

// Route is one rack API route.
type Route struct {
	// Name is the rack's handler name, e.g. "ProcessExec"; it names the route
	// in decisions, metrics and audit events.
	Name string
	// Method is the HTTP method; websocket routes are GET.
	Method string
	// Path is the pattern: literal segments, "{param}", "{param}.ext" (a
	// parameter with a literal suffix) and a final "{param...}" matching the
	// rest of the path including slashes.
	Path string
	// Websocket routes match only upgrade requests; other routes never match
	// an upgrade request.
	Websocket bool
	// Permission is what the caller needs. Public routes need none.
	Permission authz.Permission
	// Public routes are forwarded without authentication (the rack answers
	// them without auth too).
	Public bool
	// Mutating routes are audited before they are forwarded, and refused if
	// that audit write fails.
	Mutating bool
	// Stream marks routes whose request or response body is bulk data that
	// must be streamed and never inspected.
	Stream bool
	// Foreign routes relay another service's answers (an app's HTTP
	// service, the image registry), not the rack API's: their 401s are that
	// service's, not a sign that the rack refused the gateway.
	Foreign bool
	// AuditParams are request parameters (form, query or header) whose values
	// are safe to record in the audit log.
	AuditParams []string
	// SecretParams are request parameters (form, query or header) that carry
	// secrets; they are never logged and are redacted from audit details.
	SecretParams []string
	// SecretResponse marks responses that carry credentials (e.g. a minted
	// JWT); they are never logged.
	SecretResponse bool
	// Filter is applied to the response body for callers lacking rights.
	Filter Filter
	// Guard is applied to the request before forwarding.
	Guard Guard
}
