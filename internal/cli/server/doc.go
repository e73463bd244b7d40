// Package server is the rack-gateway command line of the server side: it
// composes the gateway (serve, dev, migrate, simrack) and works on its
// database and audit log directly (admin, token, audit). Each exported
// function is one command or sub-command of the table in internal/cli.
package server
