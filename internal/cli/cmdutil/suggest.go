package cmdutil

import (
	"fmt"
	"slices"
	"strings"
)

// DidYouMean suggests the names closest to a mistyped one, as
// `; did you mean "login"?` (or `"token" or "tokens"`), or "" when none is
// close. Close means a few edits away for the name's length (a swap of two
// neighbouring letters is one edit; case is ignored): one edit for names of
// up to four letters, two for longer ones. Failing that, the names the
// mistyped one (of three letters or more) begins, if at most three.
func DidYouMean(name string, candidates []string) string {
	s := Suggest(name, candidates)
	if len(s) == 0 {
		return ""
	}
	q := make([]string, len(s))
	for i, c := range s {
		q[i] = fmt.Sprintf("%q", c)
	}
	return "; did you mean " + strings.Join(q, " or ") + "?"
}

// Suggest is DidYouMean's list: the closest candidates, in their order.
func Suggest(name string, candidates []string) []string {
	if name == "" || strings.HasPrefix(name, "-") {
		return nil
	}
	lower := strings.ToLower(name)
	limit := 2
	if len([]rune(lower)) <= 4 {
		limit = 1
	}
	var best []string
	bestD := limit + 1
	for _, c := range candidates {
		if c == name {
			return nil // not mistyped
		}
		d := EditDistance(lower, strings.ToLower(c))
		switch {
		case d < bestD:
			best, bestD = []string{c}, d
		case d == bestD && d <= limit && !slices.Contains(best, c):
			best = append(best, c)
		}
	}
	if len(best) > 0 {
		return best
	}
	if len(lower) < 3 {
		return nil
	}
	var prefixed []string
	for _, c := range candidates {
		if strings.HasPrefix(strings.ToLower(c), lower) && !slices.Contains(prefixed, c) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) > 3 {
		return nil
	}
	return prefixed
}

// EditDistance is the optimal string alignment distance between a and b
// (Levenshtein with swaps of neighbouring characters), in runes.
func EditDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// d[i][j] is the distance between ra[:i] and rb[:j]; three rows kept.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Verb checks the sub-verb of a command whose first positional argument,
// when there is one, names it (`users add ...`): an argument that is none
// of verbs is a usage error, reported as
// `rack-gateway users: unknown verb "ad"; did you mean "add"?` and the
// usage on stderr (ErrUsage). No argument is fine (the command's own
// default, e.g. a list).
func (f *Flags) Verb(pos []string, verbs ...string) error {
	if len(pos) == 0 || slices.Contains(verbs, pos[0]) {
		return nil
	}
	fmt.Fprintf(f.e.Stderr, "rack-gateway %s: unknown verb %q%s\n\n", f.Name(), pos[0], DidYouMean(pos[0], verbs))
	return f.Fail()
}
