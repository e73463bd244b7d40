package simrack

import (
	"encoding/base64"
	"fmt"
	"time"
)

// Seeded data. Ids are fixed so tests can refer to them; values are
// deliberately secret-looking so redaction can be tested.
//
//	apps:       myapp (services web x2 on port 3000, worker x1), blog (web x1 on 8080)
//	builds:     myapp BMYAPPFIRST, BMYAPPSECND; blog BBLOGBUILDA
//	releases:   myapp RMYAPPFIRST, RMYAPPSECND (current); blog RBLOGRELEAS (current)
//	processes:  myapp web-5d8f9c7b6b-x2x7k, web-5d8f9c7b6b-q4zr9, worker-6c4f8d9b7f-m2n5p;
//	            blog web-7f6d5c4b9d-h8j2k
//	resources:  myapp database (postgres), cache (redis); rack-level shared-db (postgres, linked to myapp)
//	registry:   registry.example.com (deploy / registry-s3cret-pw)
//	instances:  ip-10-0-1-11.ec2.internal, ip-10-0-2-22.ec2.internal, ip-10-0-3-33.ec2.internal
//	cert:       cert-myapp-example (myapp.example.com)
const (
	myappManifest = `environment:
  - DATABASE_URL
  - SECRET_KEY_BASE
  - PORT=3000
services:
  web:
    build: .
    port: 3000
    health: /health
  worker:
    build: .
    command: bin/worker
`
	myappEnvFirst  = "DATABASE_URL=postgres://u:secretpw@db/x\nPORT=3000"
	myappEnvSecond = "DATABASE_URL=postgres://u:secretpw@db/x\nSECRET_KEY_BASE=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\nPORT=3000"

	blogManifest = `services:
  web:
    build: .
    port: 8080
`
	blogEnv = "PORT=8080\nAPI_TOKEN=blog-api-token-s3cret"
)

