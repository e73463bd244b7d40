package simrack

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const marker = "F1E49A85-0AD7-4AEF-A618-C249C6E6568D:"

func TestWebsocketHandshake(t *testing.T) {
	tr := newTestRack(t)
	read := tr.token("read")

	t.Run("origin mismatch is 403 before auth", func(t *testing.T) {
		_, res, err := tr.dial("/apps/myapp/logs", "convox", "wrong", map[string]string{"Origin": "http://evil.example.com"})
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Fatalf("err %v res %+v", err, res)
		}
	})

	tests := []struct {
		name       string
		path       string
		user, pass string
		header     map[string]string
		want       string
	}{
		{"bad password", "/apps/myapp/logs", "convox", "wrong", nil, "ERROR: invalid authentication\n"},
		{"bad password on exec", "/apps/myapp/processes/web-5d8f9c7b6b-x2x7k/exec", "convox", "wrong",
			map[string]string{"Command": "echo hi"}, "ERROR: invalid authentication\n"},
		{"bad jwt", "/system/logs", "jwt", "not-a-token", nil,
			"ERROR: invalid authentication: token contains an invalid number of segments\n"},
		{"read jwt on exec", "/apps/myapp/processes/web-5d8f9c7b6b-x2x7k/exec", "jwt", read,
			map[string]string{"Command": "echo hi"}, "ERROR: process exec requires write access\n"},
		{"read jwt on console", "/apps/myapp/resources/database/console", "jwt", read, nil,
			"ERROR: resource console requires write access\n"},
		{"read jwt on proxy", "/proxy/10.0.0.5/5432", "jwt", read, nil, "ERROR: proxy requires write access\n"},
		{"read jwt on shell", "/instances/ip-10-0-1-11.ec2.internal/shell", "jwt", read, nil,
			"ERROR: instance shell requires write access\n"},
		{"proxy refuses loopback", "/proxy/127.0.0.1/22", "convox", testPassword, nil, "ERROR: invalid proxy host\n"},
		{"proxy refuses metadata", "/proxy/169.254.169.254/80", "convox", testPassword, nil, "ERROR: invalid proxy host\n"},
		{"proxy refuses short ip", "/proxy/127.1/80", "convox", testPassword, nil, "ERROR: invalid proxy host\n"},
		{"proxy refuses localhost", "/proxy/localhost/80", "convox", testPassword, nil, "ERROR: invalid proxy host\n"},
		{"proxy bad port", "/proxy/10.0.0.5/99999", "convox", testPassword, nil, "ERROR: invalid proxy port\n"},
		{"unknown process", "/apps/myapp/processes/nope/logs", "convox", testPassword, nil, "ERROR: process not found: nope\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, res, err := tr.dial(tt.path, tt.user, tt.pass, tt.header)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			if res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("status %d", res.StatusCode)
			}
			text, frames := readUntilEOF(t, conn)
			if text != tt.want {
				t.Fatalf("got %q, want %q", text, tt.want)
			}
			if len(frames) != 2 || frames[0].binary || !frames[1].binary {
				t.Fatalf("frames %+v, want one text frame then an empty binary frame", frames)
			}
		})
	}
}

