#!/bin/sh
# SPDX-License-Identifier: MIT
# A man page from prestanda's own --help text: gen-man.sh PRESTANDA PAGE VERSION, PAGE prestanda or prestanda-COMMAND.
set -eu
bin=$1 page=$2 version=$3
cmd=${page#prestanda}
cmd=${cmd#-}

# roff: backslashes and minus signs escaped, no line taken for a request
esc() {
	sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}

if [ -z "$cmd" ]; then
	help=$("$bin" --help)
	what="profile the heap, CPU, locks and network of Linux programs"
else
	help=$("$bin" "$cmd" --help)
	# the command's line in `prestanda --help`: its description after the
	# column of usages
	what=$("$bin" --help | sed -n "s/^  $cmd .*[^ ]   *\\([^ ].*\\)\$/\\1/p" | head -n 1)
fi
upper=$(echo "$page" | tr 'a-z' 'A-Z')
synopsis=$(echo "$help" | sed -n '1,/^$/p' | sed -e 's/^usage: *//' -e 's/^ *//' -e '/^$/d')
body=$(echo "$help" | sed '1,/^$/d')

printf '.TH %s 1 "" "prestanda %s" "User Commands"\n' "$upper" "$version"
printf '.SH NAME\n%s \\- %s\n' "$(echo "$page" | esc)" "$(echo "$what" | esc)"
printf '.SH SYNOPSIS\n.nf\n%s\n.fi\n' "$(echo "$synopsis" | esc)"
printf '.SH DESCRIPTION\n.nf\n%s\n.fi\n' "$(echo "$body" | esc)"
if [ -z "$cmd" ]; then
	printf '.SH ENVIRONMENT\n.TP\n.B DEBUGINFOD_URLS\n'
	printf 'debuginfod servers the debug info (file:line) of objects without it locally is fetched from, by build id\n'
	printf '.TP\n.B PRESTANDA_CONFIG\nthe configuration file report reads declared pools from\n'
	printf '.SH SEE ALSO\n'
	for c in run record report diff flame; do
		printf '.BR prestanda\\-%s (1)\n' "$c"
	done
else
	printf '.SH SEE ALSO\n.BR prestanda (1)\n'
fi
