package simrack

import (
	"crypto/x509"
	"encoding/pem"
	"sort"
	"strconv"
	"strings"
	"time"
)

func (s *state) certificate(id string) (*apiCertificate, error) {
	cert, ok := s.certificates[id]
	if !ok {
		return nil, notFound("certificate not found: %s", id)
	}
	return cert, nil
}

func certView(c *apiCertificate) apiCertificate {
	v := *c
	v.Domains = append([]string(nil), c.Domains...)
	return v
}

func (r *Rack) certificateList(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		out := make([]apiCertificate, 0, len(s.certificates))
		for _, cert := range s.certificates {
			out = append(out, certView(cert))
		}
		sort.Slice(out, func(i, j int) bool { return strings.ToUpper(out[i].Id) < strings.ToUpper(out[j].Id) })
		return out, nil
	}))
}

// certificateCreate is POST /certificates (params pub, key — a private key
// PEM — and chain). Domains and expiry come from the certificate when it
// parses; the key is checked for presence only and never stored.
func (r *Rack) certificateCreate(c *ctx) error {
	pub, key := c.Value("pub"), c.Value("key")
	if pub == "" || key == "" {
		return badRequest("pub and key are required")
	}
	cert := &apiCertificate{
		Id:         "cert-" + strings.ToLower(randString(upper, 8)),
		Domain:     "unknown",
		Domains:    []string{"unknown"},
		Expiration: time.Now().UTC().Add(90 * 24 * time.Hour).Truncate(time.Second),
		Status:     "issued",
	}
	if b, _ := pem.Decode([]byte(pub)); b != nil {
		if x, err := x509.ParseCertificate(b.Bytes); err == nil {
			cert.Domain = x.Subject.CommonName
			cert.Domains = append([]string(nil), x.DNSNames...)
			if len(cert.Domains) == 0 {
				cert.Domains = []string{x.Subject.CommonName}
			}
			if cert.Domain == "" {
				cert.Domain = cert.Domains[0]
			}
			cert.Expiration = x.NotAfter.UTC()
		}
	}
	return c.json(r.with(func(s *state) (any, error) {
		s.certificates[cert.Id] = cert
		return certView(cert), nil
	}))
}

// certificateGenerate is POST /certificates/generate (param domains).
func (r *Rack) certificateGenerate(c *ctx) error {
	var domains []string
	for _, d := range strings.Split(c.Value("domains"), ",") {
		if d = strings.TrimSpace(d); d != "" {
			domains = append(domains, d)
		}
	}
	if len(domains) == 0 {
		return badRequest("must specify a domain")
	}
	if len(domains) > 10 {
		return badRequest("can not specify more than 10 domain name")
	}
	cert := &apiCertificate{
		Id:         "cert-" + strings.ToLower(randString(upper, 8)),
		Domain:     domains[0],
		Domains:    domains,
		Expiration: time.Now().UTC().Add(90 * 24 * time.Hour).Truncate(time.Second),
		Status:     "pending",
	}
	return c.json(r.with(func(s *state) (any, error) {
		s.certificates[cert.Id] = cert
		return certView(cert), nil
	}))
}

func (r *Rack) certificateDelete(c *ctx) error {
	return c.ok(r.with(func(s *state) (any, error) {
		id := c.Var("id")
		if _, err := s.certificate(id); err != nil {
			return nil, err
		}
		delete(s.certificates, id)
		return nil, nil
	}))
}

func (r *Rack) certificateRenew(c *ctx) error {
	return c.ok(r.with(func(s *state) (any, error) {
		cert, err := s.certificate(c.Var("id"))
		if err != nil {
			return nil, err
		}
		cert.Expiration = time.Now().UTC().Add(90 * 24 * time.Hour).Truncate(time.Second)
		return nil, nil
	}))
}

// certificateApply is PUT /apps/{app}/ssl/{service}/{port} (param id).
func (r *Rack) certificateApply(c *ctx) error {
	port, err := strconv.Atoi(c.Var("port"))
	if err != nil {
		return err
	}
	id := c.Value("id")
	return c.ok(r.with(func(s *state) (any, error) {
		if _, err := s.certificate(id); err != nil {
			return nil, err
		}
		a, err := s.app(c.Var("app"))
		if err != nil {
			return nil, err
		}
		svc, err := a.service(c.Var("service"))
		if err != nil {
			return nil, err
		}
		ports := append([]apiServicePort(nil), svc.Ports...)
		for i := range ports {
			if ports[i].Balancer == port || ports[i].Container == port {
				ports[i].Certificate = id
				svc.Ports = ports
				return nil, nil
			}
		}
		return nil, notFound("port %d not found on service %s", port, svc.Name)
	}))
}

func (r *Rack) registryList(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		out := make([]apiRegistry, 0, len(s.registries))
		for _, reg := range s.registries {
			out = append(out, *reg)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Server < out[j].Server })
		return out, nil
	}))
}

// registryAdd is POST /registries (params server, username, password).
func (r *Rack) registryAdd(c *ctx) error {
	reg := apiRegistry{Server: c.Value("server"), Username: c.Value("username"), Password: c.Value("password")}
	if reg.Server == "" {
		return badRequest("server required")
	}
	return c.json(r.with(func(s *state) (any, error) {
		s.registries[reg.Server] = &reg
		return reg, nil
	}))
}

// registryRemove is DELETE /registries/{server:.*}; servers may contain "/".
func (r *Rack) registryRemove(c *ctx) error {
	server := c.Var("server")
	if err := rejectDotDot("registry", server); err != nil {
		return err
	}
	return c.ok(r.with(func(s *state) (any, error) {
		if _, ok := s.registries[server]; !ok {
			return nil, notFound("no such registry: %s", server)
		}
		delete(s.registries, server)
		return nil, nil
	}))
}
