package simrack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// exitMarker precedes the exit code the CLI extracts from exec and instance
// shell streams.
const exitMarker = "F1E49A85-0AD7-4AEF-A618-C249C6E6568D"

// renderStatusCode writes the exit code frame.
func renderStatusCode(w io.Writer, code int) error {
	_, err := fmt.Fprintf(w, "%s:%d\n", exitMarker, code)
	return err
}

// processExec is the exec socket: header Command (and Tty, Height, Width,
// Entrypoint, Disable-Stdin). Output is followed by the exit code frame.
func (r *Rack) processExec(c *ctx) error {
	if !c.canWrite() {
		return errorf(http.StatusForbidden, "process exec requires write access")
	}
	app, pid := c.Var("app"), c.Var("pid")
	command := c.Value("command")
	sh, err := r.shellFor(c, func(s *state) (*shell, error) {
		a, err := s.app(app)
		if err != nil {
			return nil, err
		}
		p, err := a.process(pid)
		if err != nil {
			return nil, err
		}
		env := map[string]string{}
		if rel, ok := a.releases[p.Release]; ok {
			env = parseEnv(rel.Env)
		}
		for k, v := range p.env {
			env[k] = v
		}
		env["APP"], env["SERVICE"], env["RACK"], env["HOSTNAME"] = app, p.Name, s.name, pid
		files := imageFiles()
		for k, v := range virtualFiles(pid) {
			files[k] = v
		}
		for k, v := range a.files[pid] {
			files[k] = v
		}
		return &shell{env: env, hostname: pid, cwd: "/app", fs: newFS(files, imageDirs...)}, nil
	})
	if err != nil {
		// The rack renders a status frame before the error (ProcessExec).
		_ = renderStatusCode(c, 0)
		return err
	}
	return renderStatusCode(c, sh.run(command))
}

// shellFor builds a shell bound to the socket's stdin/stdout.
func (r *Rack) shellFor(c *ctx, mk func(s *state) (*shell, error)) (*shell, error) {
	v, err := r.with(func(s *state) (any, error) { return mk(s) })
	if err != nil {
		return nil, err
	}
	sh := v.(*shell)
	ttyV, ttyOK := c.header("Tty")
	stdinV, stdinOK := c.header("Disable-Stdin")
	sh.tty = optBool(ttyV, ttyOK, true) // ProcessExecOptions: default:"true"
	sh.ctx = c.ws.ctx
	sh.in = bufio.NewReader(&stdin{ws: c.ws, disabled: optBool(stdinV, stdinOK, false)})
	sh.out = &ttyWriter{ws: c.ws, tty: sh.tty}
	return sh, nil
}

// shell is a tiny deterministic stand-in for a container. A process exec
// runs its command the way the rack does, without a shell: the command line
// is split into words (quotes and backslashes, no $ expansion, no ; or &&)
// and the first word is run from a table of programs over a small read-only
// filesystem (imageFiles): echo, cat, ls, env, printenv, pwd, whoami, id,
// hostname, uname, date, sleep, test/[, true, false, and sh/bash (with -c,
// or interactive on stdin). Inside sh the shell's syntax and builtins (exit,
// cd, $VAR, $?, ;, &&, ||) apply. Errors read and exit like a Debian
// container's: `ls /nonexistent` prints "ls: cannot access '/nonexistent':
// No such file or directory" and exits 2; an unknown program exits 127 (with
// the container runtime's message for a direct exec, dash's "sh: 1: NAME:
// not found" inside sh). An instance shell is a shell from the start.
type shell struct {
	env      map[string]string
	fs       *fsys
	hostname string
	cwd      string
	tty      bool

	inShell bool // a shell interprets the command line (sh -c, node shell)
	line    int  // dash's line number for error messages
	last    int  // $?

	ctx context.Context
	in  *bufio.Reader
	out io.Writer
}

// errExit stops a script at `exit`.
type errExit struct{ code int }

