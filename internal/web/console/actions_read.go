package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/proxy"
)

// Wire shapes of the rack API (convox pkg/structs) that the action pages
// read, only the fields they show. Release env is deliberately absent.
type (
	actApp struct {
		Name    string `json:"name"`
		Release string `json:"release"`
		Status  string `json:"status"`
	}
	actService struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	actProcess struct {
		Id      string    `json:"id"`
		Name    string    `json:"name"`
		Status  string    `json:"status"`
		Release string    `json:"release"`
		Started time.Time `json:"started"`
	}
	actRelease struct {
		Id          string    `json:"id"`
		Build       string    `json:"build"`
		Description string    `json:"description"`
		Created     time.Time `json:"created"`
	}
)

// readErr is why an action page could not read what it shows.
type readErr struct {
	Denied, NotFound bool
	Msg              string
}

// actRead reads path from the selected rack through the proxy as the
// signed-in person (authenticated, authorized, filtered and audited like
// the CLI's read) into out.
func (c *console) actRead(ctx context.Context, q *request, path string, out any) *readErr {
	ans, err := c.o.Proxy.Read(ctx, proxy.RackRead{Rack: q.rack, Path: path, Credential: q.token, For: q.r})
	if err != nil {
		return &readErr{Msg: "the rack's answer could not be read."}
	}
	if ans.Status >= 200 && ans.Status < 300 {
		if json.Unmarshal(ans.Body, out) != nil {
			return &readErr{Msg: "the rack's answer could not be read."}
		}
		return nil
	}
	_, _, msg := refusalOf(ans)
	switch ans.Status {
	case http.StatusForbidden, http.StatusUnauthorized:
		return &readErr{Denied: true, Msg: msg}
	case http.StatusNotFound:
		return &readErr{NotFound: true, Msg: msg}
	}
	return &readErr{Msg: fmt.Sprintf("the rack is unavailable (HTTP %d): %s", ans.Status, msg)}
}
