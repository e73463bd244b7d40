package main

import (
	"slices"
	"strings"
	"testing"
)

func TestPathSet(t *testing.T) {
	t.Setenv("BENCH_T_SECRET", "s3cret")
	for _, tc := range []struct {
		spec      string
		pids, db  []int
		prefix    string
		wantError string
	}{
		{spec: "gw,http://127.0.0.1:1/rack,12,BENCH_T_SECRET", pids: []int{12}, prefix: "/rack"},
		{spec: "gw2,http://127.0.0.1:1/rack,12+13+14/db:99,BENCH_T_SECRET,get+release", pids: []int{12, 13, 14}, db: []int{99}, prefix: "/rack"},
		{spec: "lb,http://127.0.0.1:1,0,BENCH_T_SECRET"},
		{spec: "x,http://127.0.0.1:1,12+a,BENCH_T_SECRET", wantError: "bad PID"},
		{spec: "x,http://127.0.0.1:1,-3,BENCH_T_SECRET", wantError: "bad PID"},
		{spec: "x,http://127.0.0.1:1,1/db:z,BENCH_T_SECRET", wantError: "bad PID"},
		{spec: "x,http://127.0.0.1:1,1,BENCH_T_UNSET", wantError: "is empty"},
		{spec: "x,notaurl,1,BENCH_T_SECRET", wantError: "bad URL"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			var pl pathList
			err := pl.Set(tc.spec)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := pl[0]
			if !slices.Equal(p.pids, tc.pids) || !slices.Equal(p.db, tc.db) || p.prefix != tc.prefix {
				t.Fatalf("pids %v db %v prefix %q", p.pids, p.db, p.prefix)
			}
		})
	}
}

func TestSelectPaths(t *testing.T) {
	all := pathList{{name: "direct"}, {name: "bare-proxy"}, {name: "gateway"}, {name: "gateway-pg"}}
	for _, tc := range []struct {
		list, want, wantError string
	}{
		{list: "gateway-pg,direct", want: "direct,gateway-pg"}, // -path order is kept
		{list: " gateway , bare-proxy ", want: "bare-proxy,gateway"},
		{list: "gateway,nginx,zz", wantError: "no path named nginx, zz"},
	} {
		t.Run(tc.list, func(t *testing.T) {
			got, err := selectPaths(all, tc.list)
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want %q", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, p := range got {
				names = append(names, p.name)
			}
			if strings.Join(names, ",") != tc.want {
				t.Fatalf("got %v, want %s", names, tc.want)
			}
		})
	}
}
