# Shared by cores/generate*.sh: logging, JSON escaping, the Go build environment, and
# running one scenario until it dies by a signal with a valid core and oracle.
# The sourcing script defines WORKDIR, ATTEMPTS and check_stderr FILE SCENARIO.

log() { printf '%s\n' "$*" >&2; }
die() { log "$(basename "$0"): $*"; exit 1; }

json_escape() {
	local s=$1
	s=${s//\\/\\\\}
	s=${s//\"/\\\"}
	printf '%s' "$s"
}

is_elf_core() { file -b "$1" | grep -q 'ELF 64-bit LSB core file'; }

go_env() { # goroot [mode]: cgo only for the cgo modes
	local cgo=0
	case ${2:-} in cgo | cgopie) cgo=1 ;; esac
	echo "GOROOT=$1 GOPATH=$WORKDIR/gopath GOCACHE=$WORKDIR/gocache GOFLAGS=-mod=mod GOTOOLCHAIN=local GO111MODULE=on CGO_ENABLED=$cgo"
}

run_scenario() { # bin scenario rundir -> prints exit signal name; returns 0 on success
	local bin=$1 s=$2 dir=$3 attempt rc core
	for attempt in $(seq 1 "$ATTEMPTS"); do
		rm -rf "$dir"
		mkdir -p "$dir"
		set +e
		(
			cd "$dir"
			ulimit -c unlimited
			# timeout reports "dumped core" on its own stderr: keep that out
			# of the oracle by redirecting only the scenario's streams.
			exec timeout -s KILL 60 sh -c 'exec "$@" >stdout 2>stderr' sh \
				env GOTRACEBACK=crash GOMAXPROCS=2 "$bin" "$s" 2>timeout.log
		)
		rc=$?
		set -e
		core=$(find "$dir" -maxdepth 1 \( -name core -o -name 'core.[0-9]*' \) | head -n1)
		if [ "$rc" -gt 128 ] && [ -n "$core" ] && is_elf_core "$core" && check_stderr "$dir/stderr" "$s"; then
			[ "$core" = "$dir/core" ] || mv "$core" "$dir/core"
			echo "SIG$(kill -l $((rc - 128)))"
			return 0
		fi
		log "  $s: attempt $attempt failed (exit $rc, core '${core}')"
	done
	return 1
}
