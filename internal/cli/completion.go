package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// Shell completion: `rack-gateway completion bash|zsh|fish` prints a script
// made from the command table. Commands, sub-verbs and their summaries come
// from the table; flags from each command's own usage (what `COMMAND
// [SUB] --help` prints), so the scripts cannot drift from the commands.
// Positions the script knows nothing about (arguments, flag values) fall
// back to the shell's file completion.

// completionUsage is the usage of `completion SHELL`: how to install it.
var completionUsage = map[string]string{
	"bash": `completion bash

Prints the bash completion script (commands, sub-verbs and flags). Load it
in ~/.bashrc:

    source <(rack-gateway completion bash)

or install it for bash-completion:

    rack-gateway completion bash > ~/.local/share/bash-completion/completions/rack-gateway`,
	"zsh": `completion zsh

Prints the zsh completion script (commands, sub-verbs and flags, with their
descriptions). Install it in a directory of $fpath, named _rack-gateway,
then start a new shell (compinit must run in ~/.zshrc):

    rack-gateway completion zsh > "${fpath[1]}/_rack-gateway"

or load it in ~/.zshrc, after compinit:

    source <(rack-gateway completion zsh)`,
	"fish": `completion fish

Prints the fish completion script (commands, sub-verbs and flags, with
their descriptions). Install it:

    rack-gateway completion fish > ~/.config/fish/completions/rack-gateway.fish`,
}

// completionCommand is the run of `completion SHELL`.
func completionCommand(shell string) cmdutil.RunFunc {
	return func(ctx context.Context, e *Env, args []string) error {
		fs := cmdutil.NewFlags(e, "completion "+shell, completionUsage[shell])
		if err := fs.ParseNoArgs(args); err != nil {
			return err
		}
		tree := completionTree(ctx)
		switch shell {
		case "bash":
			writeBash(e.Stdout, tree)
		case "zsh":
			writeZsh(e.Stdout, tree)
		case "fish":
			writeFish(e.Stdout, tree)
		}
		return nil
	}
}

// compCmd is a command or sub-verb as completion sees it.
type compCmd struct {
	name, summary string
	// flags of the command; for a sub-verb, its own (the command's, for a
	// client command whose sub-verbs share one flag set).
	flags []compFlag
	subs  []compCmd
}

// compFlag is one flag of a command.
type compFlag struct {
	name, usage string
	value       bool // takes a value (--name N), not a switch
}

// spelled is how the flag is offered: -n for one letter, --name otherwise
// (the flag package takes both spellings).
func (f compFlag) spelled() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// completionTree is the command table with every command's flags, and
// `help`, whose argument is a command.
func completionTree(ctx context.Context) []compCmd {
	out := make([]compCmd, 0, len(commands)+1)
	for i := range commands {
		c := &commands[i]
		n := compCmd{name: c.name, summary: c.summary, flags: commandFlags(ctx, c, nil)}
		for _, s := range c.subs {
			n.subs = append(n.subs, compCmd{name: s.name, summary: s.summary, flags: commandFlags(ctx, c, []string{s.name})})
		}
		out = append(out, n)
	}
	return append(out, compCmd{name: "help", summary: "show the usage of a command"})
}

// commandFlags reads the flags of c (or of its sub-verb, with sub) from
// the usage that `--help` prints: the lines under "Flags:", as the flag
// package writes them ("  -name type" then the usage indented by a tab).
// Asking for help runs nothing (TestEveryCommandHasHelp checks that).
func commandFlags(ctx context.Context, c *command, sub []string) []compFlag {
	var out bytes.Buffer
	e := &Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }, Stdin: strings.NewReader("")}
	_ = c.exec(ctx, e, c.name, append(sub, "--help")) // ErrHelp
	_, flags, ok := strings.Cut(out.String(), "\nFlags:\n")
	if !ok {
		return nil
	}
	var fs []compFlag
	for _, line := range strings.Split(flags, "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			head, usage, _ := strings.Cut(line, "\t") // one-letter switches: usage on the same line
			f := strings.Fields(head)
			fs = append(fs, compFlag{name: strings.TrimPrefix(f[0], "-"), value: len(f) > 1, usage: strings.TrimSpace(usage)})
		case strings.HasPrefix(line, "    \t") && len(fs) > 0 && fs[len(fs)-1].usage == "":
			fs[len(fs)-1].usage = strings.TrimSpace(line)
		}
	}
	return fs
}

