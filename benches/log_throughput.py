#!/usr/bin/env python3
"""Log throughput: a child writes SIZE bytes of 100-byte lines to stdout.

The lines are generated into a file first; the child is `cat` of that file, so the child is
never the bottleneck. Measured side by side, on the same bytes:
  cat          the pipe-to-file floor: `cat lines | cat > file`
  vigild       `cat lines` as a program, stdout_logfile=file
  supervisord  the same config under Python supervisord 4.3 (target/venv)
each with rotation off (maxbytes=0) and on (50MB files, enough backups to keep all).

Reported: MB/s, the ratio to cat, and CPU (user+sys) as cores while relaying and as
seconds per GB relayed, for the relaying cat and for each daemon.
Usage: benches/log_throughput.py [MiB]   (default 512; run ./scripts/test once for the venv)
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGILD = os.path.join(ROOT, "target", "release", "vigild")
SUPERVISORD = os.path.join(ROOT, "target", "venv", "bin", "supervisord")
LINE = "x" * 99  # plus the newline: 100 bytes


def generate(path, size):
    """Writes `size` bytes of 100-byte lines to `path`."""
    block = (LINE + "\n").encode() * 10486  # ~1 MiB of whole lines
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:left])
            left -= len(block)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def logged_bytes(directory):
    while True:
        try:
            return sum(
                os.path.getsize(os.path.join(directory, name))
                for name in os.listdir(directory)
                if name.startswith("gen.log")
            )
        except FileNotFoundError:  # a rotation renamed a file between listing and stat
            continue


def run_cat(lines, work):
    """`cat lines | cat > out`; returns the wall time and the CPU of the relaying cat."""
    out = os.path.join(work, "cat.out")
    start = time.monotonic()
    with open(out, "wb") as sink:
        source = subprocess.Popen(["cat", lines], stdout=subprocess.PIPE)
        relay = subprocess.Popen(["cat"], stdin=source.stdout, stdout=sink)
        source.stdout.close()
        _, _, usage = os.wait4(relay.pid, 0)
        source.wait()
    wall = time.monotonic() - start
    os.remove(out)
    return wall, usage.ru_utime + usage.ru_stime


def run_daemon(binary, lines, size, work, rotate):
    directory = tempfile.mkdtemp(dir=work)
    maxbytes = "50MB" if rotate else "0"
    conf = os.path.join(directory, "s.conf")
    with open(conf, "w") as f:
        f.write(
            f"[supervisord]\nlogfile={directory}/main.log\npidfile={directory}/s.pid\n"
            f"childlogdir={directory}\n\n"
            f"[program:gen]\ncommand=cat {lines}\nstartsecs=0\n"
            f"autorestart=false\nstdout_logfile={directory}/gen.log\n"
            f"stdout_logfile_maxbytes={maxbytes}\nstdout_logfile_backups=100\n"
        )
    daemon = subprocess.Popen(
        [binary, "-n", "-s", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        # Wait until the daemon is up (its log exists) before timing.
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(directory, "gen.log")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary} did not start")
            time.sleep(0.001)
        cpu_start = cpu_seconds(daemon.pid)
        start = time.monotonic()
        deadline = start + 600
        while logged_bytes(directory) < size:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary}: only {logged_bytes(directory)} of {size} bytes")
            time.sleep(0.01)
        wall = time.monotonic() - start
        cpu = cpu_seconds(daemon.pid) - cpu_start
        return wall, cpu
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)


def main():
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    size = mib * 1024 * 1024
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "vigild"], cwd=ROOT, check=True)
    have_supervisord = os.path.exists(SUPERVISORD)
    work = tempfile.mkdtemp(prefix="vigil-bench-")
    try:
        lines = os.path.join(work, "lines")
        generate(lines, size)
        cat_wall, cat_cpu = min(run_cat(lines, work) for _ in range(3))
        rate = lambda wall: size / wall / 1e6
        per_gb = lambda cpu: cpu / (size / 1e9)
        print(f"{mib} MiB of 100-byte lines")
        print(
            f"  cat (pipe to file floor)            {rate(cat_wall):8.0f} MB/s               "
            f"relay CPU {cat_cpu / cat_wall:4.2f} cores, {per_gb(cat_cpu):4.2f} s/GB"
        )
        for rotate in (False, True):
            label = "rotation on (50MB)" if rotate else "rotation off"
            rows = [("vigild", VIGILD)]
            if have_supervisord:
                rows.append(("supervisord 4.3", SUPERVISORD))
            for name, binary in rows:
                wall, cpu = run_daemon(binary, lines, size, work, rotate)
                print(
                    f"  {name:15s} {label:19s} {rate(wall):8.0f} MB/s  "
                    f"{cat_wall / wall:5.2f}x cat  daemon CPU {cpu / wall:4.2f} cores, {per_gb(cpu):4.2f} s/GB"
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
