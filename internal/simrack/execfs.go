package simrack

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// imageFiles is the filesystem of every simulated app container: a small
// Debian image with a Ruby app in /app (the seeded builds' Dockerfile).
// Seeded and uploaded files (`convox cp`) and virtualFiles are laid over it.
func imageFiles() map[string][]byte {
	return map[string][]byte{
		"/app/Gemfile":      []byte("source \"https://rubygems.org\"\n\ngem \"rails\", \"~> 7.1\"\ngem \"puma\"\ngem \"pg\"\n"),
		"/app/Gemfile.lock": []byte("GEM\n  remote: https://rubygems.org/\n  specs:\n    pg (1.5.6)\n    puma (6.4.2)\n    rails (7.1.3)\n"),
		"/app/config.ru":    []byte("require_relative \"config/environment\"\nrun Rails.application\n"),
		"/app/app/controllers/application_controller.rb": []byte("class ApplicationController < ActionController::Base\nend\n"),
		"/app/bin/web":           []byte("#!/bin/sh\nexec bundle exec puma -p \"${PORT:-3000}\"\n"),
		"/app/bin/worker":        []byte("#!/bin/sh\nexec bundle exec rake jobs:work\n"),
		"/app/config/puma.rb":    []byte("port ENV.fetch(\"PORT\", 3000)\nworkers 2\n"),
		"/app/public/robots.txt": []byte("User-agent: *\nDisallow:\n"),
		"/etc/hosts":             []byte("127.0.0.1\tlocalhost\n"),
		"/etc/passwd":            []byte("root:x:0:0:root:/root:/bin/bash\n"),
		"/bin/sh":                nil,
		"/bin/bash":              nil,
		"/bin/cat":               nil,
		"/bin/ls":                nil,
		"/bin/echo":              nil,
		"/usr/bin/env":           nil,
		"/usr/local/bin/ruby":    nil,
		"/usr/local/bin/bundle":  nil,
	}
}

// imageDirs are the image's empty directories.
var imageDirs = []string{"/tmp", "/root", "/home", "/var/log", "/proc", "/dev", "/app/tmp", "/app/log"}

// fsys is the shell's read-only view of a container: absolute paths to
// contents, directories implied by the paths plus explicit ones.
type fsys struct {
	files map[string][]byte
	dirs  map[string]bool
}

func newFS(files map[string][]byte, dirs ...string) *fsys {
	fs := &fsys{files: files, dirs: map[string]bool{"/": true}}
	for _, d := range dirs {
		fs.addDir(d)
	}
	for f := range files {
		fs.addDir(path.Dir(f))
	}
	return fs
}

func (fs *fsys) addDir(d string) {
	for d = path.Clean(d); !fs.dirs[d]; d = path.Dir(d) {
		fs.dirs[d] = true
	}
}

// children lists the names directly inside dir, sorted bytewise like ls in
// the C locale.
func (fs *fsys) children(dir string) []string {
	prefix := strings.TrimSuffix(dir, "/") + "/"
	seen := map[string]bool{}
	add := func(p string) {
		if rest, ok := strings.CutPrefix(p, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			seen[rest] = true
		}
	}
	for f := range fs.files {
		add(f)
	}
	for d := range fs.dirs {
		add(d)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// abs resolves p against the shell's working directory.
func (sh *shell) abs(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = sh.cwd + "/" + p
	}
	return path.Clean(p)
}

// ls is GNU ls for -a, -A, -l and -1: operands that do not exist are an
// error on stderr and exit status 2, like coreutils.
func (sh *shell) ls(args []string) int {
	all, almost, long := false, false, false
	var operands []string
	for i, a := range args {
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			operands = append(operands, a)
			continue
		}
		for _, f := range a[1:] {
			switch f {
			case 'a':
				all = true
			case 'A':
				almost = true
			case 'l':
				long = true
			case '1':
			default:
				fmt.Fprintf(sh.out, "ls: invalid option -- '%c'\nTry 'ls --help' for more information.\n", f)
				return 2
			}
		}
	}
	if len(operands) == 0 {
		operands = []string{"."}
	}
	code := 0
	var files, dirs []string
	for _, op := range operands {
		p := sh.abs(op)
		switch {
		case sh.fs.dirs[p]:
			dirs = append(dirs, op)
		case sh.fs.hasFile(p):
			files = append(files, op)
		default:
			fmt.Fprintf(sh.out, "ls: cannot access '%s': No such file or directory\n", op)
			code = 2
		}
	}
	sort.Strings(files)
	sort.Strings(dirs)
	for _, f := range files {
		sh.lsEntry(f, sh.abs(f), long)
	}
	for i, d := range dirs {
		if len(files) > 0 || i > 0 {
			fmt.Fprintln(sh.out)
		}
		if len(operands) > 1 {
			fmt.Fprintf(sh.out, "%s:\n", d)
		}
		p := sh.abs(d)
		names := sh.fs.children(p)
		if all {
			names = append([]string{".", ".."}, names...)
		} else if !almost {
			shown := names[:0]
			for _, n := range names {
				if !strings.HasPrefix(n, ".") {
					shown = append(shown, n)
				}
			}
			names = shown
		}
		if long {
			fmt.Fprintf(sh.out, "total %d\n", 4*len(names))
		}
		for _, n := range names {
			sh.lsEntry(n, path.Join(p, n), long)
		}
	}
	return code
}

func (fs *fsys) hasFile(p string) bool {
	_, ok := fs.files[p]
	return ok
}

func (sh *shell) lsEntry(name, p string, long bool) {
	if !long {
		fmt.Fprintln(sh.out, name)
		return
	}
	mode, links, size := "-rw-r--r--", 1, len(sh.fs.files[p])
	switch {
	case sh.fs.dirs[p]:
		mode, links, size = "drwxr-xr-x", 2, 4096
	case strings.Contains(p, "/bin/"):
		mode = "-rwxr-xr-x"
	}
	fmt.Fprintf(sh.out, "%s %d root root %5d Jan  1 00:00 %s\n", mode, links, size, name)
}

// test is test(1)/[ for -e, -f, -d, -n, -z, = and !=.
func (sh *shell) test(name string, args []string) int {
	if name == "[" {
		if len(args) == 0 || args[len(args)-1] != "]" {
			fmt.Fprintf(sh.out, "sh: %d: [: missing ]\n", sh.line)
			return 2
		}
		args = args[:len(args)-1]
	}
	ok := false
	switch {
	case len(args) == 0:
	case len(args) == 1:
		ok = args[0] != ""
	case len(args) == 2 && args[0] == "-e":
		ok = sh.fs.dirs[sh.abs(args[1])] || sh.fs.hasFile(sh.abs(args[1]))
	case len(args) == 2 && args[0] == "-f":
		ok = sh.fs.hasFile(sh.abs(args[1]))
	case len(args) == 2 && args[0] == "-d":
		ok = sh.fs.dirs[sh.abs(args[1])]
	case len(args) == 2 && args[0] == "-n":
		ok = args[1] != ""
	case len(args) == 2 && args[0] == "-z":
		ok = args[1] == ""
	case len(args) == 3 && args[1] == "=":
		ok = args[0] == args[2]
	case len(args) == 3 && args[1] == "!=":
		ok = args[0] != args[2]
	default:
		fmt.Fprintf(sh.out, "sh: %d: %s: unexpected operator\n", sh.line, name)
		return 2
	}
	if ok {
		return 0
	}
	return 1
}