// valueFlags are the flags of c and its sub-verbs that take a value, so a
// script can skip the value when it looks for the sub-verb.
func (c compCmd) valueFlags() []string {
	var out []string
	add := func(fs []compFlag) {
		for _, f := range fs {
			if f.value && !contains(out, f.name) {
				out = append(out, f.name)
			}
		}
	}
	add(c.flags)
	for _, s := range c.subs {
		add(s.flags)
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func flagWords(fs []compFlag) []string {
	out := make([]string, 0, len(fs)+1)
	for _, f := range fs {
		out = append(out, f.spelled())
	}
	return append(out, "--help")
}

func cmdNames(cs []compCmd) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.name
	}
	return out
}

// The scripts share one way of reading the command line: walk the words
// before the cursor, skip flags (and the value of a flag that takes one),
// and the first two other words are the command and the sub-verb.

func writeBash(w io.Writer, tree []compCmd) {
	var b strings.Builder
	b.WriteString("# bash completion for rack-gateway; made by `rack-gateway completion bash`.\n")
	b.WriteString("# Load it with: source <(rack-gateway completion bash)\n\n")
	b.WriteString("_rack_gateway_subs() {\n    case \"$1\" in\n")
	for _, c := range tree {
		if len(c.subs) > 0 {
			fmt.Fprintf(&b, "        %s) echo %s ;;\n", c.name, shQuote(strings.Join(cmdNames(c.subs), " ")))
		}
	}
	b.WriteString("    esac\n}\n\n")
	b.WriteString("_rack_gateway_flags() {\n    case \"$1\" in\n")
	for _, c := range tree {
		fmt.Fprintf(&b, "        %s) echo %s ;;\n", shQuote(c.name), shQuote(strings.Join(flagWords(c.flags), " ")))
		for _, s := range c.subs {
			fmt.Fprintf(&b, "        %s) echo %s ;;\n", shQuote(c.name+" "+s.name), shQuote(strings.Join(flagWords(s.flags), " ")))
		}
	}
	b.WriteString("        *) echo --help ;;\n    esac\n}\n\n")
	b.WriteString("_rack_gateway_value_flags() {\n    case \"$1\" in\n")
	for _, c := range tree {
		if v := c.valueFlags(); len(v) > 0 {
			fmt.Fprintf(&b, "        %s) echo %s ;;\n", c.name, shQuote(strings.Join(v, " ")))
		}
	}
	b.WriteString("    esac\n}\n\n")
	fmt.Fprintf(&b, "_rack_gateway_commands=%s\n\n", shQuote(strings.Join(cmdNames(tree), " ")))
	b.WriteString(`_rack_gateway() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local cmd="" sub="" npos=0 i=1 w f words=""
    while [ "$i" -lt "$COMP_CWORD" ]; do
        w="${COMP_WORDS[i]}"
        case "$w" in
            =) i=$((i+1)) ;; # --flag = value (bash splits at '=')
            -*=*) ;;
            -*)
                f="${w#-}"; f="${f#-}"
                case " $(_rack_gateway_value_flags "$cmd") " in
                    *" $f "*) [ "${COMP_WORDS[i+1]}" = "=" ] || i=$((i+1)) ;;
                esac ;;
            *)
                npos=$((npos+1))
                if [ -z "$cmd" ]; then cmd="$w"; elif [ -z "$sub" ]; then sub="$w"; fi ;;
        esac
        i=$((i+1))
    done
    COMPREPLY=()
    case "$prev" in
        -*)
            f="${prev#-}"; f="${f#-}"
            case " $(_rack_gateway_value_flags "$cmd") " in
                *" $f "*) return 0 ;; # a flag's value: files
            esac ;;
    esac
    if [ "$cmd" = help ]; then
        case "$npos" in
            1) words="$_rack_gateway_commands" ;;
            2) words="$(_rack_gateway_subs "$sub")" ;;
        esac
    elif [ -z "$cmd" ]; then
        words="$_rack_gateway_commands"
        case "$cur" in -*) words="--help" ;; esac
    else
        case "$cur" in
            -*)
                words="$(_rack_gateway_flags "$cmd $sub")"
                [ -n "$sub" ] && [ "$words" != "--help" ] || words="$(_rack_gateway_flags "$cmd")" ;;
            *)
                [ -n "$sub" ] || words="$(_rack_gateway_subs "$cmd")" ;;
        esac
    fi
    [ -n "$words" ] || return 0 # arguments: files
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -o default -F _rack_gateway rack-gateway
`)
	io.WriteString(w, b.String())
}

