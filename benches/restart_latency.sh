#!/usr/bin/env bash
# Crash-to-respawn latency, vigild vs Python supervisord 4.3, on the same config.
#
# A program exits with status 1 every ~1.1 s (after startsecs, so autorestart applies);
# the time from the `exited:` log line to the next `spawned:` line is measured for each
# supervisor over the same run length. supervisord notices exits on its 1 s poll loop;
# vigild reacts to SIGCHLD.
#
# Usage: benches/restart_latency.sh [seconds]   (needs ./scripts/test run once for the venv)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
cargo build --release --quiet --bin vigild
supervisord=target/venv/bin/supervisord
[ -x "$supervisord" ] || { echo "run ./scripts/test first (installs supervisord in target/venv)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # name command...
  local name=$1; shift
  mkdir -p "$work/$name"
  cat > "$work/$name/s.conf" <<CONF
[supervisord]
logfile=$work/$name/main.log
pidfile=$work/$name/s.pid
childlogdir=$work/$name
[program:crashy]
command=/bin/sh -c "sleep 1.1; exit 1"
startsecs=1
CONF
  timeout --signal=TERM "$seconds" "$@" -n -c "$work/$name/s.conf" >/dev/null 2>&1 || true
}
run vigild target/release/vigild
run supervisord "$supervisord"

python3 - "$work" <<'PY'
import statistics, sys
def gaps(path):
    def t(line):
        h, m, s = line.split()[1].split(":"); s, ms = s.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
    lines = open(path).read().splitlines()
    out = []
    for i, line in enumerate(lines):
        if "exited: crashy" in line:
            nxt = next((l for l in lines[i + 1:] if "spawned: 'crashy'" in l), None)
            if nxt:
                out.append((t(nxt) - t(line)) * 1000)
    return out
v = gaps(f"{sys.argv[1]}/vigild/main.log")
s = gaps(f"{sys.argv[1]}/supervisord/main.log")
vm, sm = statistics.median(v), statistics.median(s)
print(f"crash-to-respawn median: vigild {vm:.1f} ms ({len(v)} restarts), supervisord {sm:.1f} ms ({len(s)} restarts)")
print(f"ratio supervisord/vigild: {sm / max(vm, 0.5):.0f}x (log timestamps have 1 ms resolution)")
PY
