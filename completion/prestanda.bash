# SPDX-License-Identifier: MIT
# bash completion for prestanda: commands, and each command's options as its own --help lists them.

_prestanda_opts()
{
	# every --long and -s option a help text names, once each
	"$1" "$2" --help 2>/dev/null | grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' |
		sed 's/^[ ,]//' | sort -u
}

_prestanda()
{
	local cur prev cmd i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "run record report diff flame attach --help --version" -- "$cur"))
		return
	fi
	cmd=${COMP_WORDS[1]}
	# after `--` comes a program and its own arguments
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = "--" ]; then
			if [ $((i + 1)) -eq "$COMP_CWORD" ]; then
				COMPREPLY=($(compgen -c -- "$cur"))
			else
				COMPREPLY=($(compgen -f -- "$cur"))
			fi
			return
		fi
	done
	case "$prev" in
	-f | --format)
		[ "$cmd" = flame ] && COMPREPLY=($(compgen -W "svg folded speedscope pprof" -- "$cur")) && return
		[ "$cmd" = diff ] && COMPREPLY=($(compgen -W "text markdown json" -- "$cur")) && return
		;;
	-m | --metric)
		if [ "$cmd" = flame ]; then
			COMPREPLY=($(compgen -W "cpu alloc-bytes alloc-calls peak-bytes leaked-bytes temporary off-cpu lock-wait connect-time" -- "$cur"))
			return
		fi
		;;
	-g | --call-graph)
		COMPREPLY=($(compgen -W "dwarf fp" -- "$cur"))
		return
		;;
	--push-spool)
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	-p | --pid)
		COMPREPLY=($(compgen -W "$(ls /proc | grep -E '^[0-9]+$')" -- "$cur"))
		return
		;;
	esac
	if [[ "$cur" == -* ]]; then
		COMPREPLY=($(compgen -W "$(_prestanda_opts "${COMP_WORDS[0]}" "$cmd")" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}

complete -o filenames -F _prestanda prestanda