func writeZsh(w io.Writer, tree []compCmd) {
	var b strings.Builder
	b.WriteString("#compdef rack-gateway\n")
	b.WriteString("# zsh completion for rack-gateway; made by `rack-gateway completion zsh`.\n")
	b.WriteString("# Install it as _rack-gateway in a directory of $fpath, or: source <(rack-gateway completion zsh)\n\n")
	described := func(name, desc string) string { return shQuote(name + ":" + oneLine(desc)) }
	b.WriteString("_rack-gateway_commands() {\n    reply=(\n")
	for _, c := range tree {
		fmt.Fprintf(&b, "        %s\n", described(c.name, c.summary))
	}
	b.WriteString("    )\n}\n\n")
	b.WriteString("_rack-gateway_subs() {\n    case $1 in\n")
	for _, c := range tree {
		if len(c.subs) == 0 {
			continue
		}
		fmt.Fprintf(&b, "        (%s) reply=(", c.name)
		for _, s := range c.subs {
			fmt.Fprintf(&b, "\n            %s", described(s.name, s.summary))
		}
		b.WriteString("\n        ) ;;\n")
	}
	b.WriteString("        (*) reply=() ;;\n    esac\n}\n\n")
	b.WriteString("_rack-gateway_flags() {\n    case $1 in\n")
	writeFlags := func(key string, fs []compFlag) {
		fmt.Fprintf(&b, "        (%s) reply=(", shQuote(key))
		for _, f := range fs {
			fmt.Fprintf(&b, "\n            %s", described(f.spelled(), f.usage))
		}
		fmt.Fprintf(&b, "\n            %s\n        ) ;;\n", described("--help", "show the usage"))
	}
	for _, c := range tree {
		writeFlags(c.name, c.flags)
		for _, s := range c.subs {
			writeFlags(c.name+" "+s.name, s.flags)
		}
	}
	b.WriteString("        (*) reply=() ;;\n    esac\n}\n\n")
	b.WriteString("_rack-gateway_value_flags() {\n    case $1 in\n")
	for _, c := range tree {
		if v := c.valueFlags(); len(v) > 0 {
			fmt.Fprintf(&b, "        (%s) reply=(%s) ;;\n", c.name, strings.Join(v, " "))
		}
	}
	b.WriteString("        (*) reply=() ;;\n    esac\n}\n\n")
	b.WriteString(`_rack-gateway() {
    local cmd= sub= w f i npos=0 cur=${words[CURRENT]} prev=${words[CURRENT-1]}
    local -a reply
    for (( i = 2; i < CURRENT; i++ )); do
        w=${words[i]}
        case $w in
            (-*=*) ;;
            (-*)
                f=${w#-}; f=${f#-}
                _rack-gateway_value_flags $cmd
                (( ${reply[(Ie)$f]} )) && (( i++ )) ;;
            (*)
                (( npos++ ))
                if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;
        esac
    done
    if [[ $prev == -* ]]; then
        f=${prev#-}; f=${f#-}
        _rack-gateway_value_flags $cmd
        if (( ${reply[(Ie)$f]} )); then _files; return; fi
    fi
    if [[ $cmd == help ]]; then
        case $npos in
            (1) _rack-gateway_commands; _describe -t commands 'rack-gateway command' reply ;;
            (2) _rack-gateway_subs $sub; (( ${#reply} )) && _describe -t verbs "$sub verb" reply ;;
        esac
        return
    fi
    if [[ -z $cmd ]]; then
        _rack-gateway_commands
        _describe -t commands 'rack-gateway command' reply
        return
    fi
    if [[ $cur == -* ]]; then
        reply=()
        [[ -n $sub ]] && _rack-gateway_flags "$cmd $sub"
        (( ${#reply} )) || _rack-gateway_flags $cmd
        _describe -t flags 'flag' reply
        return
    fi
    if [[ -z $sub ]]; then
        _rack-gateway_subs $cmd
        if (( ${#reply} )); then _describe -t verbs "$cmd verb" reply; return; fi
    fi
    _files
}

if [ "$funcstack[1]" = "_rack-gateway" ]; then
    _rack-gateway "$@"
else
    compdef _rack-gateway rack-gateway
fi
`)
	io.WriteString(w, b.String())
}

