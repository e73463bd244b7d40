package web

import (
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/web/openapi"
)

// routesOpenAPI serves the API's OpenAPI document. It needs no credentials:
// it describes routes and shapes that the open-source README documents
// too, and holds no secrets, so tools can fetch it before anyone has a
// token.
func (s *Server) routesOpenAPI() {
	s.route("GET /api/v1/openapi.yaml", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openapi.YAML())
	}))
	s.route("GET /api/v1/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := openapi.JSON()
		if err != nil { // a broken embedded document; a test catches it first
			s.logger().Error("openapi document", "err", err)
			writeError(w, http.StatusInternalServerError, audit.NewRequestID(),
				apitypes.Error{Error: "internal error; it was logged", Reason: apitypes.ReasonInternal})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
}
