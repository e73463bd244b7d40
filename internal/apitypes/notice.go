package apitypes

// HeaderNotice is a one-line note the gateway adds to a rack response it
// changed for the caller (for example env withheld from a role without
// env:read), so that `rack-gateway convox` can tell the person why the
// convox CLI shows less than they expected. The convox CLI itself
// ignores it, so its output is unchanged.
const HeaderNotice = "Rack-Gateway-Notice"
