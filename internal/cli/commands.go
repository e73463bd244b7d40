package cli

import (
	"github.com/rack-gateway/rack-gateway/internal/cli/client"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
	"github.com/rack-gateway/rack-gateway/internal/cli/server"
)

// group is which side of the house a command belongs to.
type group int

const (
	// clientGroup: one person's verbs; they talk to a gateway over HTTP
	// (package client, which imports no server package).
	clientGroup group = iota
	// serverGroup: run the gateway, or work on its database and audit
	// log directly (package server).
	serverGroup
	// otherGroup: about the binary itself (version, shell completion).
	otherGroup
)

// command is one row of the command table.
type command struct {
	name    string
	group   group // of a top-level command
	summary string
	run     cmdutil.RunFunc
	// subs are the sub-verbs ("admin create-user"). Without run, the
	// first argument picks one, which parses its own flags. With run (the
	// client's users, sessions, tokens), run parses the flags all its
	// sub-verbs share, which may come before the sub-verb, and picks the
	// sub-verb itself; subs then name them for help and tests.
	subs []command
}

// commands is every rack-gateway command, in the order help lists them.
var commands = []command{
	// Client.
	{name: "login", group: clientGroup, summary: "log in to a gateway in the browser and save the session", run: client.Login},
	{name: "logout", group: clientGroup, summary: "end a rack's session and forget its credentials", run: client.Logout},
	{name: "racks", group: clientGroup, summary: "list the gateways you are logged in to", run: client.Racks},
	{name: "switch", group: clientGroup, summary: "make a saved rack the current one", run: client.Switch},
	{name: "whoami", group: clientGroup, summary: "show who you are on a rack's gateway", run: client.Whoami},
	{name: "env", group: clientGroup, summary: "print RACK_URL for a rack, for eval \"$(rack-gateway env)\"", run: client.RackEnv},
	{name: "mfa", group: clientGroup, summary: "prove a second factor now, or show yours (verify, status)", run: client.MFA, subs: []command{
		{name: "verify", summary: "prove a second factor now (starts the step-up window)"},
		{name: "status", summary: "show your second factors and the step-up window"},
	}},
	{name: "convox", group: clientGroup, summary: "run the convox CLI against a rack through its gateway", run: client.Convox},
	{name: "users", group: clientGroup, summary: "list and manage gateway users through the gateway (admin)", run: client.Users, subs: []command{
		{name: "add", summary: "add a user with a role"},
		{name: "set-role", summary: "change a user's role, globally or on one rack"},
		{name: "disable", summary: "disable a user"},
		{name: "enable", summary: "enable a disabled user"},
		{name: "mfa", summary: "show a user's second factors"},
		{name: "unlock-mfa", summary: "unlock a user locked out by failed second factors"},
		{name: "reset-mfa", summary: "remove a user's second factors (lost device)"},
	}},
	{name: "sessions", group: clientGroup, summary: "list and revoke login sessions through the gateway", run: client.Sessions, subs: []command{
		{name: "revoke", summary: "end one session"},
		{name: "revoke-user", summary: "end every session of a user (admin)"},
	}},
	{name: "deploy-approval", group: clientGroup, summary: "ask for, list, approve and reject deploy approvals (two-person rule for CI)", run: client.DeployApproval, subs: []command{
		{name: "request", summary: "a CI token asks people to approve deploying a commit (--wait: until decided)"},
		{name: "list", summary: "list requests"},
		{name: "show", summary: "show a request"},
		{name: "wait", summary: "wait until a request is decided"},
		{name: "approve", summary: "approve a request (a second factor on that very call)"},
		{name: "reject", summary: "reject a request"},
	}},
	{name: "tokens", group: clientGroup, summary: "list, create and revoke API tokens through the gateway", run: client.Tokens, subs: []command{
		{name: "create", summary: "mint a token (shown once)"},
		{name: "revoke", summary: "revoke a token"},
	}},

	// Server.
	{name: "serve", group: serverGroup, summary: "run the gateway (config from RGW_* variables and/or --config FILE)", run: server.Serve},
	{name: "dev", group: serverGroup, summary: "run a local gateway with a simulated rack and demo users; no external services", run: server.Dev},
	{name: "migrate", group: serverGroup, summary: "apply database migrations and exit", run: server.Migrate},
	{name: "simrack", group: serverGroup, summary: "run the simulated Convox rack alone (for trying the convox CLI or load tests)", run: server.Simrack},
	{name: "admin", group: serverGroup, summary: "bootstrap users on the configured database", subs: []command{
		{name: "create-user", summary: "create a user with a role", run: server.AdminCreateUser},
		{name: "set-role", summary: "change a user's role, globally or on one rack", run: server.AdminSetRole},
		{name: "disable", summary: "disable a user", run: server.AdminDisable},
		{name: "enable", summary: "enable a disabled user", run: server.AdminEnable},
		{name: "users", summary: "list users", run: server.AdminUsers},
	}},
	{name: "token", group: serverGroup, summary: "API tokens on the configured database", subs: []command{
		{name: "create", summary: "mint an API token for a user (shown once)", run: server.TokenCreate},
		{name: "list", summary: "list every API token", run: server.TokenList},
		{name: "revoke", summary: "revoke an API token", run: server.TokenRevoke},
	}},
	{name: "audit", group: serverGroup, summary: "audit log", subs: []command{
		{name: "tail", summary: "print recent events (--follow: and new ones)", run: server.AuditTail},
		{name: "verify", summary: "verify the live log, or an export, against the anchors", run: server.AuditVerify},
		{name: "export", summary: "export events as JSONL (verifiable) or CSV", run: server.AuditExport},
		{name: "pubkey", summary: "print the checkpoint public key (PEM) and its id", run: server.AuditPubkey},
		{name: "check-value", summary: "was env NAME ever set to VALUE?", run: server.AuditCheckValue},
		{name: "keygen", summary: "make new audit keys", run: server.AuditKeygen},
		{name: "prune", summary: "delete events up to an anchored checkpoint", run: server.AuditPrune},
	}},
	{name: "mfa-keygen", group: serverGroup, summary: "print a new key for sealing TOTP secrets (mfa.encryption_keys)", run: server.MFAKeygen},
	{name: "mfa-reseal", group: serverGroup, summary: "re-seal every TOTP secret with the first key (key rotation)", run: server.MFAReseal},

	// Other.
	{name: "version", group: otherGroup, summary: "print the version, commit and Go version of this build", run: server.Version},
	{name: "completion", group: otherGroup, summary: "print a shell completion script", subs: []command{
		// run: set in init (they read this table)
		{name: "bash", summary: "print the bash completion script"},
		{name: "zsh", summary: "print the zsh completion script"},
		{name: "fish", summary: "print the fish completion script"},
	}},
}

func init() {
	for i := range find(commands, "completion").subs {
		s := &find(commands, "completion").subs[i]
		s.run = completionCommand(s.name)
	}
}
