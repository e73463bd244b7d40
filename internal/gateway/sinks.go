package gateway

import (
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rack-gateway/rack-gateway/internal/audit/siem"
)

// addSinks connects the configured SIEM streams to the auditor.
func (g *Gateway) addSinks(reg prometheus.Registerer) error {
	a := g.Config.Audit
	if a.Stdout {
		w := siem.NewWriter(os.Stdout)
		g.Audit.AddSink(w)
		g.sinks = append(g.sinks, w)
	}
	if a.WebhookURL != "" {
		h := map[string]string{}
		if a.WebhookAuthorization != "" {
			h["Authorization"] = a.WebhookAuthorization
		}
		wh, err := siem.NewWebhook(siem.WebhookConfig{URL: a.WebhookURL, Headers: h, CAFile: a.WebhookCAFile}, g.Log)
		if err != nil {
			return err
		}
		reg.MustRegister(wh.Collectors()...)
		g.Audit.AddSink(wh)
		g.sinks = append(g.sinks, wh)
	}
	return nil
}