func TestExec(t *testing.T) {
	tr := newTestRack(t)
	const pid = "/apps/myapp/processes/web-5d8f9c7b6b-x2x7k/exec"
	tests := []struct {
		name     string
		header   map[string]string
		stdin    []string // text frames, then an empty binary frame
		wantOut  string
		wantCode string
	}{
		{"exit code", map[string]string{"Command": "sh -c 'exit 7'", "Tty": "false"}, nil, "", "7"},
		{"exit is a shell builtin, not a program", map[string]string{"Command": "exit 7", "Tty": "false"}, nil,
			"OCI runtime exec failed: exec failed: unable to start container process: exec: \"exit\": executable file not found in $PATH: unknown\n", "127"},
		{"cat relays stdin", map[string]string{"Command": "cat", "Tty": "false"}, []string{"hello\n", "world\n"}, "hello\nworld\n", "0"},
		{"echo", map[string]string{"Command": "echo hi there", "Tty": "false"}, nil, "hi there\n", "0"},
		{"echo with tty", map[string]string{"Command": "echo hi"}, nil, "hi\r\n", "0"},
		{"env from release", map[string]string{"Command": "printenv PORT", "Tty": "false"}, nil, "3000\n", "0"},
		{"sh -c script", map[string]string{"Command": `sh -c "echo a; false || echo b && exit 3"`, "Tty": "false"}, nil, "a\nb\n", "3"},
		{"quoted expansion", map[string]string{"Command": `sh -c 'echo "$APP:$PORT"'`, "Tty": "false"}, nil, "myapp:3000\n", "0"},
		{"interactive shell", map[string]string{"Command": "bash", "Tty": "false"}, []string{"echo one\n", "exit 4\n"}, "one\n", "4"},
		{"unknown command", map[string]string{"Command": "rails console", "Tty": "false"}, nil,
			"OCI runtime exec failed: exec failed: unable to start container process: exec: \"rails\": executable file not found in $PATH: unknown\n", "127"},
		{"unknown command in sh", map[string]string{"Command": "sh -c 'rails console'", "Tty": "false"}, nil, "sh: 1: rails: not found\n", "127"},
		{"no shell: words are literal", map[string]string{"Command": "echo $HOME; echo 'a  b' c\\ d", "Tty": "false"}, nil, "$HOME; echo a  b c d\n", "0"},
		{"ls missing path", map[string]string{"Command": "ls /nonexistent", "Tty": "false"}, nil,
			"ls: cannot access '/nonexistent': No such file or directory\n", "2"},
		{"ls working directory", map[string]string{"Command": "ls", "Tty": "false"}, nil,
			"Gemfile\nGemfile.lock\napp\nbin\nconfig\nconfig.ru\nlog\npublic\ntmp\n", "0"},
		{"ls dir and file", map[string]string{"Command": "ls bin /etc/hostname", "Tty": "false"}, nil,
			"/etc/hostname\n\nbin:\nweb\nworker\n", "0"},
		{"ls some missing", map[string]string{"Command": "ls -1 config nope", "Tty": "false"}, nil,
			"ls: cannot access 'nope': No such file or directory\nconfig:\ndatabase.yml\npuma.rb\n", "2"},
		{"ls -la", map[string]string{"Command": "ls -la /app/bin", "Tty": "false"}, nil,
			"total 16\ndrwxr-xr-x 2 root root  4096 Jan  1 00:00 .\ndrwxr-xr-x 2 root root  4096 Jan  1 00:00 ..\n" +
				"-rwxr-xr-x 1 root root    51 Jan  1 00:00 web\n-rwxr-xr-x 1 root root    42 Jan  1 00:00 worker\n", "0"},
		{"ls bad option", map[string]string{"Command": "ls -z", "Tty": "false"}, nil,
			"ls: invalid option -- 'z'\nTry 'ls --help' for more information.\n", "2"},
		{"cat missing", map[string]string{"Command": "cat nope.txt", "Tty": "false"}, nil, "cat: nope.txt: No such file or directory\n", "1"},
		{"cat directory", map[string]string{"Command": "cat /etc", "Tty": "false"}, nil, "cat: /etc: Is a directory\n", "1"},
		{"exit status in sh", map[string]string{"Command": `sh -c 'ls /nope; echo "ls said $?"; cd /nope'`, "Tty": "false"}, nil,
			"ls: cannot access '/nope': No such file or directory\nls said 2\nsh: 1: cd: can't cd to /nope\n", "2"},
		{"cd and test in sh", map[string]string{"Command": `sh -c 'cd /etc && pwd && [ -f hostname ] && test -d /app/public && echo yes'`, "Tty": "false"}, nil,
			"/etc\nyes\n", "0"},
		{"stdin disabled", map[string]string{"Command": "cat", "Tty": "false", "Disable-Stdin": "true"}, nil, "", "0"},
		{"seeded file", map[string]string{"Command": "cat config/database.yml", "Tty": "false"}, nil, "production:\n  url: postgres://u:secretpw@db/x\n", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := tr.mustDial(pid, tt.header)
			for _, s := range tt.stdin {
				if err := conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			sendEOF(t, conn)
			text, _ := readUntilEOF(t, conn)
			wantTail := marker + tt.wantCode + "\n"
			if !strings.HasSuffix(text, wantTail) {
				t.Fatalf("output %q lacks %q", text, wantTail)
			}
			if out := strings.TrimSuffix(text, wantTail); out != tt.wantOut {
				t.Fatalf("output %q, want %q", out, tt.wantOut)
			}
		})
	}

	t.Run("unknown process renders status then error", func(t *testing.T) {
		conn := tr.mustDial("/apps/myapp/processes/nope/exec", map[string]string{"Command": "echo"})
		text, _ := readUntilEOF(t, conn)
		if text != marker+"0\nERROR: process not found: nope\n" {
			t.Fatalf("got %q", text)
		}
	})
}