func newState(name string) *state {
	now := time.Now().UTC()
	domain := name + ".convox.local"
	s := &state{
		name:         name,
		domain:       domain,
		apps:         map[string]*appState{},
		resources:    map[string]*resourceState{},
		certificates: map[string]*apiCertificate{},
		registries:   map[string]*apiRegistry{},
		instances:    map[string]*apiInstance{},
		letsencrypt:  apiLetsEncryptConfig{Solvers: []*apiDNS01Solver{}},
	}

	for i, ip := range []string{"10.0.1.11", "10.0.2.22", "10.0.3.33"} {
		id := fmt.Sprintf("ip-10-0-%d-%d%d.ec2.internal", i+1, i+1, i+1)
		s.instances[id] = &apiInstance{
			Cpu: 0.42, CpuCapacity: 2, CpuAllocatable: 1.93,
			Id:     id,
			Memory: 2893, MemoryCapacity: 7974, MemoryAllocatable: 7236,
			PrivateIp: ip, PublicIp: "",
			Status:  "running",
			Started: now.Add(-72 * time.Hour),
		}
	}

	s.system = apiSystem{
		Count:      len(s.instances),
		Domain:     "router." + domain,
		Name:       name,
		Provider:   "aws",
		RackDomain: "api." + domain,
		Region:     "us-east-1",
		Status:     "running",
		Version:    RackVersion,
	}

	myapp := s.seedApp("myapp")
	myapp.addBuild(seedBuild(name, "myapp", "BMYAPPFIRST", "RMYAPPFIRST", "build 3f2a9c1d7e initial import", myappManifest, now.Add(-48*time.Hour)))
	myapp.addBuild(seedBuild(name, "myapp", "BMYAPPSECND", "RMYAPPSECND", "build 8b1e4d2c6a add health check", myappManifest, now.Add(-time.Hour)))
	myapp.addRelease(&apiRelease{Id: "RMYAPPFIRST", App: "myapp", Build: "BMYAPPFIRST", Env: myappEnvFirst,
		Manifest: myappManifest, Description: "build 3f2a9c1d7e initial import", Created: now.Add(-48 * time.Hour)})
	myapp.addRelease(&apiRelease{Id: "RMYAPPSECND", App: "myapp", Build: "BMYAPPSECND", Env: myappEnvSecond,
		Manifest: myappManifest, Description: "build 8b1e4d2c6a add health check", Created: now.Add(-time.Hour)})
	myapp.Release = "RMYAPPSECND"
	myapp.services = []*apiService{
		newService("myapp", manifestService{name: "web", port: 3000}, 2, s.domain),
		newService("myapp", manifestService{name: "worker"}, 1, s.domain),
	}
	instances := s.instanceIDs()
	for i, pid := range []string{"web-5d8f9c7b6b-x2x7k", "web-5d8f9c7b6b-q4zr9", "worker-6c4f8d9b7f-m2n5p"} {
		svc := myapp.services[0]
		if i == 2 {
			svc = myapp.services[1]
		}
		p := myapp.newProcess(svc, pid, instances)
		p.Instance = instances[i%len(instances)]
		p.Started = now.Add(-time.Duration(50-i) * time.Minute)
		myapp.processes[pid] = p
	}
	myapp.resources["database"] = &resourceState{apiResource: apiResource{
		Name: "database", Type: "postgres", Status: "running",
		Parameters: map[string]string{"version": "13", "storage": "20"},
		Url:        "postgres://app:dbsecretpw@database.myapp.svc.cluster.local:5432/app",
	}}
	myapp.resources["cache"] = &resourceState{apiResource: apiResource{
		Name: "cache", Type: "redis", Status: "running",
		Parameters: map[string]string{"version": "6.2"},
		Url:        "redis://:cachesecretpw@cache.myapp.svc.cluster.local:6379/0",
	}}
	myapp.configs["app-config"] = base64.StdEncoding.EncodeToString([]byte(`{"api_key":"config-s3cret","feature_flags":{"beta":true}}`))
	myapp.files["web-5d8f9c7b6b-x2x7k"] = map[string][]byte{
		"/app/config/database.yml": []byte("production:\n  url: postgres://u:secretpw@db/x\n"),
	}

	blog := s.seedApp("blog")
	blog.addBuild(seedBuild(name, "blog", "BBLOGBUILDA", "RBLOGRELEAS", "build 5c7d9e1f3a first post", blogManifest, now.Add(-24*time.Hour)))
	blog.addRelease(&apiRelease{Id: "RBLOGRELEAS", App: "blog", Build: "BBLOGBUILDA", Env: blogEnv,
		Manifest: blogManifest, Description: "build 5c7d9e1f3a first post", Created: now.Add(-24 * time.Hour)})
	blog.Release = "RBLOGRELEAS"
	blog.services = []*apiService{newService("blog", manifestService{name: "web", port: 8080}, 1, s.domain)}
	bp := blog.newProcess(blog.services[0], "web-7f6d5c4b9d-h8j2k", instances)
	bp.Instance = instances[0]
	bp.Started = now.Add(-20 * time.Hour)
	blog.processes[bp.Id] = bp

	for _, a := range s.apps {
		for _, b := range a.builds {
			a.objects[fmt.Sprintf("build/%s/logs", b.Id)] = logObject(b.logs)
		}
	}

	s.resources["shared-db"] = &resourceState{
		apiResource: apiResource{
			Name: "shared-db", Type: "postgres", Status: "running",
			Parameters: map[string]string{"version": "13", "storage": "100"},
			Url:        "postgres://shared:sharedsecretpw@shared-db.simrack-system.svc.cluster.local:5432/shared",
		},
		links: []string{"myapp"},
	}

	s.registries["registry.example.com"] = &apiRegistry{Server: "registry.example.com", Username: "deploy", Password: "registry-s3cret-pw"}

	s.certificates["cert-myapp-example"] = &apiCertificate{
		Id: "cert-myapp-example", Domain: "myapp.example.com",
		Domains:    []string{"myapp.example.com", "*.myapp.example.com"},
		Expiration: now.Add(60 * 24 * time.Hour).Truncate(time.Second),
		Status:     "issued",
	}
	return s
}

func (s *state) seedApp(name string) *appState {
	a := newAppState(name, s.domain)
	a.Status = "running"
	s.apps[name] = a
	return a
}

// newAppState returns an empty app (no release yet).
func newAppState(name, domain string) *appState {
	return &appState{
		apiApp: apiApp{
			Generation: "3",
			Name:       name,
			Router:     "router." + domain,
			Status:     "running",
			Parameters: map[string]string{},
		},
		processes: map[string]*procState{},
		builds:    map[string]*buildState{},
		releases:  map[string]*apiRelease{},
		objects:   map[string]*object{},
		resources: map[string]*resourceState{},
		configs:   map[string]string{},
		files:     map[string]map[string][]byte{},
	}
}

func seedBuild(rack, app, id, release, desc, manifest string, started time.Time) *buildState {
	b := &buildState{
		apiBuild: apiBuild{
			Id: id, App: app, Description: desc, Manifest: manifest,
			Process: "build-" + randString(podAlphabet, 5), Release: release,
			Repository: fmt.Sprintf("registry.simrack.local/%s", app),
			Logs:       fmt.Sprintf("object://%s/build/%s/logs", app, id),
			Status:     "complete",
			Started:    started, Ended: started.Add(95 * time.Second),
		},
		changed: make(chan struct{}),
		done:    true,
	}
	b.logs = seedBuildLogs(rack, app, id, manifest)
	return b
}
