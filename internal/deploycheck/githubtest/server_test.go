package githubtest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

const token = "ghp_test"

func get(t *testing.T, s *Server, path string, edit func(h http.Header)) (*http.Response, map[string]any, []any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	req.Header.Set("User-Agent", "githubtest")
	if edit != nil {
		edit(req.Header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var obj map[string]any
	var arr []any
	if json.Unmarshal(body, &obj) != nil && json.Unmarshal(body, &arr) != nil {
		t.Fatalf("GET %s: body is not JSON: %q", path, body)
	}
	return resp, obj, arr
}

func newFixture(t *testing.T) (*Server, map[string]string) {
	s := NewServer(t, token)
	r := s.Repo("Acme/Web")
	c := map[string]string{}
	for _, l := range []string{"m1", "m2", "m3", "f1", "o1", "p1", "g1", "g2"} {
		c[l] = SHA(l)
	}
	r.Branch("main", c["m1"], c["m2"])
	r.Branch("feature/x", c["m1"], c["m2"], c["f1"])
	r.Branch("main", c["m1"], c["m2"], c["m3"]) // pushed after feature/x branched
	r.Branch("gh-pages", c["p1"])
	r.Commit(c["o1"], c["m1"])
	r.Branch("multi", c["m3"], c["g1"], c["g2"])
	r.PullRequest(PR{Number: 7, State: "open", HeadRef: "feature/x", HeadSHA: c["f1"], BaseRef: "main"})
	r.PullRequest(PR{Number: 5, State: "closed", HeadRef: "old", HeadSHA: c["o1"], BaseRef: "main"})
	r.PullRequest(PR{Number: 3, State: "closed", Merged: true, HeadRef: "m2", HeadSHA: c["m2"], BaseRef: "gh-pages"})
	for n := 10; n < 13; n++ {
		r.PullRequest(PR{Number: n, State: "open", HeadRef: "multi", HeadSHA: c["g2"], BaseRef: "main", HeadRepo: "fork/web"})
	}
	return s, c
}

func TestHeadersAndAuth(t *testing.T) {
	s, c := newFixture(t)
	path := "/repos/acme/web/commits/" + c["m1"]
	tests := []struct {
		name    string
		edit    func(h http.Header)
		status  int
		message string
	}{
		{"ok", nil, 200, ""},
		{"token scheme", func(h http.Header) { h.Set("Authorization", "token "+token) }, 200, ""},
		{"no user agent", func(h http.Header) { h["User-Agent"] = []string{""} }, 403, "User-Agent"},
		{"no credentials: private repo is invisible", func(h http.Header) { h.Del("Authorization") }, 404, "Not Found"},
		{"bad token", func(h http.Header) { h.Set("Authorization", "Bearer nope") }, 401, "Bad credentials"},
		{"basic auth", func(h http.Header) { h.Set("Authorization", "Basic "+token) }, 401, "Bad credentials"},
		{"wrong accept", func(h http.Header) { h.Set("Accept", "text/html") }, 415, "Accept"},
		{"no version", func(h http.Header) { h.Del("X-GitHub-Api-Version") }, 400, "not supported"},
		{"bad version", func(h http.Header) { h.Set("X-GitHub-Api-Version", "2020-01-01") }, 400, "API version 2020-01-01 is not supported."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, obj, _ := get(t, s, path, tt.edit)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, obj)
			}
			if msg, _ := obj["message"].(string); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want it to contain %q", msg, tt.message)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	s, c := newFixture(t)
	s.SetRateLimitRemaining(2)
	path := "/repos/acme/web/commits/" + c["m1"]
	for i, want := range []string{"1", "0"} {
		resp, _, _ := get(t, s, path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Ratelimit-Remaining") != want || resp.Header.Get("X-Ratelimit-Limit") != "5000" || resp.Header.Get("X-Ratelimit-Reset") == "" {
			t.Fatalf("request %d: %d, remaining %q", i, resp.StatusCode, resp.Header.Get("X-Ratelimit-Remaining"))
		}
	}
	resp, obj, _ := get(t, s, path, nil)
	if resp.StatusCode != 403 || resp.Header.Get("X-Ratelimit-Remaining") != "0" || !strings.HasPrefix(obj["message"].(string), "API rate limit exceeded") {
		t.Fatalf("exhausted: %d %v", resp.StatusCode, obj)
	}
	s.SetRateLimitRemaining(10)
	s.SecondaryRateLimit(429)
	if resp, _, _ := get(t, s, path, nil); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" {
		t.Fatalf("secondary: %d", resp.StatusCode)
	}
	want := 4
	if got := len(s.Requests()); got != want {
		t.Fatalf("%d requests recorded, want %d", got, want)
	}
}

func TestEndpoints(t *testing.T) {
	s, c := newFixture(t)
	tests := []struct {
		name   string
		path   string
		status int
		check  func(t *testing.T, obj map[string]any, arr []any, h http.Header)
	}{
		{"commit", "/repos/acme/web/commits/" + c["m2"], 200, func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
			if obj["sha"] != c["m2"] || obj["parents"].([]any)[0].(map[string]any)["sha"] != c["m1"] || obj["files"] == nil {
				t.Errorf("%v", obj)
			}
		}},
		{"commit by prefix", "/repos/acme/web/commits/" + c["m2"][:7], 200, nil},
		{"commit by branch", "/repos/acme/web/commits/main", 200, func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
			if obj["sha"] != c["m3"] {
				t.Errorf("sha %v", obj["sha"])
			}
		}},
		{"unknown commit", "/repos/acme/web/commits/" + SHA("nope"), 422, message("No commit found for SHA: " + SHA("nope"))},
		{"unknown repo", "/repos/acme/nope/commits/" + c["m1"], 404, message("Not Found")},
		{"unknown route", "/repos/acme/web/tags", 404, message("Not Found")},
		{"branch with slash", "/repos/acme/web/branches/feature/x", 200, func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
			if obj["name"] != "feature/x" || obj["commit"].(map[string]any)["sha"] != c["f1"] {
				t.Errorf("%v", obj)
			}
		}},
		{"escaped branch", "/repos/acme/web/branches/feature%2Fx", 200, nil},
		{"unknown branch", "/repos/acme/web/branches/nope", 404, message("Branch not found")},
		{"identical", "/repos/acme/web/compare/main..." + c["m3"], 200, compare("identical", 0, 0)},
		{"behind", "/repos/acme/web/compare/main..." + c["m1"], 200, compare("behind", 0, 2)},
		{"ahead", "/repos/acme/web/compare/main...multi", 200, compare("ahead", 2, 0)},
		{"diverged", "/repos/acme/web/compare/main..." + c["f1"], 200, compare("diverged", 1, 1)},
		{"compare unknown ref", "/repos/acme/web/compare/main...nope", 404, message("Not Found")},
		{"compare bad ref", "/repos/acme/web/compare/main~1..." + c["m1"], 422, message("Validation Failed")},
		{"compare without dots", "/repos/acme/web/compare/main", 422, message("Validation Failed")},
		{"no common ancestor", "/repos/acme/web/compare/gh-pages...main", 404, message("No common ancestor between gh-pages and main.")},
		{"pulls of a commit off the default branch", "/repos/acme/web/commits/" + c["f1"] + "/pulls", 200, pulls(7)},
		{"closed pull", "/repos/acme/web/commits/" + c["o1"] + "/pulls", 200, pulls(5)},
		{"on the default branch: only merged pulls", "/repos/acme/web/commits/" + c["m2"] + "/pulls", 200, pulls(3)},
		{"paged", "/repos/acme/web/commits/" + c["g1"] + "/pulls?per_page=2", 200, func(t *testing.T, _ map[string]any, arr []any, h http.Header) {
			pulls(10, 11)(t, nil, arr, h)
			if !strings.Contains(h.Get("Link"), `page=2>; rel="next"`) {
				t.Errorf("Link %q", h.Get("Link"))
			}
		}},
		{"page 2", "/repos/acme/web/commits/" + c["g1"] + "/pulls?per_page=2&page=2", 200, pulls(12)},
		{"pulls of unknown commit", "/repos/acme/web/commits/" + SHA("nope") + "/pulls", 422, message("No commit found for SHA: " + SHA("nope"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, obj, arr := get(t, s, tt.path, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tt.status, obj)
			}
			if tt.check != nil {
				tt.check(t, obj, arr, resp.Header)
			}
		})
	}
	t.Run("fork pull request", func(t *testing.T) {
		_, _, arr := get(t, s, "/repos/acme/web/commits/"+c["g2"]+"/pulls", nil)
		head := arr[0].(map[string]any)["head"].(map[string]any)
		if head["repo"].(map[string]any)["full_name"] != "fork/web" || head["label"] != "fork:multi" {
			t.Errorf("head %v", head)
		}
	})
}

