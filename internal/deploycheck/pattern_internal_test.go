package deploycheck

import "testing"

// The commit is substituted as a literal: whatever it holds, it cannot add
// regular-expression syntax to the pattern. (Inspector also refuses any
// commit that is not 40 hex digits; this checks the substitution itself.)
func TestCommitIsQuoted(t *testing.T) {
	tests := []struct {
		commit, image string
		match         bool
	}{
		{"abc", "r/web:abc", true},
		{"a.c", "r/web:abc", false},
		{"a.c", "r/web:a.c", true},
		{".*", "r/web:anything", false},
		{".*", "r/web:.*", true},
		{"x|^.*", "evil", false},
		{"x)|(.*", "evil", false},
		{"[0-9a-f]{7}", "r/web:abcdef0", false},
		{"x$\n", "r/web:x", false},
	}
	for _, tt := range tests {
		re, err := compilePattern(`^r/web:{{GIT_COMMIT}}$`, tt.commit)
		if err != nil {
			t.Fatalf("commit %q: %v", tt.commit, err)
		}
		if got := re.MatchString(tt.image); got != tt.match {
			t.Errorf("commit %q, image %q: match %v, want %v", tt.commit, tt.image, got, tt.match)
		}
	}
}

func TestIsManifest(t *testing.T) {
	for name, want := range map[string]bool{
		"convox.yml": true, "./convox.yml": true, "/convox.yml": true, "a/../convox.yml": true, "convox.yml/": true,
		".//convox.yml": true, "../convox.yml": true,
		"app/convox.yml": false, "convox.yaml": false, "Convox.yml": false, "convox.yml.bak": false, "": false,
	} {
		if got := isManifest(name); got != want {
			t.Errorf("isManifest(%q) = %v, want %v", name, got, want)
		}
	}
}
