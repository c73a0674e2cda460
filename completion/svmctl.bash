# SPDX-License-Identifier: GPL-2.0-or-later
# bash completion for svmctl: commands, options, the devices svmd manages, binding ids.

# The socket or bus options already on the line, for asking svmd.
__svmctl_conn() {
	local w
	for w in "${COMP_WORDS[@]}"; do
		case $w in --socket=* | --bus | --bus=*) printf '%s\n' "$w" ;; esac
	done
}

__svmctl_devices() {
	svmctl $(__svmctl_conn) devices 2>/dev/null |
		awk '$1 ~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]:[0-9a-f][0-9a-f]\.[0-7]$/ && !seen[$1]++ { print $1 }'
}

__svmctl_bindings() {
	svmctl $(__svmctl_conn) --no-legend list 2>/dev/null | awk '{ print $1 }'
}

_svmctl() {
	local cur prev words cword
	_init_completion -n = 2>/dev/null || {
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	}
	local commands="devices list status show policy metrics monitor bind-task bind-pgtable bind-pasid-table
		open-device map unbind invalidate explain reload"
	local global="--socket= --bus --bus= --json --json= --no-legend --help --version"

	# After "--" the command line is CMD's: complete commands there.
	local i cmd="" pos=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--) COMPREPLY=($(compgen -c -- "$cur")); return ;;
		-p | --property) ((i++)) ;;
		-*) ;;
		*) if [[ -z $cmd ]]; then cmd=${words[i]}; else ((pos++)); fi ;;
		esac
	done

	case $cur in
	--model=*) COMPREPLY=($(compgen -W "vtd smmu" -- "${cur#*=}")); return ;;
	--json=*) COMPREPLY=($(compgen -W "short pretty" -- "${cur#*=}")); return ;;
	--addr-width=*) COMPREPLY=($(compgen -W "48 57" -- "${cur#*=}")); return ;;
	--vtd-flags=*) COMPREPLY=($(compgen -W "sre eafe pcd pwt emte cd" -- "${cur##*[=,]}")); return ;;
	--user=*) COMPREPLY=($(compgen -u -- "${cur#*=}")); return ;;
	--socket=*) COMPREPLY=($(compgen -f -- "${cur#*=}")); return ;;
	--property=*) cur=${cur#*=} ;;
	esac
	if [[ $prev == -p || $prev == --property || $cur == --property=* ]]; then
		COMPREPLY=($(compgen -W "Id Kind Device PASID OwnerUID OwnerUser OwnerPID TargetPID Leased CreatedUSec" -- "$cur"))
		return
	fi

	local opts=$global
	case $cmd in
	bind-task) opts+=" --pid= --pasid= --hold --" ;;
	bind-pgtable) opts+=" --pasid= --pgd= --addr-width= --gpasid= --hold --" ;;
	bind-pasid-table) opts+=" --ptr= --size= --model= --hold --" ;;
	open-device) opts+=" --hold --" ;;
	map) opts+=" --iova= --size= --read-only --hold --" ;;
	explain) opts+=" --pasid= --user= --addr-width= --vtd-flags= --iova= --size=" ;;
	show) opts+=" -p --property=" ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		[[ ${COMPREPLY[0]} == *= ]] && compopt -o nospace 2>/dev/null
		return
	fi
	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands" -- "$cur")) ;;
	bind-task | bind-pgtable | bind-pasid-table | open-device | map)
		((pos == 0)) && COMPREPLY=($(compgen -W "$(__svmctl_devices)" -- "$cur")) ;;
	explain)
		if ((pos == 0)); then
			COMPREPLY=($(compgen -W "bind-task bind-pgtable bind-pasid-table open-device map reload invalidate" -- "$cur"))
		elif ((pos == 1)); then
			COMPREPLY=($(compgen -W "$(__svmctl_devices)" -- "$cur"))
		fi ;;
	unbind | show | invalidate)
		((pos == 0)) && COMPREPLY=($(compgen -W "$(__svmctl_bindings)" -- "$cur")) ;;
	esac
}
complete -F _svmctl svmctl
