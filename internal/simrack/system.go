package simrack

import (
	"time"
)

// RackVersion is the version GET /system reports for a new simulated rack:
// the newest convox/convox release (github.com/convox/convox tag 3.24.9,
// June 2026). Keep it at the current release when the CLI moves on: the CLI
// compares rack versions as plain strings (e.g. `s.Version <=
// "20180708231844"` picks the legacy v2 code paths, and `rack update`
// compares the minor number of 3.x versions), so any 3.x value takes the v3
// paths and only the number shown to users changes. `convox rack update
// VERSION` (PUT /system version=…) still changes it per rack.
const RackVersion = "3.24.9"

func (r *Rack) systemGet(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		v := s.system
		v.Count = len(s.instances)
		if len(s.system.Parameters) > 0 {
			v.Parameters = map[string]string{}
			for k, p := range s.system.Parameters {
				v.Parameters[k] = p
			}
		}
		return v, nil
	}))
}

// systemUpdate is PUT /system (params count, force, parameters, type,
// version). Parameters merge into what GET /system reports.
func (r *Rack) systemUpdate(c *ctx) error {
	count, err := optInt(c.param("count"))
	if err != nil {
		return err
	}
	params, err := optMap(c.param("parameters"))
	if err != nil {
		return err
	}
	typ, hasType := c.param("type")
	version, hasVersion := c.param("version")
	return c.ok(r.with(func(s *state) (any, error) {
		if count != nil && *count < 1 {
			return nil, badRequest("count must be at least 1")
		}
		if len(params) > 0 {
			next := map[string]string{}
			for k, v := range s.system.Parameters {
				next[k] = v
			}
			for k, v := range params {
				next[k] = v
			}
			s.system.Parameters = next
		}
		if hasType {
			s.system.Type = typ
		}
		if hasVersion && version != "" {
			s.system.Version = version
		}
		return nil, nil
	}))
}

func (r *Rack) capacityGet(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		v := apiCapacity{
			ClusterCPU:    int64(2048 * len(s.instances)),
			ClusterMemory: int64(7974 * len(s.instances)),
		}
		for _, a := range s.apps {
			for _, svc := range a.services {
				v.ProcessCount += int64(svc.Count)
				v.ProcessCPU += int64(svc.Cpu * svc.Count)
				v.ProcessMemory += int64(svc.Memory * svc.Count)
			}
		}
		return v, nil
	}))
}

// sampleMetrics returns deterministic metric series for names.
func sampleMetrics(names ...string) []apiMetric {
	now := time.Now().UTC().Truncate(time.Minute)
	out := make([]apiMetric, 0, len(names))
	for i, n := range names {
		m := apiMetric{Name: n, Values: []apiMetricValue{}}
		for j := 5; j >= 0; j-- {
			base := float64(10*(i+1) + j)
			m.Values = append(m.Values, apiMetricValue{
				Average: base, Count: 60, Maximum: base + 5, Minimum: base - 5, Sum: base * 60,
				Time: now.Add(-time.Duration(j) * 5 * time.Minute),
			})
		}
		out = append(out, m)
	}
	return out
}

func (r *Rack) systemMetrics(c *ctx) error {
	return c.renderJSON(sampleMetrics("cluster-cpu-utilization", "cluster-mem-utilization", "instance-count"))
}

// systemProcesses lists the rack's own processes; with all=true the apps'
// processes too.
func (r *Rack) systemProcesses(c *ctx) error {
	all, ok := c.query("all")
	return c.json(r.with(func(s *state) (any, error) {
		now := time.Now().UTC()
		ids := s.instanceIDs()
		out := []apiProcess{}
		for i, name := range []string{"api", "atom", "router"} {
			inst := ""
			if len(ids) > 0 {
				inst = ids[i%len(ids)]
			}
			out = append(out, apiProcess{
				Id:       name + "-7c9d8f6b5d-k2m4" + string(podAlphabet[i]),
				App:      "system",
				Command:  "",
				Cpu:      0.02,
				Host:     "10.1.0." + string(rune('1'+i)),
				Image:    "convox/convox:" + s.system.Version,
				Instance: inst,
				Memory:   96,
				Name:     name,
				Ports:    []string{},
				Release:  s.system.Version,
				Started:  now.Add(-72 * time.Hour),
				Status:   "running",
			})
		}
		if optBool(all, ok, false) {
			for _, a := range s.apps {
				for _, p := range a.processes {
					out = append(out, processView(p))
				}
			}
		}
		sortProcesses(out)
		return out, nil
	}))
}

// systemReleases lists rack versions, newest first.
func (r *Rack) systemReleases(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		now := time.Now().UTC()
		return []apiRelease{
			{Id: s.system.Version, App: s.name, Created: now.Add(-72 * time.Hour), Description: "rack update"},
			{Id: "3.24.5", App: s.name, Created: now.Add(-30 * 24 * time.Hour), Description: "rack install"},
		}, nil
	}))
}

func (r *Rack) karpenterCleanup(c *ctx) error { return c.renderOK() }