func (e errExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// run executes a command line and returns its exit code.
func (sh *shell) run(line string) int {
	if strings.TrimSpace(line) == "" {
		sh.inShell = true
		return sh.interactive()
	}
	if !sh.inShell {
		args, err := sh.words(line, false)
		if err != nil {
			fmt.Fprintf(sh.out, "ERROR: %s\n", err)
			return 1
		}
		code, _ := sh.command(args)
		return code
	}
	sh.line = 1
	code, err := sh.script(line)
	var ex errExit
	if errors.As(err, &ex) {
		return ex.code
	}
	return code
}

// script runs `;`, `&&` and `||` separated commands.
func (sh *shell) script(line string) (int, error) {
	code := 0
	for _, st := range splitStatements(line) {
		switch {
		case st.op == "&&" && code != 0, st.op == "||" && code == 0:
			continue
		}
		args, err := sh.words(st.text, true)
		if err != nil {
			msg := err.Error()
			fmt.Fprintf(sh.out, "sh: %d: Syntax error: %s%s\n", sh.line, strings.ToUpper(msg[:1]), msg[1:])
			return 2, nil
		}
		if len(args) == 0 {
			continue
		}
		code, err = sh.command(args)
		sh.last = code
		if err != nil {
			return code, err
		}
	}
	return code, nil
}

// shellBuiltins exist only inside a shell, not as programs to exec.
var shellBuiltins = map[string]bool{"exit": true, "cd": true, ":": true}

func (sh *shell) command(args []string) (int, error) {
	name, rest := args[0], args[1:]
	if !sh.inShell && shellBuiltins[name] {
		name = "\x00" + name // not found
	}
	switch name {
	case "exit":
		code := 0
		if len(rest) > 0 {
			n, err := strconv.Atoi(rest[0])
			if err != nil || n < 0 {
				fmt.Fprintf(sh.out, "sh: %d: exit: Illegal number: %s\n", sh.line, rest[0])
				return 2, errExit{2}
			}
			code = n & 0xff
		}
		return code, errExit{code}
	case "echo":
		nl := "\n"
		if len(rest) > 0 && rest[0] == "-n" {
			nl, rest = "", rest[1:]
		}
		fmt.Fprint(sh.out, strings.Join(rest, " ")+nl)
	case "true", ":":
	case "false":
		return 1, nil
	case "pwd":
		fmt.Fprintln(sh.out, sh.cwd)
	case "cd":
		dir := sh.env["HOME"]
		if len(rest) > 0 {
			dir = rest[0]
		}
		if dir == "" {
			dir = "/"
		}
		if !sh.fs.dirs[sh.abs(dir)] {
			fmt.Fprintf(sh.out, "sh: %d: cd: can't cd to %s\n", sh.line, dir)
			return 2, nil
		}
		sh.cwd = sh.abs(dir)
	case "test", "[":
		return sh.test(name, rest), nil
	case "whoami":
		fmt.Fprintln(sh.out, "root")
	case "id":
		fmt.Fprintln(sh.out, "uid=0(root) gid=0(root) groups=0(root)")
	case "hostname":
		fmt.Fprintln(sh.out, sh.hostname)
	case "uname":
		if len(rest) > 0 && rest[0] == "-a" {
			fmt.Fprintf(sh.out, "Linux %s 6.1.0-simrack #1 SMP x86_64 GNU/Linux\n", sh.hostname)
		} else {
			fmt.Fprintln(sh.out, "Linux")
		}
	case "date":
		fmt.Fprintln(sh.out, time.Now().UTC().Format("Mon Jan _2 15:04:05 UTC 2006"))
	case "env":
		keys := make([]string, 0, len(sh.env))
		for k := range sh.env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(sh.out, "%s=%s\n", k, sh.env[k])
		}
	case "printenv":
		code := 0
		for _, k := range rest {
			if v, ok := sh.env[k]; ok {
				fmt.Fprintln(sh.out, v)
			} else {
				code = 1
			}
		}
		if len(rest) == 0 {
			return sh.command([]string{"env"})
		}
		return code, nil
	case "ls":
		return sh.ls(rest), nil
	case "cat":
		return sh.cat(rest), nil
	case "sleep":
		sh.sleep(rest)
	case "sh", "bash", "ash", "/bin/sh", "/bin/bash":
		sub := *sh
		sub.inShell, sub.line, sub.last = true, 0, 0
		sub.env = maps.Clone(sh.env)
		if len(rest) >= 2 && rest[0] == "-c" {
			sub.line = 1
			code, err := sub.script(rest[1])
			var ex errExit
			if errors.As(err, &ex) {
				return ex.code, nil
			}
			return code, err
		}
		return sub.interactive(), nil
	default:
		name = strings.TrimPrefix(name, "\x00")
		if sh.inShell {
			fmt.Fprintf(sh.out, "sh: %d: %s: not found\n", sh.line, name)
		} else {
			fmt.Fprintf(sh.out, "OCI runtime exec failed: exec failed: unable to start container process: exec: %q: executable file not found in $PATH: unknown\n", name)
		}
		return 127, nil
	}
	return 0, nil
}

