package simrack

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

func (r *Rack) instanceList(c *ctx) error {
	return c.json(r.with(func(s *state) (any, error) {
		counts := map[string]int{}
		for _, a := range s.apps {
			for _, p := range a.processes {
				counts[p.Instance]++
			}
		}
		out := make([]apiInstance, 0, len(s.instances))
		for _, i := range s.instances {
			v := *i
			v.Processes = counts[i.Id]
			out = append(out, v)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
		return out, nil
	}))
}

// instanceKeyroll is POST /instances/keyroll. The response carries a
// (fake, but PEM-shaped) private key — a credential.
func (r *Rack) instanceKeyroll(c *ctx) error {
	var raw [48]byte
	_, _ = rand.Read(raw[:])
	name := fmt.Sprintf("%s-keypair-%s", r.cfg.Name, strings.ToLower(randString(upper, 6)))
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + base64.StdEncoding.EncodeToString(raw[:]) + "\n-----END OPENSSH PRIVATE KEY-----\n"
	return c.renderJSON(apiKeyPair{Name: &name, PrivateKey: &key})
}

func (r *Rack) instanceTerminate(c *ctx) error {
	id := c.Var("id")
	return c.ok(r.with(func(s *state) (any, error) {
		if _, ok := s.instances[id]; !ok {
			return nil, notFound("instance not found: %s", id)
		}
		delete(s.instances, id)
		s.system.Count = len(s.instances)
		return nil, nil
	}))
}

// instanceShell is the SSH-to-node socket: write role, header Private-Key
// (base64, required), optional Command; always a TTY. Ends with the exit
// code frame.
func (r *Rack) instanceShell(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "instance shell requires write access")
	}
	id := c.Var("id")
	sh, err := r.shellFor(c, func(s *state) (*shell, error) {
		if _, ok := s.instances[id]; !ok {
			return nil, notFound("instance not found")
		}
		key, _ := c.header("Private-Key")
		if key == "" {
			return nil, badRequest("private key is not provided")
		}
		if b, err := base64.StdEncoding.DecodeString(key); err != nil || len(b) == 0 {
			return nil, badRequest("private key is not valid base64")
		}
		env := map[string]string{"HOME": "/home/ec2-user", "USER": "ec2-user", "HOSTNAME": id}
		return &shell{env: env, hostname: id, cwd: "/home/ec2-user", inShell: true, fs: newFS(virtualFiles(id), "/home/ec2-user", "/tmp")}, nil
	})
	if err != nil {
		return err
	}
	sh.tty = true // the rack always requests a pty for node shells
	sh.out = &ttyWriter{ws: c.ws, tty: true}
	command, _ := c.header("Command")
	return renderStatusCode(c, sh.run(command))
}