func message(want string) func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
	return func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
		if obj["message"] != want || obj["documentation_url"] == nil {
			t.Errorf("body %v, want message %q", obj, want)
		}
	}
}

func compare(status string, ahead, behind float64) func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
	return func(t *testing.T, obj map[string]any, _ []any, _ http.Header) {
		if obj["status"] != status || obj["ahead_by"] != ahead || obj["behind_by"] != behind || len(obj["commits"].([]any)) != int(ahead) {
			t.Errorf("status %v ahead %v behind %v commits %d, want %s %v %v", obj["status"], obj["ahead_by"], obj["behind_by"], len(obj["commits"].([]any)), status, ahead, behind)
		}
	}
}

func pulls(numbers ...float64) func(t *testing.T, _ map[string]any, arr []any, _ http.Header) {
	return func(t *testing.T, _ map[string]any, arr []any, _ http.Header) {
		if len(arr) != len(numbers) {
			t.Fatalf("%d pull requests, want %v", len(arr), numbers)
		}
		for i, p := range arr {
			if n := p.(map[string]any)["number"]; n != numbers[i] {
				t.Errorf("pull %d is #%v, want #%v", i, n, numbers[i])
			}
		}
	}
}

func TestStatusKeyPrecedesFiles(t *testing.T) {
	s, c := newFixture(t)
	s.Repo("acme/web").PadFiles(1 << 10)
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/repos/acme/web/compare/main..."+c["f1"], nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", APIVersion)
	raw, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Body.Close()
	body, _ := io.ReadAll(raw.Body)
	st, files := strings.Index(string(body), `"status"`), strings.Index(string(body), `"files"`)
	if st < 0 || files < 0 || st > files || !strings.Contains(string(body), strings.Repeat("x", 1<<10)) {
		t.Errorf("status at %d, files at %d (GitHub's order: status first), padded: %v", st, files, strings.Contains(string(body), strings.Repeat("x", 1<<10)))
	}
}
