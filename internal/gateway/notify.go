package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/rack-gateway/rack-gateway/internal/notify"
)

// securityTitles are the notifications' titles of security events, by
// kind; %s is the user.
var securityTitles = map[string]string{
	notify.MFALocked:        "%s is locked out of their second factor",
	notify.MFAMethodRemoved: "A second factor of %s was removed",
	notify.UserRoleChanged:  "The role of %s changed",
}

// securityNotifier publishes the MFA and user administration events that
// people should hear of (mfa.Config.Notify, admin.Service.Notify).
func securityNotifier(pub *notify.Publisher, publicURL string, log *slog.Logger) func(ctx context.Context, kind, user string, facts [][2]string) {
	return func(ctx context.Context, kind, user string, facts [][2]string) {
		title := user + ": " + kind
		if f, ok := securityTitles[kind]; ok {
			title = fmt.Sprintf(f, user)
		}
		ev := notify.Event{Kind: kind, Title: title, Actor: "rack-gateway",
			Facts: []notify.Fact{{Name: "User", Value: user}}}
		for _, f := range facts {
			ev.Facts = append(ev.Facts, notify.Fact{Name: f[0], Value: f[1]})
		}
		if publicURL != "" {
			ev.Link = publicURL + "/users?q=" + url.QueryEscape(user)
		}
		if err := pub.Publish(ctx, ev); err != nil {
			log.Error("notify: publish a security event", "kind", kind, "err", err)
		}
	}
}
