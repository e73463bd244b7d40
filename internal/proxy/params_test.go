package proxy

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

func TestAuditParams(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		name   string
		route  string
		form   url.Values
		query  string
		header http.Header
		want   map[string]string
	}{
		{
			name:  "form values of allow-listed params only",
			route: "AppCreate",
			form:  url.Values{"name": {"myapp"}, "generation": {"3"}, "unlisted": {"x"}},
			want:  map[string]string{"name": "myapp", "generation": "3"},
		},
		{
			name:  "query when not in form",
			route: "AppCreate",
			query: "name=fromquery&timeout=60&other=1",
			want:  map[string]string{"name": "fromquery", "timeout": "60"},
		},
		{
			name:  "form wins over query wins over header",
			route: "AppCreate",
			form:  url.Values{"name": {"fromform"}},
			query: "name=fromquery&generation=fromquery",
			header: http.Header{"Name": {"fromheader"}, "Generation": {"fromheader"},
				"Timeout": {"fromheader"}},
			want: map[string]string{"name": "fromform", "generation": "fromquery", "timeout": "fromheader"},
		},
		{
			name:  "first value of a repeated param",
			route: "AppCreate",
			form:  url.Values{"name": {"first", "second"}},
			want:  map[string]string{"name": "first"},
		},
		{
			name:  "empty value is recorded as present",
			route: "AppCreate",
			form:  url.Values{"name": {""}},
			want:  map[string]string{"name": ""},
		},
		{
			name:   "header params of log sockets",
			route:  "AppLogs",
			header: http.Header{"Follow": {"true"}, "Since": {"1h"}, "Authorization": {"Basic secret"}},
			want:   map[string]string{"follow": "true", "since": "1h"},
		},
		{
			name:  "secret param redacted, listed param kept",
			route: "AppUpdate",
			form:  url.Values{"lock": {"true"}, "parameters": {"Password=hunter2"}},
			want:  map[string]string{"lock": "true", "parameters": audit.Redacted},
		},
		{
			name:   "secret in query or header redacted",
			route:  "BuildImportImage",
			query:  "image=registry/app:1&src-creds-user=bot",
			header: http.Header{"Src-Creds-Pass": {"hunter2"}},
			want:   map[string]string{"image": "registry/app:1", "src-creds-user": "bot", "src-creds-pass": audit.Redacted},
		},
		{
			name:  "release env is secret",
			route: "ReleaseCreate",
			form:  url.Values{"build": {"BABC"}, "env": {"SECRET=1"}, "description": {"d"}},
			want:  map[string]string{"build": "BABC", "description": "d", "env": audit.Redacted},
		},
		{
			name:  "long value truncated",
			route: "AppCreate",
			form:  url.Values{"name": {long}},
			want:  map[string]string{"name": strings.Repeat("x", 256) + "…"},
		},
		{
			name:  "value at the limit kept whole",
			route: "AppCreate",
			form:  url.Values{"name": {strings.Repeat("y", 256)}},
			want:  map[string]string{"name": strings.Repeat("y", 256)},
		},
		{
			name:  "nothing present",
			route: "AppCreate",
			form:  url.Values{"other": {"1"}},
			want:  nil,
		},
		{
			name:  "route without params",
			route: "AppGet",
			form:  url.Values{"name": {"x"}},
			query: "name=y",
			want:  nil,
		},
		{
			name:  "route without params, secret-looking input",
			route: "AppDelete",
			form:  url.Values{"password": {"x"}},
			want:  nil,
		},
		{
			name:  "malformed query ignored",
			route: "AppCreate",
			query: "name=%zz",
			want:  nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := auditParams(route(t, tc.route), tc.form, tc.query, tc.header)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("auditParams = %q, want %q", got, tc.want)
			}
			for k, v := range got {
				if strings.Contains(v, "hunter2") || strings.Contains(v, "SECRET=1") {
					t.Errorf("param %s leaks a secret: %q", k, v)
				}
			}
		})
	}
	if got := auditParams(nil, url.Values{"name": {"x"}}, "", nil); got != nil {
		t.Errorf("auditParams(nil route) = %v", got)
	}
}

// Every secret param of every route is redacted wherever it is sent.
func TestAuditParamsSecretsNeverRecorded(t *testing.T) {
	table := routes.Table()
	for i := range table {
		rt := &table[i]
		for _, p := range rt.SecretParams {
			const secret = "TOP-SECRET-VALUE"
			for _, where := range []string{"form", "query", "header"} {
				var form url.Values
				var query string
				h := http.Header{}
				switch where {
				case "form":
					form = url.Values{p: {secret}}
				case "query":
					query = url.Values{p: {secret}}.Encode()
				case "header":
					h.Set(p, secret)
				}
				got := auditParams(rt, form, query, h)
				if got[p] != audit.Redacted {
					t.Errorf("%s %s in %s: %q, want redacted", rt.Name, p, where, got[p])
				}
				if b, _ := json.Marshal(got); strings.Contains(string(b), secret) {
					t.Errorf("%s %s in %s leaks: %s", rt.Name, p, where, b)
				}
			}
		}
	}
}
