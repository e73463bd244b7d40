package web

import (
	"encoding/hex"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// auditEvents is the API's view of stored events: the export's snake_case
// names (chain.Event has no JSON tags: its hashed form is chain.Canonical,
// not JSON), times in apitypes.Time's form, and never null.
func auditEvents(evs []chain.Event) []apitypes.AuditEvent {
	out := make([]apitypes.AuditEvent, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		out = append(out, apitypes.AuditEvent{ID: e.ID, Seq: e.Seq, Hash: hex.EncodeToString(e.Hash), Time: apitypes.Time(e.Time),
			RequestID: e.RequestID, Rack: e.Rack, ActorType: e.ActorType, Actor: e.Actor, ActorID: e.ActorID, TokenID: e.TokenID,
			Role: e.Role, SourceIP: e.SourceIP, UserAgent: e.UserAgent, Method: e.Method, Path: e.Path, Route: e.Route,
			Action: e.Action, App: e.App, Resource: e.Resource, Permission: e.Permission, Decision: e.Decision,
			Reason: e.Reason, Status: e.Status, DurationUS: e.DurationUS, Details: e.Details})
	}
	return out
}