func TestLogs(t *testing.T) {
	tr := newTestRack(t)
	tests := []struct {
		name      string
		path      string
		header    map[string]string
		wantLines int
		contains  string
	}{
		{"app logs", "/apps/myapp/logs", map[string]string{"Follow": "false"}, 10, "service/web/web-5d8f9c7b6b-x2x7k Listening on 0.0.0.0:3000"},
		{"service logs", "/apps/myapp/services/worker/logs", map[string]string{"Follow": "false"}, 2, "Worker started"},
		{"process logs no prefix", "/apps/myapp/processes/web-5d8f9c7b6b-q4zr9/logs", map[string]string{"Follow": "false"}, 4, "\nGET / 200 12ms\n"},
		{"filter", "/apps/myapp/logs", map[string]string{"Follow": "false", "Filter": "health"}, 2, "GET /health"},
		{"tail", "/apps/myapp/logs", map[string]string{"Follow": "false", "Tail": "3"}, 3, ""},
		{"since", "/apps/myapp/logs", map[string]string{"Follow": "false", "Since": "30s"}, 2, "POST /login"},
		{"system logs", "/system/logs", map[string]string{"Follow": "false"}, 5, "system/k8s/api"},
		{"build logs", "/apps/myapp/builds/BMYAPPFIRST/logs", nil, 23, "Step 4/4 : CMD [\"bin/web\"]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := tr.mustDial(tt.path, tt.header)
			text, frames := readUntilEOF(t, conn)
			if n := strings.Count(text, "\n"); n != tt.wantLines {
				t.Errorf("%d lines, want %d:\n%s", n, tt.wantLines, text)
			}
			if !strings.Contains("\n"+text, tt.contains) {
				t.Errorf("missing %q in:\n%s", tt.contains, text)
			}
			if last := frames[len(frames)-1]; !last.binary || last.data != "" {
				t.Errorf("last frame %+v", last)
			}
		})
	}

	t.Run("follow until client eof", func(t *testing.T) {
		conn := tr.mustDial("/apps/myapp/logs", map[string]string{"Since": "1s"}) // Follow defaults to true
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for i := 0; i < 3; i++ {
			mt, data, err := conn.ReadMessage()
			if err != nil || mt != websocket.TextMessage || !strings.Contains(string(data), "request") && !strings.Contains(string(data), "job") {
				t.Fatalf("live line %d: %d %q %v", i, mt, data, err)
			}
		}
		sendEOF(t, conn)
		readUntilEOF(t, conn)
	})
}

func TestInteractiveSockets(t *testing.T) {
	tr := newTestRack(t)
	key := base64.StdEncoding.EncodeToString([]byte("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n"))
	tests := []struct {
		name   string
		path   string
		header map[string]string
		stdin  []string
		want   string
	}{
		{"proxy echoes", "/proxy/database.myapp.svc.cluster.local/5432", nil, []string{"\x00\x01raw", "bytes"}, "\x00\x01rawbytes"},
		{"instance shell command", "/instances/ip-10-0-1-11.ec2.internal/shell",
			map[string]string{"Private-Key": key, "Command": "hostname; exit 2"}, nil, "ip-10-0-1-11.ec2.internal\r\n" + marker + "2\n"},
		{"instance shell needs key", "/instances/ip-10-0-1-11.ec2.internal/shell", nil, nil, "ERROR: private key is not provided\n"},
		{"resource console", "/apps/myapp/resources/database/console", nil, []string{"select 1;\n", "\\q\n"},
			"postgres console for myapp/database (simrack)\r\ndatabase=>  ?column? \r\n----------\r\n        1\r\n(1 row)\r\n\r\ndatabase=> "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := tr.mustDial(tt.path, tt.header)
			for _, s := range tt.stdin {
				if err := conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
					t.Fatal(err)
				}
			}
			sendEOF(t, conn)
			if text, _ := readUntilEOF(t, conn); text != tt.want {
				t.Fatalf("got %q, want %q", text, tt.want)
			}
		})
	}
}
