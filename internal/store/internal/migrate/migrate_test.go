package migrate

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	tests := []struct {
		name     string
		files    fstest.MapFS
		versions []int
		err      string
	}{
		{
			name: "sorted",
			files: fstest.MapFS{
				"m/0002_b.sql": {Data: []byte("B")},
				"m/0001_a.sql": {Data: []byte("A")},
			},
			versions: []int{1, 2},
		},
		{name: "gap", files: fstest.MapFS{"m/0001_a.sql": {}, "m/0003_c.sql": {}}, err: "expected version 0002"},
		{name: "duplicate", files: fstest.MapFS{"m/0001_a.sql": {}, "m/0001_b.sql": {}}, err: "expected version 0002"},
		{name: "not from one", files: fstest.MapFS{"m/0002_a.sql": {}}, err: "expected version 0001"},
		{name: "bad name", files: fstest.MapFS{"m/1_a.sql": {}}, err: "does not match"},
		{name: "empty", files: fstest.MapFS{"m/x/0001_a.sql": {}}, err: "no migrations"},
		{name: "missing dir", files: fstest.MapFS{}, err: "migrate:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := Load(tt.files, "m")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Load error = %v, want containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != len(tt.versions) {
				t.Fatalf("got %d migrations, want %d", len(ms), len(tt.versions))
			}
			for i, m := range ms {
				if m.Version != tt.versions[i] {
					t.Errorf("ms[%d].Version = %d, want %d", i, m.Version, tt.versions[i])
				}
			}
			if ms[0].SQL != "A" || ms[0].Name != "0001_a.sql" {
				t.Errorf("ms[0] = %+v", ms[0])
			}
		})
	}
}
