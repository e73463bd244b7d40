package storetest

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

var settingTests = []subtest{
	{"Settings", testSettings},
}

func testSettings(t *testing.T, s store.Store, clk *clock.Fake) {
	_, err := s.GetSetting(ctx(t), "k")
	wantErr(t, "unset key", err, store.ErrNotFound)
	steps := []struct{ key, value string }{
		{"k", "one"},
		{"k", "two"},
		{"k", ""}, // empty is a value, not "unset"
		{"other", `{"json": ["ok"], "ü": "\n"}`},
		{"k", "three"},
	}
	want := map[string]string{}
	for _, st := range steps {
		must(t, "set "+st.key, s.SetSetting(ctx(t), st.key, st.value))
		want[st.key] = st.value
		for k, v := range want {
			got, err := s.GetSetting(ctx(t), k)
			must(t, "get "+k, err)
			if got != v {
				t.Fatalf("GetSetting(%q) = %q, want %q", k, got, v)
			}
		}
	}
	_, err = s.GetSetting(ctx(t), "K")
	wantErr(t, "keys are case-sensitive", err, store.ErrNotFound)
}
