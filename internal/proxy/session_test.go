package proxy

import "testing"

func TestSessionExitCodeAcrossReads(t *testing.T) {
	marker := string(exitMarker)
	cases := []struct {
		name   string
		chunks []string
		want   int64
	}{
		{"whole", []string{"\x81\x2aoutput\r\n", "\x81\x29" + marker + "7\n", "\x82\x00"}, 7},
		{"split marker", []string{"text " + marker[:10], marker[10:] + "42\n"}, 42},
		{"split code", []string{marker + "1", "3\n"}, 13},
		{"no newline yet", []string{marker + "5"}, -1},
		{"none", []string{"just output\n"}, -1},
		{"last wins", []string{marker + "1\n" + marker + "2\n"}, 2},
		{"not digits", []string{marker + "x\n"}, -1},
	}
	for _, tc := range cases {
		s := newSession()
		for _, c := range tc.chunks {
			s.scan([]byte(c))
		}
		if got := s.exitCode.Load(); got != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, got, tc.want)
		}
	}
}
