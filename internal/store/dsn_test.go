package store

import (
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"postgres://u:secret@db:5432/gw?sslmode=disable", "postgres://u:xxxxx@db:5432/gw?sslmode=disable"},
		{"postgresql://u@db/gw", "postgresql://u@db/gw"},
		{"postgres://db/gw", "postgres://db/gw"},
		{"postgres://u:@db/gw", "postgres://u:xxxxx@db/gw"},
		{"postgres://u:p%40ss@db/gw", "postgres://u:xxxxx@db/gw"},
		{"postgres://db/gw?user=u&password=secret&sslmode=require", "postgres://db/gw?user=u&password=xxxxx&sslmode=require"},
		{"postgres://db/gw?PassWord=secret", "postgres://db/gw?PassWord=xxxxx"},
		{"postgres://db/gw?sslpassword=secret", "postgres://db/gw?sslpassword=xxxxx"},
		{"postgres://db/gw?pass%77ord=secret", "postgres://db/gw?pass%77ord=xxxxx"},
		// Malformed: unescaped '@' and '/' in the password.
		{"postgres://u:se@cret@db/gw", "postgres://u:xxxxx@db/gw"},
		{"postgres://u:se/cret@db/gw", "postgres://u:xxxxx@db/gw"},
		{"postgres://u:123/cret@db/gw", "postgres://u:xxxxx@db/gw"},
		{"host=db user=u password=secret dbname=gw", "host=db user=u password=xxxxx dbname=gw"},
		{"host=db password = 'sec ret' dbname=gw", "host=db password=xxxxx dbname=gw"},
		{"sqlite:/var/lib/gw/gw.db", "sqlite:/var/lib/gw/gw.db"},
		{"sqlite:///var/lib/gw/gw.db", "sqlite:///var/lib/gw/gw.db"},
		{"/var/lib/gw/gw.db", "/var/lib/gw/gw.db"},
		{"mysql://root:hunter2@db/gw", "mysql://root:xxxxx@db/gw"},
		{"", ""},
	}
	for _, tt := range tests {
		got := RedactDSN(tt.in)
		if got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, secret := range []string{"secret", "cret", "sec ret", "hunter2", "p%40ss"} {
			if strings.Contains(tt.in, secret) && strings.Contains(got, secret) {
				t.Errorf("RedactDSN(%q) = %q leaks %q", tt.in, got, secret)
			}
		}
	}
}