func writeFish(w io.Writer, tree []compCmd) {
	var b strings.Builder
	b.WriteString("# fish completion for rack-gateway; made by `rack-gateway completion fish`.\n")
	b.WriteString("# Install it: rack-gateway completion fish > ~/.config/fish/completions/rack-gateway.fish\n\n")
	b.WriteString("function __rack_gateway_value_flags\n    switch $argv[1]\n")
	for _, c := range tree {
		if v := c.valueFlags(); len(v) > 0 {
			fmt.Fprintf(&b, "        case %s\n            printf '%%s\\n' %s\n", fishQuote(c.name), strings.Join(v, " "))
		}
	}
	b.WriteString("    end\nend\n\n")
	b.WriteString(`# The words before the cursor that are neither flags nor flag values.
function __rack_gateway_pos
    set -l words (commandline -opc)
    set -e words[1]
    set -l cmd
    set -l skip 0
    for w in $words
        if test $skip = 1
            set skip 0
            continue
        end
        switch $w
            case '-*=*'
            case '-*'
                if contains -- (string replace -r -- '^--?' '' $w) (__rack_gateway_value_flags $cmd)
                    set skip 1
                end
            case '*'
                test -n "$cmd"; or set cmd $w
                echo $w
        end
    end
end

# True when the words so far (without flags) are exactly the arguments.
function __rack_gateway_at
    set -l pos (__rack_gateway_pos)
    test "$pos" = "$argv"
end

# True when the words so far (without flags) begin with the arguments.
function __rack_gateway_under
    set -l pos (__rack_gateway_pos)
    test (count $pos) -ge (count $argv); or return 1
    for i in (seq (count $argv))
        test "$pos[$i]" = "$argv[$i]"; or return 1
    end
end

`)
	for _, c := range tree {
		fmt.Fprintf(&b, "complete -c rack-gateway -n __rack_gateway_at -f -a %s -d %s\n", fishQuote(c.name), fishQuote(oneLine(c.summary)))
		fmt.Fprintf(&b, "complete -c rack-gateway -n '__rack_gateway_at help' -f -a %s -d %s\n", fishQuote(c.name), fishQuote(oneLine(c.summary)))
	}
	for _, c := range tree {
		for _, s := range c.subs {
			for _, at := range []string{c.name, "help " + c.name} {
				fmt.Fprintf(&b, "complete -c rack-gateway -n %s -f -a %s -d %s\n", fishQuote("__rack_gateway_at "+at), fishQuote(s.name), fishQuote(oneLine(s.summary)))
			}
		}
	}
	fishFlags := func(under string, fs []compFlag) {
		for _, f := range fs {
			opt := "-l " + fishQuote(f.name)
			if len(f.name) == 1 {
				opt = "-o " + fishQuote(f.name)
			}
			if f.value {
				opt += " -r"
			}
			fmt.Fprintf(&b, "complete -c rack-gateway -n %s %s -d %s\n", fishQuote("__rack_gateway_under "+under), opt, fishQuote(oneLine(f.usage)))
		}
	}
	for _, c := range tree {
		if len(c.subs) == 0 || c.flags != nil {
			fishFlags(c.name, c.flags)
		}
		for _, s := range c.subs {
			if !sameFlags(s.flags, c.flags) {
				fishFlags(c.name+" "+s.name, s.flags)
			}
		}
	}
	b.WriteString("complete -c rack-gateway -l help -d 'show the usage'\n")
	io.WriteString(w, b.String())
}

func sameFlags(a, b []compFlag) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// oneLine is a description on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// shQuote quotes s for POSIX shells (and zsh).
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishQuote quotes s for fish, where \\ and \' are the escapes inside
// single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
