package deploycheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on convox.yml beyond its size, so that a hostile 1 MiB manifest
// costs milliseconds and a few MiB, never more:
//   - The YAML library builds the whole document as a tree (about 200 bytes
//     a node), so a 1 MiB flow sequence of one-letter items would take over
//     100 MiB. Before parsing, the indicators that can start a node
//     (, - : [ { ? *) are counted outside comments, which bounds the nodes
//     (a few per indicator); a real convox.yml has hundreds.
//   - The library checks a mapping's keys for duplicates pairwise
//     (quadratic time, and one error string per duplicate pair): mappings
//     are capped, and duplicates are found here first, in linear time.
//   - It refuses excessive aliasing and nesting itself; aliases are capped
//     here too, as a real convox.yml uses a handful at most.
const (
	maxAliases    = 64
	maxMapKeys    = 500
	maxIndicators = 20000
	maxImageLen   = 512
	maxListed     = 5 // names listed in a reason before "and N more"
)

// interpolation is the rack's own ${VAR} pattern: it substitutes the app's
// environment into the raw text before parsing the YAML, so a manifest
// using it says nothing certain about its images.
var interpolation = regexp.MustCompile(`\$\{[^}]*\}`)

// serviceName is Convox's rule for service names.
var serviceName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// manifest is the part of convox.yml the check reads.
type manifest struct {
	Services map[string]*struct {
		Image         *string `yaml:"image"`
		InitContainer *struct {
			Image *string `yaml:"image"`
		} `yaml:"initContainer"`
	} `yaml:"services"`
}

// parseManifest parses convox.yml, or says why it cannot be trusted.
func parseManifest(data []byte) (*manifest, string) {
	if loc := interpolation.FindIndex(data); loc != nil {
		return nil, fmt.Sprintf("%s uses ${...} interpolation (%s), which the rack fills from the app's environment: its images cannot be checked", ManifestName, quoteTrunc(string(data[loc[0]:loc[1]])))
	}
	if n := countIndicators(data); n > maxIndicators {
		return nil, fmt.Sprintf("%s is too complex to check (more than %d YAML indicators)", ManifestName, maxIndicators)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ManifestName + " is empty"
		}
		return nil, fmt.Sprintf("%s is not valid YAML (%s)", ManifestName, quoteTrunc(err.Error()))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, ManifestName + " holds more than one YAML document"
	}
	aliases := 0
	if reason := walkTree(&doc, &aliases); reason != "" {
		return nil, reason
	}
	var m manifest
	if err := doc.Decode(&m); err != nil {
		return nil, fmt.Sprintf("%s does not have the shape of a Convox manifest (%s)", ManifestName, quoteTrunc(err.Error()))
	}
	return &m, ""
}

// countIndicators counts the bytes , - : [ { ? * outside comments (a #
// at the start of a line or after a space or tab, to the line's end).
// Quoted text is counted too: the count only has to bound the nodes.
func countIndicators(data []byte) int {
	n := 0
	comment := false
	for i, c := range data {
		switch {
		case c == '\n':
			comment = false
		case comment:
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'):
			comment = true
		case strings.IndexByte(",-:[{?*", c) >= 0:
			n++
		}
	}
	return n
}

// walkTree checks every node's limits before the tree is decoded: alias
// count (aliases are counted, not followed), mapping sizes and duplicate
// keys (compared as the YAML library does, by kind and value).
func walkTree(n *yaml.Node, aliases *int) string {
	switch n.Kind {
	case yaml.AliasNode:
		if *aliases++; *aliases > maxAliases {
			return fmt.Sprintf("%s uses more than %d YAML aliases", ManifestName, maxAliases)
		}
	case yaml.MappingNode:
		if len(n.Content)/2 > maxMapKeys {
			return fmt.Sprintf("%s has a mapping with more than %d keys (line %d)", ManifestName, maxMapKeys, n.Line)
		}
		type key struct {
			kind  yaml.Kind
			value string
		}
		seen := make(map[key]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if line, dup := seen[key{k.Kind, k.Value}]; dup {
				return fmt.Sprintf("%s defines the key %s twice (lines %d and %d)", ManifestName, quoteTrunc(k.Value), line, k.Line)
			}
			seen[key{k.Kind, k.Value}] = k.Line
		}
	}
	for _, c := range n.Content {
		if reason := walkTree(c, aliases); reason != "" {
			return reason
		}
	}
	return ""
}

// evaluate decides on a convox.yml's content.
func (in *Inspector) evaluate(data []byte) ImageVerdict {
	m, reason := parseManifest(data)
	if reason != "" {
		return ImageVerdict{Reason: reason}
	}
	if len(m.Services) == 0 {
		return ImageVerdict{Reason: ManifestName + " declares no services"}
	}
	v := ImageVerdict{Images: map[string]string{}}
	var bad []string
	check := func(key, img string) {
		v.Images[key] = img
		switch {
		case len(img) > maxImageLen:
			bad = append(bad, fmt.Sprintf("%s (an image name longer than %d bytes)", key, maxImageLen))
		case strings.ContainsFunc(img, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
			bad = append(bad, fmt.Sprintf("%s: %s (whitespace or a non-printable character)", key, quoteTrunc(img)))
		case !in.re.MatchString(img):
			bad = append(bad, fmt.Sprintf("%s: %s", key, quoteTrunc(img)))
		}
	}
	names := make([]string, 0, len(m.Services))
	for name := range m.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !serviceName.MatchString(name) {
			return ImageVerdict{Reason: fmt.Sprintf("%s names a service %s, which is not a valid Convox service name", ManifestName, quoteTrunc(name))}
		}
		s := m.Services[name]
		if s == nil || s.Image == nil || *s.Image == "" {
			v.BuildOnly = append(v.BuildOnly, name)
		} else {
			check(name, *s.Image)
		}
		if s != nil && s.InitContainer != nil && s.InitContainer.Image != nil && *s.InitContainer.Image != "" {
			check(name+"/initContainer", *s.InitContainer.Image)
		}
	}
	want := fmt.Sprintf("%s with %s=%s", in.rule.pattern, strings.Trim(CommitPlaceholder, "{}"), in.commit)
	switch {
	case len(bad) > 0:
		v.Reason = fmt.Sprintf("images in %s do not match %s: %s", ManifestName, want, list(bad))
	case in.rule.requireImages && len(v.BuildOnly) > 0:
		v.Reason = fmt.Sprintf("the app's policy requires every service to name an image, but %s would be built from the uploaded source", list(v.BuildOnly))
	default:
		v.OK = true
		v.Reason = fmt.Sprintf("all %d images in %s match %s", len(v.Images), ManifestName, want)
		if len(v.Images) == 0 {
			v.Reason = "no service in " + ManifestName + " names an image"
		}
		if len(v.BuildOnly) > 0 {
			v.Reason += "; built from the uploaded source: " + list(v.BuildOnly)
		}
	}
	return v
}

// list joins items, naming at most maxListed of them.
func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(items)-maxListed)
}

// quoteTrunc quotes text from the upload (or an error about it) for a
// sentence: at most 120 bytes, Go-quoted, so it cannot break a line.
func quoteTrunc(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return strconv.Quote(s)
}
