#!/usr/bin/env bash
# Times `locals` (and `locals -v`) in the frame of main.holder, which holds a
# 1,000,000-entry map and a 100 MB slice, on the cores made by bench/vars-gen.sh:
# coroner beside Delve, best of REPS runs each (wall time and peak RSS from GNU
# time), and checks that both print the same lines.
#
# Environment (optional):
#   CORONER   coroner binary (default target/release/coroner)
#   DLV       Delve binary (default dlv; Delve 1.27 reads the Go 1.25+ cores)
#   COMMANDS  newline-separated commands run in that frame (default "locals",
#             "locals -v")
#   REPS      runs per tool and command (default 5)
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CORONER=${CORONER:-$ROOT/target/release/coroner}
DLV=${DLV:-dlv}
COMMANDS=${COMMANDS:-$'locals\nlocals -v'}
REPS=${REPS:-5}
TIME=/usr/bin/time
FUNC=main.holder

[ -x "$TIME" ] || { echo "vars-run.sh: $TIME (GNU time) is required" >&2; exit 1; }
[ -x "$CORONER" ] || { echo "vars-run.sh: build coroner first (cargo build --release)" >&2; exit 1; }
command -v "$DLV" >/dev/null || { echo "vars-run.sh: no Delve at $DLV (set DLV)" >&2; exit 1; }
shopt -s nullglob
targets=("$HERE"/out/vars-go*/)
[ ${#targets[@]} -gt 0 ] || { echo "vars-run.sh: no cores; run bench/vars-gen.sh first" >&2; exit 1; }

strip_colour() { sed 's/\x1b\[[0-9;]*m//g'; }

# The command's answer without the tools' banners, lines sorted (map order).
answer() { grep -vE "^(Type 'help'|Signal: |Thread: |Panic: |Go: )" | sort; }

# tool_argv TOOL BIN CORE: the command line opening CORE with TOOL.
tool_argv() {
	case $1 in
	delve) printf '%s\n' "$DLV" core "$2" "$3" --allow-non-terminal-interactive --check-go-version=false ;;
	coroner) printf '%s\n' "$CORONER" core "$2" "$3" ;;
	esac
}

# frame_of TOOL BIN CORE DIR: the tool's frame number of $FUNC in goroutine 1
# (Delve and coroner number signal frames differently).
frame_of() {
	local argv
	mapfile -t argv < <(tool_argv "$1" "$2" "$3")
	printf 'goroutine 1 stack 100\nexit\n' >"$4/stack.cmds"
	"${argv[@]}" --init "$4/stack.cmds" </dev/null 2>/dev/null | strip_colour |
		awk -v f="$FUNC" '$2 ~ /^0x/ && $3 == "in" && $4 == f {print $1; exit}'
}

rows=()
for dir in "${targets[@]}"; do
	dir=${dir%/}
	label=$(basename "$dir")
	bin=$dir/varsbench core=$dir/core
	[ -f "$bin" ] && [ -f "$core" ] || continue
	echo "== $label: core $(du -h "$core" | cut -f1)" >&2
	declare -A frame=()
	for tool in delve coroner; do
		frame[$tool]=$(frame_of "$tool" "$bin" "$core" "$dir")
		[ -n "${frame[$tool]}" ] || { echo "vars-run.sh: $tool shows no $FUNC frame" >&2; exit 1; }
	done
	while IFS= read -r cmd; do
		[ -n "$cmd" ] || continue
		slug=${cmd// /_}
		for tool in delve coroner; do
			mapfile -t argv < <(tool_argv "$tool" "$bin" "$core")
			init=$dir/$tool-$slug.cmds out=$dir/$tool-$slug.out tm=$dir/$tool-$slug.time
			printf 'goroutine 1 frame %s %s\nexit\n' "${frame[$tool]}" "$cmd" >"$init"
			best= rss=0
			for _ in $(seq 1 "$REPS"); do
				"$TIME" -f '%e %M' -o "$tm" "${argv[@]}" --init "$init" </dev/null 2>/dev/null |
					strip_colour >"$out"
				read -r w r < <(tail -n1 "$tm")
				if [ -z "$best" ] || awk -v a="$w" -v b="$best" 'BEGIN{exit !(a < b)}'; then best=$w; fi
				[ "$r" -gt "$rss" ] 2>/dev/null && rss=$r
			done
			rows+=("$(printf '%-14s %-10s %-8s %8ss %9s MB' "$label" "$cmd" "$tool" "$best" "$((rss / 1024))")")
		done
		# The same answer, line for line (map entries as a set).
		if diff <(answer <"$dir/delve-$slug.out") <(answer <"$dir/coroner-$slug.out") >/dev/null; then
			rows+=("$(printf '%-14s %-10s same output' "$label" "$cmd")")
		else
			rows+=("$(printf '%-14s %-10s OUTPUT DIFFERS (see %s)' "$label" "$cmd" "$dir")")
		fi
	done <<<"$COMMANDS"
done

printf '\n%-14s %-10s %-8s %9s %12s\n' target command tool "best wall" "peak RSS"
printf '%s\n' "${rows[@]}"
