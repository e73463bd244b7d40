// Package openapi holds the OpenAPI 3 document of the gateway's admin API
// (/api/v1), embedded in the binary and served by package web at
// /api/v1/openapi.yaml and /api/v1/openapi.json. Tests in internal/web and
// internal/gateway hold it to the routes the server registers and to the
// bodies it really answers.
package openapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var document []byte

// YAML returns the document as written.
func YAML() []byte { return document }

var jsonOnce = sync.OnceValues(func() ([]byte, error) {
	var v any
	if err := yaml.Unmarshal(document, &v); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.MarshalIndent(v, "", "  ")
})

// JSON returns the document converted to JSON (the same content; object
// keys sorted).
func JSON() ([]byte, error) { return jsonOnce() }