// cat copies stdin to stdout until EOF (the client's empty binary frame),
// or prints known files.
func (sh *shell) cat(files []string) int {
	if len(files) == 0 || (len(files) == 1 && files[0] == "-") {
		buf := make([]byte, 32*1024)
		for {
			n, err := sh.in.Read(buf)
			if n > 0 {
				if _, werr := sh.out.Write(buf[:n]); werr != nil {
					return 1
				}
			}
			if err != nil {
				return 0
			}
		}
	}
	code := 0
	for _, f := range files {
		p := sh.abs(f)
		if sh.fs.dirs[p] {
			fmt.Fprintf(sh.out, "cat: %s: Is a directory\n", f)
			code = 1
			continue
		}
		b, ok := sh.fs.files[p]
		if !ok {
			fmt.Fprintf(sh.out, "cat: %s: No such file or directory\n", f)
			code = 1
			continue
		}
		_, _ = sh.out.Write(b)
	}
	return code
}

// sleep waits the given seconds, or until the client goes away.
func (sh *shell) sleep(args []string) {
	if len(args) == 0 {
		return
	}
	secs, err := strconv.ParseFloat(strings.TrimSuffix(args[0], "s"), 64)
	if err != nil || secs <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(secs * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
	case <-sh.ctx.Done():
	}
}

// interactive reads command lines from stdin until EOF or `exit`.
func (sh *shell) interactive() int {
	code := 0
	for {
		if sh.tty {
			fmt.Fprintf(sh.out, "root@%s:%s# ", sh.hostname, sh.cwd)
		}
		line, err := sh.in.ReadString('\n')
		sh.line++
		if strings.TrimSpace(line) != "" {
			c, serr := sh.script(strings.TrimRight(line, "\r\n"))
			var ex errExit
			if errors.As(serr, &ex) {
				return ex.code
			}
			code = c
		}
		if err != nil {
			return code
		}
	}
}

// statement is one command of a script and the operator before it.
type statement struct {
	op   string // "", ";", "&&", "||"
	text string
}

// splitStatements splits on ;, && and || outside quotes.
func splitStatements(s string) []statement {
	var out []statement
	var cur strings.Builder
	op := ""
	var quote byte
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			} else if ch == '\\' && quote == '"' && i+1 < len(s) {
				cur.WriteByte(ch)
				i++
				ch = s[i]
			}
			cur.WriteByte(ch)
			continue
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '\\' && i+1 < len(s):
			cur.WriteByte(ch)
			i++
			ch = s[i]
		case ch == ';' || ch == '\n':
			out = append(out, statement{op: op, text: cur.String()})
			cur.Reset()
			op = ";"
			continue
		case (ch == '&' || ch == '|') && i+1 < len(s) && s[i+1] == ch:
			out = append(out, statement{op: op, text: cur.String()})
			cur.Reset()
			op = string([]byte{ch, ch})
			i++
			continue
		}
		cur.WriteByte(ch)
	}
	return append(out, statement{op: op, text: cur.String()})
}

// words splits a command into words with POSIX-ish quoting and, when
// expand is set (inside a shell), $VAR expansion (not inside single quotes).
func (sh *shell) words(s string, expand bool) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quoted string")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case ch == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0:
					i++
					cur.WriteByte(s[i])
				case s[i] == '$' && expand:
					i = sh.expand(s, i, &cur)
				default:
					cur.WriteByte(s[i])
				}
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quoted string")
			}
			inWord = true
		case ch == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case ch == '$' && expand:
			i = sh.expand(s, i, &cur)
			inWord = true
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// expand writes the value of the variable starting at s[i] ('$') and
// returns the index of its last byte.
func (sh *shell) expand(s string, i int, b *strings.Builder) int {
	if i+1 < len(s) && s[i+1] == '{' {
		if j := strings.IndexByte(s[i:], '}'); j > 0 {
			b.WriteString(sh.env[s[i+2:i+j]])
			return i + j
		}
	}
	if i+1 < len(s) && s[i+1] == '?' {
		b.WriteString(strconv.Itoa(sh.last))
		return i + 1
	}
	j := i + 1
	for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
		j++
	}
	if j == i+1 {
		b.WriteByte('$')
		return i
	}
	b.WriteString(sh.env[s[i+1:j]])
	return j - 1
}
