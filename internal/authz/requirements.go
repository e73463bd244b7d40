package authz

// StepUp is how fresh a second factor a permission needs, beyond the role
// that grants it. Step-up proves identity, never privilege: it only lifts
// the requirement on what the role already grants.
type StepUp int

// Step-up levels, weakest first.
const (
	StepUpNone         StepUp = iota
	StepUpSignIn              // the session passed the sign-in second factor
	StepUpRecent              // a second factor within Policy.StepUpWindow
	StepUpEveryRequest        // a second factor on that very request
)

// String names the level in refusals and audit details.
func (s StepUp) String() string {
	switch s {
	case StepUpSignIn:
		return "sign-in"
	case StepUpRecent:
		return "recent"
	case StepUpEveryRequest:
		return "every-request"
	}
	return "none"
}

// Describe says what the level asks of a person, for the README and the
// console's policy page.
func (s StepUp) Describe() string {
	switch s {
	case StepUpSignIn:
		return "at sign-in"
	case StepUpRecent:
		return "within the step-up window"
	case StepUpEveryRequest:
		return "on that very request"
	}
	return ""
}

// Requirement is what a permission needs beyond a role that grants it.
type Requirement struct {
	// StepUp applies to people (web and CLI sessions); API tokens are never
	// asked for a second factor.
	StepUp StepUp
	// Approval applies to API tokens on racks and apps whose deploy policy
	// requires a person's approval (Policy.NeedsApproval).
	Approval bool
}

// requirements is the data: which permissions need a second factor and
// which are the deploy steps an approval gates. Permissions not listed
// need nothing beyond the role.
var requirements = map[Permission]Requirement{
	ProcessExec:         {StepUp: StepUpRecent},
	ProcessRun:          {StepUp: StepUpRecent, Approval: true},
	EnvSet:              {StepUp: StepUpRecent},
	EnvProtected:        {StepUp: StepUpRecent},
	SecretRead:          {StepUp: StepUpRecent},
	ConfigRead:          {StepUp: StepUpRecent},
	ConfigSet:           {StepUp: StepUpRecent},
	ObjectWrite:         {Approval: true},
	BuildCreate:         {StepUp: StepUpRecent, Approval: true},
	ReleasePromote:      {StepUp: StepUpRecent, Approval: true},
	ResourceCredentials: {StepUp: StepUpRecent},
	ResourceExport:      {StepUp: StepUpRecent},
	ResourceConsole:     {StepUp: StepUpRecent},
	InstanceShell:       {StepUp: StepUpRecent},
	RegistryWrite:       {StepUp: StepUpRecent},
	AppDelete:           {StepUp: StepUpEveryRequest},
	RackUpdate:          {StepUp: StepUpEveryRequest},
	RackJWTToken:        {StepUp: StepUpEveryRequest},
	RackJWTRotate:       {StepUp: StepUpEveryRequest},
	TokenCreate:         {StepUp: StepUpRecent},
	GatewayUsers:        {StepUp: StepUpRecent},
	GatewayTokens:       {StepUp: StepUpRecent},
	MFASelf:             {StepUp: StepUpRecent},
	DeployApprove:       {StepUp: StepUpEveryRequest},
}

// RequirementOf returns what p needs beyond a role that grants it.
func RequirementOf(p Permission) Requirement { return requirements[p] }

// requirementsByIndex is requirements by permission index, for Decide.
var requirementsByIndex = func() []Requirement {
	out := make([]Requirement, len(all))
	for p, r := range requirements {
		out[permIndex[p]] = r
	}
	return out
}()
