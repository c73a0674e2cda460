#!/usr/bin/zsh -f
# SPDX-License-Identifier: GPL-2.0-or-later
# zsh-complete.zsh FPATH_DIR LINE: types LINE and TAB into an interactive zsh (in a pty, with
# compinit and the completion functions of FPATH_DIR first in $fpath) and prints what its
# completion system offers, one match a line. compadd is wrapped to print the matches it is
# given before it adds them; everything else (compinit, _arguments, _describe) is zsh's own.
# Exit 0, or 2 when the shell did not answer within 10 s. SVMD_ZSH_DEBUG=1: the pty's bytes too.
emulate -L zsh
zmodload zsh/zpty || exit 2
local dir=$1 line=$2 out=

zpty z zsh -f -i
zpty -w z 'PS1= PS2= RPS1=; unsetopt zle_bracketed_paste 2>/dev/null; stty cols 500 rows 500'
zpty -w z 'unsetopt auto_list auto_menu list_beep beep; LISTMAX=100000'
zpty -w z "fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd() {
	if (( ${@[(I)-[OAD]]} )); then builtin compadd "$@"; return; fi
	local -a hits; builtin compadd -A hits "$@"
	local h; for h in $hits; do print -r -- "@@HI""T@@$h"; done
	builtin compadd "$@"
}'
zpty -w z '_svmd_test_tab() { zle complete-word; print -r -- "@@DON""E@@"; zle send-break; }'
zpty -w z 'zle -N _svmd_test_tab; bindkey "^I" _svmd_test_tab; print -r -- @@READ""Y@@'
# Reads from the shell until $1 comes (or 10 s pass): into $out.
await() {
	local chunk
	SECONDS=0
	while (( SECONDS < 10 )) && [[ $out != *$1* ]]; do
		if zpty -r -t z chunk 2>/dev/null; then
			out+=$chunk
		else
			sleep 0.05
		fi
	done
	[[ $out == *$1* ]]
}
# The set-up done, type. (The markers are quoted in what is typed, which the pty echoes: only
# what the shell prints has them whole.)
await @@READY@@ || { print -u2 "zsh-complete: the shell did not start"; zpty -d z; exit 2; }
out=
zpty -w -n z "$line"$'\t'
await @@DONE@@
zpty -d z
[[ $out == *@@DONE@@* ]] || { print -u2 "zsh-complete: no answer to '$line<TAB>'"; exit 2; }
[[ -n ${SVMD_ZSH_DEBUG:-} ]] && print -r -- "$out" | cat -v >&2
local l
for l in ${(f)out//$'\r'/}; do
	[[ $l == *@@HIT@@* ]] && print -r -- ${l##*@@HIT@@}
done
exit 0
