#!/usr/bin/env python3
"""vigild side by side with Python supervisord 4.3: every scenario, one command.

  benches/compare.py [--quick] [--only NAME[,NAME...]] [--json PATH] [--no-supervisord]

Both daemons run the same generated config in the same run, alternating which goes first.
Results are printed as a table (vigild, supervisord, ratio, vigil's target) and written as
JSON (default target/bench/compare.json). --quick runs smaller sizes and fewer repetitions
(under a minute); the full set takes about ten minutes on 2 cores.

Scenarios (see issue 5 and benches/README.md):
  fleet      N sleeping programs (startsecs=1): daemon spawn -> first answered RPC, -> all RUNNING;
             with N=200 also the idle cost: RSS and CPU over a quiet window
  status     getAllProcessInfo round trip (raw HTTP, no XML parsing in the timing), N=500, 5000
  restart    kill -9 a child (startsecs=0) 30 times: time to a new RUNNING pid; fork+exec cost
  logs       512 MiB of 100-byte lines relayed into the child's log, rotation off/on, vs `cat > file`;
             and from a child paced at 300 MB/s (the daemon's CPU at a fixed rate)
  storm      50 programs exiting 1 at once (startretries=3): time to all FATAL, daemon CPU
  shutdown   SIGTERM to daemon exit with 20 and 500 programs that exit on TERM
  scale      1, 1,000, 5,000, 10,000 programs, stdout logged (issue 20): restart after kill -9,
             CPU per restart, getAllProcessInfo and /metrics CPU, RSS, idle CPU, all RUNNING vs
             a bare posix_spawn loop; supervisord at 1,000; stdout NONE where the fd limit
             stops the logged fleet
  sampler    1,000 programs: CPU of one sampler pass (vigild only)
  page       1,000 programs: GET / (the status page), median and p99, next to supervisord's page
  load       100 XML-RPC clients (status, start, stop) for 60 s while 500 programs churn (vigild only)
  reexec     vigil.reexec with 10, 1,000, 5,000 programs and a relay at full speed: handover time,
             lines lost (must be 0), calls failed of a client calling in a loop (must be 0)

The supervisord it runs is PyPI supervisor==4.3.0 in target/venv, installed here when missing.
Nothing here is a test: no time is asserted, targets are only reported as met or missed.
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import shutil
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, "target", "venv")
BINARIES = {
    "vigild": os.path.join(ROOT, "target", "release", "vigild"),
    "supervisord": os.path.join(VENV, "bin", "supervisord"),
}
# The scale scenario's fleet program by default (benches/sleeper.c, built by prepare()).
SLEEPER = os.path.join(ROOT, "target", "bench", "sleeper")
SLEEP = ["/bin/sleep", "100000"]
LINE = b"x" * 99 + b"\n"  # 100-byte log lines
# Every fd the hard limit allows (it cannot be raised in a container, even as root): fleets
# of thousands need one per pipe end and log file.
MINFDS = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
# Output discarded, stderr merged: the fewest fds per program (large fleets).
QUIET = "redirect_stderr=true\nstdout_logfile=NONE\n"


# ---------------------------------------------------------------------------------------
# Setup


def prepare(with_supervisord):
    """Builds vigild (release) and installs supervisord 4.3 into target/venv if missing."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "vigild"], cwd=ROOT, check=True)
    os.makedirs(os.path.dirname(SLEEPER), exist_ok=True)
    subprocess.run(["gcc", "-static", "-nostdlib", "-O2", "-o", SLEEPER,
                    os.path.join(ROOT, "benches", "sleeper.c")], check=True)
    if with_supervisord and not os.path.exists(BINARIES["supervisord"]):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run(
            [os.path.join(VENV, "bin", "pip"), "install", "--quiet", "--disable-pip-version-check",
             "supervisor==4.3.0"],
            check=True,
        )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_split(pid):
    """(user, system) CPU seconds of `pid` itself (not its children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def proc_cpu_seconds(pid):
    """user+system CPU of `pid` itself (not its children)."""
    return sum(proc_cpu_split(pid))


def proc_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def settled_rss_mib(pid, steady=0.5, limit=5.0):
    """RSS once it has stopped falling for `steady` seconds (at most `limit`): vigild gives a
    big answer's memory back on a blocking thread just after sending it, so a reading taken
    the moment the last answer arrives can catch that release half done."""
    lowest, since, began = proc_rss_mib(pid), time.monotonic(), time.monotonic()
    while time.monotonic() - since < steady and time.monotonic() - began < limit:
        time.sleep(0.05)
        now = proc_rss_mib(pid)
        if now < lowest:
            lowest, since = now, time.monotonic()
    return proc_rss_mib(pid)


def wait_for(condition, timeout, interval=0.01, what="condition"):
    """Polls `condition` until it returns a true value; returns it, or raises on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        if interval:
            time.sleep(interval)


class Daemon:
    """One vigild or supervisord on a generated config with an inet XML-RPC server."""

    ALL_INFO = xmlrpc.client.dumps((), "supervisor.getAllProcessInfo")

    def __init__(self, kind, work, programs, supervisord_options=""):
        self.kind = kind
        self.dir = tempfile.mkdtemp(dir=work, prefix=kind + "-")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write(
                f"[supervisord]\nlogfile={self.dir}/main.log\npidfile={self.dir}/s.pid\n"
                f"childlogdir={self.dir}\nminfds={MINFDS}\nminprocs=32768\n{supervisord_options}\n"
                f"[inet_http_server]\nport=127.0.0.1:{self.port}\n\n"
                "[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
                f"{programs}"
            )
        self.launched = time.monotonic()
        self.process = subprocess.Popen(
            [BINARIES[kind], "-n", "-c", self.conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )

    @property
    def pid(self):
        return self.process.pid

    def raw_call(self, body, timeout=60):
        """POSTs a prepared XML-RPC body; returns the response bytes (not parsed)."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.kind} exited with status {self.process.returncode}; see {self.conf}")
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
            response = connection.getresponse()
            return response.read()
        finally:
            connection.close()

    def call(self, method, *params, timeout=60):
        """A parsed XML-RPC call; None while the daemon does not answer yet."""
        try:
            data = self.raw_call(xmlrpc.client.dumps(params, method), timeout)
        except (ConnectionError, OSError, http.client.HTTPException):
            return None
        return xmlrpc.client.loads(data)[0][0]

    def count_in_state(self, state):
        """How many processes getAllProcessInfo lists in `state` (counted in the raw reply,
        so the poller stays light and loads neither the daemon nor the machine)."""
        try:
            data = self.raw_call(self.ALL_INFO, timeout=300)
        except (ConnectionError, OSError, http.client.HTTPException):
            return -1
        return len(re.findall(rb"<name>statename</name>\s*<value>\s*<string>" + state.encode() + rb"</string>", data))

    def wait_states(self, state, count, timeout, interval=0.02):
        wait_for(
            lambda: self.count_in_state(state) == count,
            timeout, interval, f"{self.kind}: {count} processes {state}",
        )

    def stop(self):
        """Stops the daemon and everything it started, whatever state it is in."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the daemon's session: every child
        except ProcessLookupError:
            pass
        if self.process.poll() is None:
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def sleepers(count, startsecs=1, name="p", sections=1, extra="", command=SLEEP):
    """`count` sleeping programs, as `sections` [program:x] sections with numprocs each."""
    per = count // sections
    return "".join(
        f"[program:{name}{s}]\ncommand={' '.join(command)}\nprocess_name=%(program_name)s_%(process_num)d\n"
        f"numprocs={per}\nstartsecs={startsecs}\n{extra}\n"
        for s in range(sections)
    )


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# ---------------------------------------------------------------------------------------
# Scenarios: each returns {metric: value} for one daemon kind


def fleet(kind, work, count, idle_seconds):
    daemon = Daemon(kind, work, sleepers(count))
    try:
        body = xmlrpc.client.dumps((), "supervisor.getState")

        def answered():
            try:
                daemon.raw_call(body, timeout=300)
                return True
            except (ConnectionError, OSError, http.client.HTTPException):
                return False

        wait_for(answered, 300, 0.001, f"{kind}: first RPC answer")
        first_rpc = time.monotonic() - daemon.launched
        # Poll often enough that detection adds little, rarely enough not to load the daemon.
        daemon.wait_states("RUNNING", count, 600, 0.005 if count <= 500 else 0.05)
        all_running = time.monotonic() - daemon.launched
        result = {"first RPC (ms)": first_rpc * 1000, "all RUNNING (s)": all_running}
        if idle_seconds:
            time.sleep(1)  # let start-up settle before the quiet window
            cpu = proc_cpu_seconds(daemon.pid)
            time.sleep(idle_seconds)
            result["idle CPU (% core)"] = (proc_cpu_seconds(daemon.pid) - cpu) / idle_seconds * 100
            result["idle RSS (MiB)"] = proc_rss_mib(daemon.pid)
        return result
    finally:
        daemon.stop()


def status(kind, work, count, budget_seconds, max_calls=200):
    daemon = Daemon(kind, work, sleepers(count, startsecs=0, extra=QUIET))
    try:
        daemon.wait_states("RUNNING", count, 900, 0.2)
        body = xmlrpc.client.dumps((), "supervisor.getAllProcessInfo")
        check = daemon.raw_call(body)
        if check.count(b"<name>statename</name>") != count:
            raise RuntimeError(f"{kind}: getAllProcessInfo did not list {count} processes")
        samples = []
        started = time.monotonic()
        while len(samples) < max_calls and (len(samples) < 5 or time.monotonic() - started < budget_seconds):
            begin = time.perf_counter()
            daemon.raw_call(body)
            samples.append((time.perf_counter() - begin) * 1000)
        return {"median (ms)": statistics.median(samples), "p99 (ms)": percentile(samples, 0.99),
                "calls": len(samples)}
    finally:
        daemon.stop()


def page(kind, work, count, budget_seconds, max_calls=100):
    """GET / (the status page, which supervisord serves too) with `count` processes."""
    daemon = Daemon(kind, work, sleepers(count, startsecs=0, extra=QUIET))
    try:
        daemon.wait_states("RUNNING", count, 900, 0.2)

        def get():
            connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=120)
            try:
                connection.request("GET", "/")
                response = connection.getresponse()
                return response.status, response.read()
            finally:
                connection.close()

        status_code, body = get()
        if status_code != 200 or body.count(b"<tr") < count:
            raise RuntimeError(f"{kind}: the page did not list {count} processes ({status_code})")
        samples = []
        started = time.monotonic()
        while len(samples) < max_calls and (len(samples) < 5 or time.monotonic() - started < budget_seconds):
            begin = time.perf_counter()
            get()
            samples.append((time.perf_counter() - begin) * 1000)
        return {"median (ms)": statistics.median(samples), "p99 (ms)": percentile(samples, 0.99),
                "size (KiB)": len(body) / 1024}
    finally:
        daemon.stop()


def fork_exec_ms(rounds=30):
    """The cost of one fork+exec+exit+wait of /bin/true from this process."""
    samples = []
    for _ in range(rounds):
        begin = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples)


def restart(kind, work, kills):
    # Every kill -9 is a crash: vigil's crash-loop damping (on by default) would slow the
    # restarts down after five, so it is switched off to measure the restart itself
    # (supervisord ignores the option).
    daemon = Daemon(kind, work, "[program:victim]\ncommand=/bin/sleep 100000\nstartsecs=0\n"
                    "autorestart=true\ncrashloop_threshold=0\n")
    try:
        body = xmlrpc.client.dumps(("victim",), "supervisor.getProcessInfo")

        def running_pid():
            info = xmlrpc.client.loads(daemon.raw_call(body))[0][0]
            return info["pid"] if info["statename"] == "RUNNING" else 0

        wait_for(lambda: daemon.call("supervisor.getState"), 30, 0.005, f"{kind} answering")
        pid = wait_for(running_pid, 30, 0.005, f"{kind}: victim RUNNING")
        samples = []
        for _ in range(kills):
            begin = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            new = wait_for(lambda: (p := running_pid()) != pid and p, 30, 0, f"{kind}: victim restarted")
            samples.append((time.perf_counter() - begin) * 1000)
            pid = new
        return {"median (ms)": statistics.median(samples), "p95 (ms)": percentile(samples, 0.95),
                "fork+exec (ms)": fork_exec_ms()}
    finally:
        daemon.stop()


def generate_lines(path, size):
    block = LINE * 10486  # ~1 MiB of whole lines
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:left])
            left -= len(block)


def cat_floor(lines, work):
    """`cat lines | cat > file`: wall seconds and the relaying cat's CPU seconds."""
    out = os.path.join(work, "cat.out")
    os.sync()  # no writeback of an earlier run competes with this one
    begin = time.monotonic()
    with open(out, "wb") as sink:
        source = subprocess.Popen(["cat", lines], stdout=subprocess.PIPE)
        relay = subprocess.Popen(["cat"], stdin=source.stdout, stdout=sink)
        source.stdout.close()
        _, _, usage = os.wait4(relay.pid, 0)
        source.wait()
    wall = time.monotonic() - begin
    os.remove(out)
    return wall, usage.ru_utime + usage.ru_stime


def write_floor(lines, work):
    """CPU seconds/GB to write the bytes straight from memory into a file (no pipe, no relay).

    Any relay pays at least this: the kernel copying the bytes into the page cache.
    """
    out = os.path.join(work, "write.out")
    code = (
        "import os,sys\n"
        "data=open(sys.argv[1],'rb').read(64<<20)\n"
        "size=os.path.getsize(sys.argv[1])\n"
        "fd=os.open(sys.argv[2],os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o644)\n"
        "r=os.times();base=r.user+r.system\n"
        "left=size\n"
        "while left>0:\n"
        "    left-=os.write(fd,memoryview(data)[:min(left,1<<20)])\n"
        "r=os.times();print(r.user+r.system-base)\n"
    )
    os.sync()
    cpu = float(subprocess.run([sys.executable, "-c", code, lines, out], check=True,
                               capture_output=True, text=True).stdout)
    size = os.path.getsize(out)
    os.remove(out)
    return cpu / (size / 1e9)


# A child writing 128 KiB blocks of 100-byte lines at a steady rate (MB/s, total bytes).
PACED_WRITER = (
    "import os,sys,time\n"
    "rate=float(sys.argv[1])*1e6;total=int(sys.argv[2]);block=b'x'*99+b'\\n'\n"
    "block=block*1310;sent=0;begin=time.monotonic()\n"
    "while sent<total:\n"
    "    sent+=os.write(1,block[:total-sent])\n"
    "    ahead=sent/rate-(time.monotonic()-begin)\n"
    "    if ahead>0.001: time.sleep(ahead)\n"
)
PACED_MBPS = 300


def gzip_size(path):
    """The uncompressed size a complete gzip file records (ISIZE, its last 4 bytes)."""
    with open(path, "rb") as f:
        f.seek(-4, os.SEEK_END)
        return int.from_bytes(f.read(4), "little")


def relay_run(kind, work, command, maxbytes, size, extra=""):
    """Runs `command` as the child of a fresh daemon until `size` bytes reached its log:
    wall seconds, and the daemon's user and system CPU seconds meanwhile. With compressed
    backups (`extra`), a backup counts what it holds uncompressed, and the plain file that
    waits for compression counts until its compressed copy is in place."""
    program = (
        f"[program:gen]\ncommand={command}\nstartsecs=0\nautorestart=false\n"
        f"stdout_logfile=%(here)s/gen.log\nstdout_logfile_maxbytes={maxbytes}\n"
        f"stdout_logfile_backups=100\n{extra}"
    )
    os.sync()  # no writeback of an earlier run competes with this one
    daemon = Daemon(kind, work, program)
    try:
        def logged():
            total, pending, first = 0, 0, 0
            for name in os.listdir(daemon.dir):
                if not name.startswith("gen.log") or name.endswith(".tmp"):
                    continue
                path = os.path.join(daemon.dir, name)
                try:
                    if name.endswith(".gz"):
                        held = gzip_size(path)
                        first = held if name == "gen.log.1.gz" else first
                    else:
                        held = os.path.getsize(path)
                        pending = held if name == "gen.log.rotated" else pending
                    total += held
                except (FileNotFoundError, OSError):  # renamed by a rotation meanwhile
                    return 0
            # Compressed and not yet removed: the same bytes twice for a moment.
            return total - pending if pending and pending == first else total

        def exited():
            # JSON lines are longer than what was written: the end is the child's exit,
            # which vigild records once its output is drained.
            try:
                with open(os.path.join(daemon.dir, "main.log")) as f:
                    return "exited: gen" in f.read()
            except FileNotFoundError:
                return False

        wait_for(lambda: os.path.exists(os.path.join(daemon.dir, "gen.log")), 60, 0.0005, "log file")
        user, system = proc_cpu_split(daemon.pid)
        begin = time.monotonic()
        if "format=json" in extra:
            wait_for(exited, 600, 0.005, f"{kind}: output relayed")
        else:
            wait_for(lambda: logged() >= size, 600, 0.005, f"{kind}: {size} bytes logged")
        wall = time.monotonic() - begin
        user_after, system_after = proc_cpu_split(daemon.pid)
        compressed = None
        if "compress" in extra:
            # And once the last backup is compressed: the whole cost, background included.
            wait_for(lambda: not any(n.endswith((".rotated", ".tmp")) for n in os.listdir(daemon.dir)),
                     600, 0.01, f"{kind}: backups compressed")
            compressed = sum(proc_cpu_split(daemon.pid)) - user - system
        return wall, user_after - user, system_after - system, compressed
    finally:
        daemon.stop()
        shutil.rmtree(daemon.dir, ignore_errors=True)  # 512 MiB per run otherwise


def logs(kind, work, lines, size):
    """Each relay run is paired with a `cat` floor measured just before it: this machine's
    rate swings by 2x over minutes, so a floor taken earlier would make the ratio noise.
    A third run relays a child paced at PACED_MBPS: the daemon's CPU at a rate that does
    not depend on the machine's speed."""
    result = {}
    paced = os.path.join(work, "paced.py")
    with open(paced, "w") as f:
        f.write(PACED_WRITER)
    runs = [
        ("rotation off", f"cat {lines}", "0", True, ""),
        ("rotation on", f"cat {lines}", "50MB", True, ""),
        (f"paced {PACED_MBPS} MB/s", f"{sys.executable} {paced} {PACED_MBPS} {size}", "0", False, ""),
    ]
    if kind == "vigild":
        # Issue 22: backups compressed by vigild's background thread (its CPU counts).
        runs.append(("rotation on, gzip", f"cat {lines}", "50MB", True,
                     "stdout_logfile_compress=gzip\n"))
        runs.append(("rotation off, json", f"cat {lines}", "0", True,
                     "stdout_logfile_format=json\n"))
    for label, command, maxbytes, against_cat, extra in runs:
        floor_wall = cat_floor(lines, work)[0] if against_cat else None
        wall, user, system, compressed = relay_run(kind, work, command, maxbytes, size, extra)
        if compressed is not None:
            result[f"{label} CPU with compression done (s per GB)"] = compressed / (size / 1e9)
        result[f"{label} (MB/s)"] = size / wall / 1e6
        if floor_wall:
            result[f"{label} (x cat)"] = floor_wall / wall
        result[f"{label} CPU (share of elapsed)"] = (user + system) / wall
        result[f"{label} CPU (s per GB)"] = (user + system) / (size / 1e9)
        # What the daemon's own code costs, apart from the kernel's copying.
        result[f"{label} user CPU (s per GB)"] = user / (size / 1e9)
    return result


def storm(kind, work, count):
    program = (
        f"[program:crash]\ncommand=/bin/sh -c 'exit 1'\nprocess_name=%(program_name)s_%(process_num)d\n"
        f"numprocs={count}\nstartretries=3\n"
    )
    daemon = Daemon(kind, work, program)
    log = os.path.join(daemon.dir, "main.log")

    def fatal_count():
        try:
            with open(log) as f:
                return f.read().count("entered FATAL state")
        except FileNotFoundError:
            return 0

    try:
        # Watched in the main log, not over RPC: polling would add to the CPU measured.
        wait_for(lambda: fatal_count() >= count, 120, 0.02, f"{kind}: {count} processes FATAL")
        return {"all FATAL (s)": time.monotonic() - daemon.launched,
                "daemon CPU (s)": proc_cpu_seconds(daemon.pid)}
    finally:
        daemon.stop()


def shutdown(kind, work, count):
    # One [program:x] per program: supervisord stops groups one after the other.
    daemon = Daemon(kind, work, sleepers(count, startsecs=0, sections=count))
    try:
        daemon.wait_states("RUNNING", count, 300, 0.05)
        begin = time.monotonic()
        daemon.process.terminate()
        daemon.process.wait(timeout=900)
        return {"SIGTERM to exit (s)": time.monotonic() - begin}
    finally:
        daemon.stop()


def sampler(kind, work, count, passes=5):
    """CPU time of one sampler pass over `count` processes, as vigild reports it in /metrics
    (vigil_sampler_pass_cpu_seconds), and the daemon's CPU share with a pass every second."""
    daemon = Daemon(kind, work, sleepers(count, startsecs=0, extra=QUIET), "sample_interval=1\n")
    try:
        daemon.wait_states("RUNNING", count, 120, 0.05)
        samples = []
        seen = None
        cpu = proc_cpu_seconds(daemon.pid)
        begin = time.monotonic()
        while len(samples) < passes and time.monotonic() - begin < 60:
            connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
            try:
                connection.request("GET", "/metrics")
                text = connection.getresponse().read().decode()
            finally:
                connection.close()
            match = re.search(r"^vigil_sampler_pass_cpu_seconds (\S+)$", text, re.M)
            if match and match.group(1) != seen:
                seen = match.group(1)
                samples.append(float(seen) * 1000)
            time.sleep(0.2)
        elapsed = time.monotonic() - begin
        return {"pass CPU (ms)": statistics.median(samples),
                "daemon CPU, 1 s interval (% core)": (proc_cpu_seconds(daemon.pid) - cpu) / elapsed * 100}
    finally:
        daemon.stop()


def load(kind, work, programs, clients, seconds):
    """`clients` threads calling getAllProcessInfo, startProcess and stopProcess (no wait) as
    fast as they can for `seconds`, while `programs` programs exit and restart on their own
    (runs of 2 to 9 s: some 100 restarts a second). A call fails when it gets no XML-RPC
    response (a fault such as ALREADY_STARTED is a response); responses are checked, not
    parsed, so the timing is the daemon's, as in `status`. Reports failures, latency and the
    daemon's RSS before and after."""
    command = ("[program:churn]\ncommand=/bin/sh -c 'sleep 2.%(process_num)d; sleep $((%(process_num)d %% 8))'\n"
               "process_name=churn_%(process_num)d\n"
               f"numprocs={programs}\nstartsecs=0\nautorestart=true\n{QUIET}")
    daemon = Daemon(kind, work, command)
    try:
        wait_for(lambda: daemon.call("supervisor.getState") is not None, 60, 0.05, "the daemon answers")
        time.sleep(2)  # let the churn settle into its rhythm
        rss_start = proc_rss_mib(daemon.pid)
        end = time.monotonic() + seconds
        latencies, failures, lock = [], [], threading.Lock()

        def client(number):
            rng = random.Random(number)
            mine, bad = [], 0
            while time.monotonic() < end:
                name = f"churn_{rng.randrange(programs)}"
                method, params = rng.choice([
                    ("supervisor.getAllProcessInfo", ()),
                    ("supervisor.startProcess", (name, False)),
                    ("supervisor.stopProcess", (name, False)),
                ])
                body = xmlrpc.client.dumps(params, method)
                begin = time.perf_counter()
                try:
                    answer = daemon.raw_call(body, timeout=30)
                    if b"<methodResponse>" not in answer:
                        bad += 1
                except Exception:  # no answer at all
                    bad += 1
                mine.append((time.perf_counter() - begin) * 1000)
            with lock:
                latencies.extend(mine)
                failures.append(bad)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {"calls": len(latencies), "failed calls": sum(failures),
                "median (ms)": statistics.median(latencies), "p99 (ms)": percentile(latencies, 0.99),
                "RSS before (MiB)": rss_start, "RSS after (MiB)": proc_rss_mib(daemon.pid)}
    finally:
        daemon.stop()


def spawn_floor(count, command):
    """A bare loop of posix_spawn of `count` `command`s, no supervisor: the floor for `scale`.

    Returns the seconds until all are spawned and the CPU seconds the children spent in
    exec and start-up; that CPU spread over every core is a lower bound for any supervisor.
    """
    before = os.times()
    begin = time.monotonic()
    pids = []
    try:
        for _ in range(count):
            group = pids[0] if pids else 0
            pids.append(os.posix_spawn(command[0], command, os.environ, setpgroup=group))
        elapsed = time.monotonic() - begin
        wait_for(lambda: all(proc_exe_is(pid, command[0]) for pid in pids[-50:]), 60, 0.01,
                 "last sleepers exec'd")
    finally:
        if pids:
            os.killpg(pids[0], signal.SIGKILL)
        for pid in pids:
            os.waitpid(pid, 0)
    after = os.times()
    children = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"bare posix_spawn loop (s)": elapsed, "children CPU (s)": children,
            "children CPU / cores (s)": children / (os.cpu_count() or 1)}


def proc_exe_is(pid, path):
    try:
        return os.readlink(f"/proc/{pid}/exe") == os.path.realpath(path)
    except OSError:
        return False


# --- scale (issue 20) ------------------------------------------------------------------
# The fleet at 1, 1,000, 5,000 and 10,000 programs with stdout logged (AUTO, stderr merged)
# plus one extra program, `victim` (startsecs=0), that is killed with kill -9. Every figure
# of one daemon comes from one start of it, in this order: all RUNNING, RSS, fds, idle CPU,
# getAllProcessInfo calls, /metrics scrapes, RSS again, then the kills (last, so that the
# restarts' getProcessInfo polls are not counted among the status calls before the RSS).

SCALE_COUNTS = (1, 1000, 5000, 10000)
SCALE_SUPERVISORD = 1000  # supervisord 4.3 runs this count only (its status call costs seconds)
LOGGED = "redirect_stderr=true\n"  # stdout to an AUTO log file in childlogdir, stderr merged
FD_HEADROOM = 256  # fds kept free for RPC connections, spawns in flight, log rotation
CAP_SYS_RESOURCE = 24


def scale_programs(count, logged, fleet_command):
    """The fleet of `fleet_command`s and the victim, which is always /bin/sleep: every
    restart measured is a real dynamically linked exec, the same at every count. The victim
    starts first (priority 1), so it is watched through a pidfd as every program is on a
    host whose fd limit holds the fleet's; at this machine's 20,000 the last ~300 of
    10,000 NONE programs get none and are found by SIGCHLD (reaper.rs)."""
    extra = LOGGED if logged else QUIET
    return (sleepers(count, sections=max(1, count // 100), extra=extra, command=fleet_command)
            + "[program:victim]\ncommand=/bin/sleep 100000\nstartsecs=0\nautorestart=true\npriority=1\n"
            f"crashloop_threshold=0\n{extra}\n")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_limit_of(pid):
    """(soft, hard) "Max open files" of a running process."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    return None


def may_raise_fd_limit():
    """Whether this process holds CAP_SYS_RESOURCE, without which no hard limit is raised."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_SYS_RESOURCE & 1)
    return False


def get_metrics(daemon, timeout=300):
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=timeout)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{daemon.kind}: /metrics answered {response.status}")
        return body
    finally:
        connection.close()


def promtool_check(body):
    """(accepted, first lines of promtool's output); None when promtool is not installed."""
    if not shutil.which("promtool"):
        return None
    checked = subprocess.run(["promtool", "check", "metrics"], input=body, capture_output=True, timeout=300)
    output = (checked.stdout + checked.stderr).decode(errors="replace").strip().splitlines()
    return checked.returncode == 0, output[:5]


def scale_run(kind, work, count, logged, notes, fleet_command, idle_seconds=10, kills=30,
              status_calls=20, scrapes=10, phase_seconds=60):
    """One daemon with `count` sleepers and the victim; every phase bounded by `phase_seconds`
    (at least 3 samples). CPU figures have the idle rate (measured first, over `idle_seconds`,
    with the default sample_interval) times the phase's duration subtracted."""
    programs = count + 1
    daemon = Daemon(kind, work, scale_programs(count, logged, fleet_command))
    pid = daemon.pid
    r = {}

    def cpu_over(action, budget, wanted, minimum=3):
        """Runs action() until `wanted` times or `budget` seconds (at least `minimum` times):
        (samples of its duration in ms, the daemon's CPU seconds meanwhile, elapsed s)."""
        samples = []
        cpu, begin = proc_cpu_seconds(pid), time.monotonic()
        while len(samples) < wanted and (len(samples) < minimum or time.monotonic() - begin < budget):
            t = time.perf_counter()
            action()
            samples.append((time.perf_counter() - t) * 1000)
        return samples, proc_cpu_seconds(pid) - cpu, time.monotonic() - begin

    try:
        start_timeout = 60 + count * 0.02
        wait_for(lambda: daemon.call("supervisor.getState", timeout=start_timeout), start_timeout, 0.01,
                 f"{kind} answering")
        daemon.wait_states("RUNNING", programs, start_timeout, 0.25 if count >= 1000 else 0.01)
        r["all RUNNING (s)"] = time.monotonic() - daemon.launched
        time.sleep(1)  # let start-up settle
        r["RSS after start (MiB)"] = settled_rss_mib(pid)
        r["open fds"] = open_fds(pid)
        r["fds per program"] = r["open fds"] / programs
        limit = fd_limit_of(pid)
        if limit:
            r["fd limit (soft)"] = limit[0]

        # The first window holds the sampler's first passes over a fleet it has not seen
        # (a scan of the host, every process's fds); the second is the steady state, which
        # the target and the subtractions below use.
        def idle_window():
            cpu, begin = proc_cpu_seconds(pid), time.monotonic()
            time.sleep(idle_seconds)
            return (proc_cpu_seconds(pid) - cpu) / (time.monotonic() - begin)

        r["idle CPU just after start (% core)"] = idle_window() * 100
        idle_rate = idle_window()
        r["idle CPU (% core)"] = idle_rate * 100
        # After the idle window quiet programs' log files have rested (closed until output).
        r["fds per program, quiet"] = open_fds(pid) / programs
        # What the daemon holds once its sampler has looked at the fleet: the base for what
        # the status calls and scrapes alone add.
        r["RSS before status calls (MiB)"] = settled_rss_mib(pid)

        def net_ms(cpu, elapsed, n):
            return max(0.0, cpu - idle_rate * elapsed) / n * 1000

        body = xmlrpc.client.dumps((), "supervisor.getAllProcessInfo")
        answer = daemon.raw_call(body, timeout=300)
        if answer.count(b"<name>statename</name>") != programs:
            raise RuntimeError(f"{kind}: getAllProcessInfo did not list {programs} processes")
        samples, cpu, elapsed = cpu_over(lambda: daemon.raw_call(body, timeout=300), phase_seconds,
                                         status_calls - 1)
        samples_all = len(samples) + 1
        r["getAllProcessInfo median (ms)"] = statistics.median(samples)
        r["getAllProcessInfo p95 (ms)"] = percentile(samples, 0.95)
        r["getAllProcessInfo CPU per call (ms)"] = net_ms(cpu, elapsed, len(samples))
        r["getAllProcessInfo calls"] = samples_all
        r["getAllProcessInfo size (MB)"] = len(answer) / 1e6

        if kind == "vigild":
            text = get_metrics(daemon)
            samples, cpu, elapsed = cpu_over(lambda: get_metrics(daemon), phase_seconds, scrapes - 1)
            lines = text.count(b"\n")
            per_process = len(re.findall(rb'^vigil_\w+\{[^}\n]*name="', text, re.M))
            r["/metrics median (ms)"] = statistics.median(samples)
            r["/metrics CPU per scrape (ms)"] = net_ms(cpu, elapsed, len(samples))
            r["/metrics scrapes"] = len(samples) + 1
            r["/metrics size (MB)"] = len(text) / 1e6
            r["/metrics lines"] = lines
            r["/metrics lines per process"] = per_process / programs
            checked = promtool_check(text)
            if checked is not None:
                r["/metrics promtool accepts (1=yes)"] = 1.0 if checked[0] else 0.0
                if not checked[0]:
                    notes.append(f"{kind} {count}: promtool check metrics: " + " | ".join(checked[1]))
        r["RSS after status+scrapes (MiB)"] = settled_rss_mib(pid)
        r["RSS growth (x)"] = r["RSS after status+scrapes (MiB)"] / r["RSS after start (MiB)"]
        r["RSS growth over the calls (x)"] = (r["RSS after status+scrapes (MiB)"]
                                              / r["RSS before status calls (MiB)"])

        info = xmlrpc.client.dumps(("victim",), "supervisor.getProcessInfo")
        polls = [0]

        def running_pid():
            polls[0] += 1
            answer = xmlrpc.client.loads(daemon.raw_call(info, timeout=60))[0][0]
            return answer["pid"] if answer["statename"] == "RUNNING" else 0

        victim = [wait_for(running_pid, 60, 0.005, f"{kind}: victim RUNNING")]

        def restarted(interval):
            old = victim[0]
            victim[0] = wait_for(lambda: (p := running_pid()) != old and p, 30, interval,
                                 f"{kind}: victim restarted")

        def quiesce(bound=3.0):
            """Waits until the daemon's CPU has not moved for 100 ms (less than one 10 ms tick),
            at least 100 ms: a restart's work goes on after RUNNING (at 10,000 programs
            for some 400 ms), and kills landing in it would share that work."""
            begin = last_change = time.monotonic()
            last = proc_cpu_seconds(pid)
            while time.monotonic() - begin < bound:
                time.sleep(0.02)
                now, cpu = time.monotonic(), proc_cpu_seconds(pid)
                if cpu != last:
                    last, last_change = cpu, now
                elif now - begin >= 0.1 and now - last_change >= 0.1:
                    return

        def kill(interval, quiet_before, quiet_after=False):
            if quiet_before:
                quiesce()
            os.kill(victim[0], signal.SIGKILL)
            if quiet_after:
                quiesce()
            restarted(interval)

        # Back to back (the `restart` scenario's way): each kill as soon as the last restart
        # is RUNNING, polled with no pause; kills land in the previous restart's work.
        samples, cpu, elapsed = cpu_over(lambda: kill(0, False), phase_seconds / 4, kills)
        r["restart back to back, median (ms)"] = statistics.median(samples)
        r["restart back to back, p95 (ms)"] = percentile(samples, 0.95)
        r["CPU per restart, back to back (ms)"] = net_ms(cpu, elapsed, len(samples))
        # Latency: every kill on a quiet daemon, polled with no pause from the kill on. Only
        # the time from the kill counts (the sample is taken around the whole action, so
        # the quiet wait is timed separately and taken off).
        # Each kill also times the child's death as an outside observer sees it (a pidfd
        # of this harness's own): at 10,000 identical programs the kernel's exit of the
        # killed child can itself take tens of ms on a host running DAMON (benches/README),
        # and "after death" is the part that is vigild's.
        latencies, deaths, after_death = [], [], []

        def timed_kill():
            quiesce()
            watcher = select.poll()
            try:
                pidfd = os.pidfd_open(victim[0])
            except OSError:
                pidfd = None
            if pidfd is not None:
                watcher.register(pidfd, select.POLLIN)
            begin = time.perf_counter()
            os.kill(victim[0], signal.SIGKILL)
            if pidfd is not None:
                watcher.poll(5000)
                died = time.perf_counter()
                os.close(pidfd)
            restarted(0)
            end = time.perf_counter()
            latencies.append((end - begin) * 1000)
            if pidfd is not None:
                deaths.append((died - begin) * 1000)
                after_death.append((end - died) * 1000)

        polls[0] = 0
        samples, cpu, elapsed = cpu_over(timed_kill, phase_seconds, kills)
        r["restart median (ms)"] = statistics.median(latencies)
        r["restart p95 (ms)"] = percentile(latencies, 0.95)
        if after_death:
            r["child death after kill, p95 (ms)"] = percentile(deaths, 0.95)
            r["restart after death, median (ms)"] = statistics.median(after_death)
            r["restart after death, p95 (ms)"] = percentile(after_death, 0.95)
        r["restart kills"] = len(latencies)
        r["CPU per restart, polled (ms)"] = net_ms(cpu, elapsed, len(latencies))
        r["polls per restart"] = polls[0] / len(latencies)
        # CPU: after each kill nothing is asked until the daemon is quiet again, then one poll
        # checks the new pid. The whole pass's CPU, less the idle rate over its duration,
        # per kill; at least `kills`, and on until 0.3 s of CPU (30 ticks) or phase_seconds.
        quiesce()
        count_kills, cpu, begin = 0, proc_cpu_seconds(pid), time.monotonic()
        while count_kills < kills or (proc_cpu_seconds(pid) - cpu < 0.3
                                      and time.monotonic() - begin < phase_seconds / 2):
            kill(0.01, False, quiet_after=True)
            count_kills += 1
            if time.monotonic() - begin > phase_seconds and count_kills >= 3:
                break
        cpu, elapsed = proc_cpu_seconds(pid) - cpu, time.monotonic() - begin
        r["CPU per restart (ms)"] = net_ms(cpu, elapsed, count_kills)
        r["CPU per restart, no idle subtracted"] = cpu / count_kills * 1000
        r["CPU per restart, kills"] = count_kills
        return r
    finally:
        daemon.stop()


def scale_suite(kinds, work, results, counts, fleet_command, idle_seconds=10):
    """Runs scale_run for every count that fits the fd limit with stdout logged; above that,
    the largest count that fits (logged) and the count itself with stdout NONE (then also
    1 program with stdout NONE, as that variant's baseline). Fills results["scale N"] and
    results["scale N NONE"]; notes say what the limit allowed and why."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    notes = [f"fd limit: soft {soft}, hard {hard} (ulimit -Hn); minfds={MINFDS} in the generated configs",
             f"fleet program: {' '.join(fleet_command)}; the victim: {' '.join(SLEEP)}"]
    if not may_raise_fd_limit():
        notes.append("the hard limit cannot be raised here: CAP_SYS_RESOURCE is not in this "
                     "process's effective capabilities (a container)")
    points = []  # (programs, open fds) of logged vigild runs
    fit = None
    ran_logged = set()
    quiet_baseline = False

    def run(count, logged, with_supervisord):
        name = f"scale {count}" + ("" if logged else " NONE")
        entry = results.setdefault(name, {})
        entry["floor"] = spawn_floor(count, fleet_command)
        order = ["vigild"] + (["supervisord"] if with_supervisord and "supervisord" in kinds else [])
        for kind in order:
            print(f"  {name} [{kind}] ...", file=sys.stderr, flush=True)
            began = time.monotonic()
            try:
                entry[kind] = scale_run(kind, work, count, logged, notes, fleet_command,
                                         idle_seconds=idle_seconds)
            except (TimeoutError, RuntimeError, OSError, http.client.HTTPException) as err:
                print(f"    failed: {err}", file=sys.stderr)
                notes.append(f"{name} [{kind}] failed: {err}")
                entry[kind] = {}
            print(f"    {time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
        vigild = entry["vigild"]
        if "all RUNNING (s)" in vigild and count >= 100:
            # startsecs=1: the last program is RUNNING a second after its spawn.
            vigild["all RUNNING - startsecs (x floor)"] = (
                (vigild["all RUNNING (s)"] - 1) / entry["floor"]["bare posix_spawn loop (s)"])
        return vigild

    def estimate():
        """(fixed fds, fds per program) from the logged runs so far."""
        if len(points) >= 2:
            (p0, f0), (p1, f1) = points[-2], points[-1]
            per = (f1 - f0) / (p1 - p0)
            return f1 - per * p1, per
        p1, f1 = points[-1]
        return 0.0, f1 / p1

    def update_fit():
        nonlocal fit
        if not points or (len(points) < 2 and points[-1][0] <= 100):
            return  # one small fleet: its fds are mostly the daemon's own
        fixed, per = estimate()
        # programs = count + 1 (the victim); a multiple of 500 below what the limit holds
        room = int((hard - FD_HEADROOM - fixed) / per) - 1
        fit = max(1, room // 500 * 500)
        notes.append(f"after {points[-1][0]} programs with stdout logged: {per:.2f} fds per extra program "
                     f"({fixed:.0f} fixed), so {hard} - {FD_HEADROOM} headroom holds ~{room} programs; "
                     f"largest logged count run here: {fit}")

    for count in counts:
        if fit is None or count <= fit:
            vigild = run(count, True, count == SCALE_SUPERVISORD)
            ran_logged.add(count)
            if "open fds" in vigild:
                points.append((count + 1, vigild["open fds"]))
                update_fit()
            continue
        fixed, per = estimate()
        notes.append(f"{count} programs with stdout logged would need ~{fixed + per * (count + 1):.0f} fds "
                     f"> the hard limit {hard}: run at {fit} logged and at {count} with stdout NONE")
        if fit not in ran_logged and fit > max(ran_logged, default=0):
            vigild = run(fit, True, False)
            ran_logged.add(fit)
        if not quiet_baseline:
            run(1, False, False)
            quiet_baseline = True
        run(count, False, False)

    if points:
        fds_with_both_streams_logged(work, results, notes, hard, fleet_command)

    # Ratios against the 1-program figures of the same variant, as issue 20's targets state them.
    for name, entry in results.items():
        match = re.fullmatch(r"scale (\d+)( NONE)?", name)
        if not match or match.group(1) == "1":
            continue
        base = results.get("scale 1" + (match.group(2) or ""), {}).get("vigild", {})
        vigild = entry.get("vigild", {})
        for metric in ("restart median (ms)", "restart p95 (ms)", "CPU per restart (ms)",
                       "restart after death, median (ms)", "restart after death, p95 (ms)"):
            if metric in vigild and base.get(metric):
                vigild[metric.replace("(ms)", "(x 1 program)")] = vigild[metric] / base[metric]
    fixed, per = estimate() if points else (None, None)
    results["scale"] = {"notes": notes, "largest logged count": max(ran_logged, default=None),
                        "fd hard limit": hard, "fds per extra program, logged": per,
                        "fixed fds, logged": fixed}


def fds_with_both_streams_logged(work, results, notes, hard, fleet_command, per_guess=4.2):
    """Issue 20's fd question with stdout and stderr both AUTO-logged: the largest fleet
    the hard limit holds at `per_guess` fds each, its fds per program once every program
    runs and once their quiet logs have rested, and what 10,000 would need."""
    count = max(500, int((hard - FD_HEADROOM - 64) / per_guess) // 500 * 500)
    daemon = Daemon("vigild", work, sleepers(count, startsecs=0, sections=max(1, count // 100),
                                                command=fleet_command))
    r = {}
    try:
        timeout = 60 + count * 0.02
        wait_for(lambda: daemon.call("supervisor.getState", timeout=timeout), timeout, 0.01,
                 "vigild answering")
        daemon.wait_states("RUNNING", count, timeout, 0.25)
        r["fds per program, just started"] = open_fds(daemon.pid) / count
        # A log with no output rests (closed until its next write) after 5 s of quiet.
        time.sleep(7)
        r["fds per program, quiet"] = open_fds(daemon.pid) / count
    finally:
        daemon.stop()
    per = r["fds per program, quiet"]
    r["fds for 10,000 programs, quiet"] = per * 10000
    r["fds for 10,000 programs, every log open"] = r["fds per program, just started"] * 10000
    results[f"scale {count} both logged"] = {"vigild": r}
    notes.append(f"{count} programs with stdout and stderr both logged: {per:.2f} fds each at rest, "
                 f"{r['fds per program, just started']:.2f} with every log open; 10,000 would need "
                 f"~{r['fds for 10,000 programs, every log open']:.0f} of a 65,536 limit")


# ---------------------------------------------------------------------------------------
# Targets for vigild (issue 5), checked against the measured vigild value


def targets(results):
    """(scenario, metric, description, met) for every target that was measured."""
    def value(scenario, metric, kind="vigild"):
        return results.get(scenario, {}).get(kind, {}).get(metric)

    checks = []

    def target(scenario, metric, text, predicate):
        v = value(scenario, metric)
        if v is not None:
            checks.append((scenario, metric, text, bool(predicate(v))))

    target("fleet 200", "first RPC (ms)", "< 50 ms", lambda v: v < 50)
    target("fleet 200", "all RUNNING (s)", "< 1.15 s", lambda v: v < 1.15)
    target("fleet 200", "idle RSS (MiB)", "< 20 MiB", lambda v: v < 20)
    target("fleet 200", "idle CPU (% core)", "< 0.1 %", lambda v: v < 0.1)
    target("status 500", "median (ms)", "< 3 ms", lambda v: v < 3)
    target("status 5000", "median (ms)", "< 30 ms", lambda v: v < 30)
    fork = value("restart", "fork+exec (ms)")
    if fork is not None:
        target("restart", "median (ms)", f"< fork+exec + 2 = {fork + 2:.1f} ms", lambda v: v < fork + 2)
    for label, floor in (("rotation off", 0.8), ("rotation on", 0.7)):
        target("logs", f"{label} (x cat)", f">= {floor}x", lambda v, f=floor: v >= f)
        target("logs", f"{label} CPU (share of elapsed)", "< 0.5", lambda v: v < 0.5)
    target("storm 50", "daemon CPU (s)", "< 0.1 s", lambda v: v < 0.1)
    for count in (10, 1000, 5000):
        target(f"reexec {count}", "lines lost or out of order", "0", lambda v: v == 0)
        target(f"reexec {count}", "calls failed", "0", lambda v: v == 0)
    target("shutdown 20", "SIGTERM to exit (s)", "< 0.3 s", lambda v: v < 0.3)
    # Issue 20: at 10,000 programs (stdout logged where the fd limit allows it, else with
    # stdout NONE) and at the largest count the limit allowed with stdout logged.
    largest = results.get("scale", {}).get("largest logged count")
    at = ["scale 10000", "scale 10000 NONE"]
    if "scale 10000 NONE" in results and largest and largest != 10000:
        at.insert(1, f"scale {largest}")
    for scenario in at:
        def scale_target(metric, text, predicate):
            v = value(scenario, metric)
            if v is not None:
                checks.append((scenario, metric, text + " (issue 20)", bool(predicate(v))))

        scale_target("restart median (x 1 program)", "<= 1.3x", lambda v: v <= 1.3)
        scale_target("restart p95 (x 1 program)", "<= 1.3x", lambda v: v <= 1.3)
        scale_target("CPU per restart (x 1 program)", "<= 1.5x", lambda v: v <= 1.5)
        scale_target("getAllProcessInfo CPU per call (ms)", "<= 40 ms", lambda v: v <= 40)
        scale_target("/metrics CPU per scrape (ms)", "<= 150 ms", lambda v: v <= 150)
        scale_target("/metrics promtool accepts (1=yes)", "accepted", lambda v: v == 1)
        scale_target("RSS after start (MiB)", "<= 150 MiB", lambda v: v <= 150)
        scale_target("RSS growth (x)", "<= 1.10x", lambda v: v <= 1.10)
        scale_target("idle CPU (% core)", "<= 1 %", lambda v: v <= 1)
        if scenario.startswith("scale 10000"):  # issue 5's, for 10,000 programs
            target(scenario, "all RUNNING (s)", "< startsecs + 2 = 3 s", lambda v: v < 3)
            target(scenario, "getAllProcessInfo median (ms)", "< 100 ms", lambda v: v < 100)
    for scenario, by_kind in results.items():
        if scenario.endswith("both logged"):
            v = by_kind.get("vigild", {}).get("fds for 10,000 programs, every log open")
            if v is not None:
                checks.append((scenario, "fds for 10,000 programs, every log open",
                               "< 65,536 - 2,048 kept free (issue 20)", v < 65536 - 2048))
    target("sampler 1000", "pass CPU (ms)", "< 50 ms (issue 6)", lambda v: v < 50)
    target("page 1000", "median (ms)", "< 200 ms (issue 10)", lambda v: v < 200)
    target("load 500x100", "failed calls", "0 (issue 12)", lambda v: v == 0)
    return checks


# ---------------------------------------------------------------------------------------


def reexec(kind, work, count):
    """Issue 26: `vigil.reexec` with `count` sleeping programs and one relaying numbered lines
    at full speed: the handover's time (the request to the new image answering
    getAllProcessInfo), the relay's lines lost or out of order (must be 0), and the calls of
    a client calling getPID in a loop that failed during it (must be 0). vigild only:
    supervisord has no such thing (its nearest, `reload`, restarts every program)."""
    relay = (
        "[program:relay]\ncommand=/bin/sh -c 'i=0; while true; do i=$((i+1)); echo $i; done'\n"
        "stdout_logfile=%(here)s/relay.log\nstdout_logfile_maxbytes=0\nstartsecs=0\n"
    )
    daemon = Daemon(kind, work, sleepers(count, startsecs=0, extra=QUIET, command=[SLEEPER]) + relay)
    try:
        daemon.wait_states("RUNNING", count + 1, 600, 0.1)
        calls = {"made": 0, "failed": 0}
        done = threading.Event()
        body = xmlrpc.client.dumps((), "supervisor.getPID")

        def caller():
            while not done.is_set():
                calls["made"] += 1
                try:
                    xmlrpc.client.loads(daemon.raw_call(body, timeout=30))
                except (ConnectionError, OSError, http.client.HTTPException, xmlrpc.client.Fault,
                        xmlrpc.client.ResponseError):
                    calls["failed"] += 1

        client = threading.Thread(target=caller)
        client.start()
        time.sleep(0.5)  # the caller is calling before the handover (a warm-up, not a wait)
        begin = time.monotonic()
        if daemon.call("vigil.reexec", "", timeout=120) is not True:
            raise RuntimeError("vigil.reexec did not answer true")
        wait_for(lambda: (daemon.call("vigil.getDaemonInfo") or {}).get("reexecs") == 1,
                 120, 0.005, "the new image")
        daemon.raw_call(Daemon.ALL_INFO, timeout=120)
        handover = time.monotonic() - begin
        time.sleep(0.5)  # the caller goes on a while after it
        done.set()
        client.join()
        daemon.call("supervisor.stopProcess", "relay", True)
        with open(os.path.join(daemon.dir, "relay.log"), "rb") as f:
            numbers = f.read().split(b"\n")[:-1]  # the last piece may be a partial line
        lost = sum(1 for at, n in enumerate(numbers) if int(n) != at + 1)
        return {"handover (ms)": handover * 1000, "relay lines": len(numbers),
                "lines lost or out of order": lost, "client calls": calls["made"],
                "calls failed": calls["failed"]}
    finally:
        daemon.stop()


def plan(quick):
    """(scenario name, repetitions, function(kind, work) -> metrics, supervisord too?)."""
    if quick:
        return [
            ("fleet 200", 1, lambda k, w: fleet(k, w, 200, idle_seconds=3), True),
            ("status 500", 1, lambda k, w: status(k, w, 500, budget_seconds=3, max_calls=50), True),
            ("restart", 1, lambda k, w: restart(k, w, kills=10), True),
            ("logs", 1, None, True),
            ("shutdown 20", 1, lambda k, w: shutdown(k, w, 20), True),
        ]
    return [
        ("fleet 200", 3, lambda k, w: fleet(k, w, 200, idle_seconds=10), True),
        ("fleet 2000", 1, lambda k, w: fleet(k, w, 2000, idle_seconds=0), True),
        ("status 500", 3, lambda k, w: status(k, w, 500, budget_seconds=10), True),
        ("status 5000", 1, lambda k, w: status(k, w, 5000, budget_seconds=20, max_calls=100), True),
        ("restart", 3, lambda k, w: restart(k, w, kills=30), True),
        ("logs", 5, None, True),
        ("storm 50", 1, lambda k, w: storm(k, w, 50), True),
        ("shutdown 20", 3, lambda k, w: shutdown(k, w, 20), True),
        ("shutdown 500", 1, lambda k, w: shutdown(k, w, 500), True),
        ("scale", 1, None, True),
        ("sampler 1000", 1, lambda k, w: sampler(k, w, 1000), False),
        ("page 1000", 1, lambda k, w: page(k, w, 1000, budget_seconds=10), True),
        ("load 500x100", 1, lambda k, w: load(k, w, 500, 100, 60), False),
        ("reexec 10", 3, lambda k, w: reexec(k, w, 10), False),
        ("reexec 1000", 1, lambda k, w: reexec(k, w, 1000), False),
        ("reexec 5000", 1, lambda k, w: reexec(k, w, 5000), False),
    ]


def median_of(runs):
    """Per-metric median over repetitions."""
    if not runs:
        return {}
    return {metric: statistics.median(r[metric] for r in runs) for metric in runs[0]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--only", help="comma-separated scenario name prefixes, e.g. fleet,logs")
    parser.add_argument("--json", default=os.path.join(ROOT, "target", "bench", "compare.json"))
    parser.add_argument("--no-supervisord", action="store_true", help="measure vigild alone")
    parser.add_argument("--scale-counts", default=",".join(map(str, SCALE_COUNTS)),
                        type=lambda text: [int(c) for c in text.split(",")],
                        help="program counts of the scale scenario (default %(default)s); "
                             "supervisord runs at 1000 only")
    parser.add_argument("--scale-fleet", choices=("static", "sleep"), default="static",
                        help="the scale fleet's program: benches/sleeper.c (default), or /bin/sleep, "
                             "whose shared pages slow every exit on a host running DAMON")
    args = parser.parse_args()

    prepare(not args.no_supervisord)
    kinds = ["vigild"] if args.no_supervisord else ["vigild", "supervisord"]
    scenarios = plan(args.quick)
    if args.only:
        wanted = args.only.split(",")
        scenarios = [s for s in scenarios if any(s[0].startswith(w) for w in wanted)]

    work = tempfile.mkdtemp(prefix="vigil-bench-")
    results = {}
    began = time.monotonic()
    try:
        for name, repetitions, run, with_supervisord in scenarios:
            order = kinds if with_supervisord else ["vigild"]
            if name == "logs":
                size = (64 if args.quick else 512) * 1024 * 1024
                lines = os.path.join(work, "lines")
                generate_lines(lines, size)
                floors = [cat_floor(lines, work) for _ in range(3)]
                floor_wall = statistics.median(f[0] for f in floors)
                write_cost = statistics.median(write_floor(lines, work) for _ in range(3))
                results.setdefault(name, {})["floor"] = {
                    "cat (MB/s)": size / floor_wall / 1e6,
                    "cat CPU (share of elapsed)": statistics.median(f[1] / f[0] for f in floors),
                    "cat CPU (s per GB)": statistics.median(f[1] for f in floors) / (size / 1e9),
                    "page-cache write CPU (s per GB)": write_cost,
                    # The least CPU share any relay can have while running at 0.8x cat's rate.
                    "write CPU share at 0.8x cat": write_cost * 0.8 * size / floor_wall / 1e9,
                }
                run = lambda k, w, lines=lines, size=size: logs(k, w, lines, size)
            if name == "scale":
                scale_suite(kinds, work, results, args.scale_counts,
                            [SLEEPER] if args.scale_fleet == "static" else SLEEP)
                continue
            runs = {kind: [] for kind in order}
            for repetition in range(repetitions):
                # Alternate which daemon goes first, so neither always gets the warmer machine.
                for kind in (order if repetition % 2 == 0 else list(reversed(order))):
                    print(f"  {name} [{kind}] run {repetition + 1}/{repetitions} ...", file=sys.stderr, flush=True)
                    try:
                        runs[kind].append(run(kind, work))
                    except (TimeoutError, RuntimeError) as err:
                        print(f"    failed: {err}", file=sys.stderr)
            for kind in order:
                results.setdefault(name, {})[kind] = median_of(runs[kind])
            if name == "logs":
                os.remove(os.path.join(work, "lines"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    checks = targets(results)
    report(results, checks, time.monotonic() - began)
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({
            "machine": machine(),
            "quick": args.quick,
            "results": results,
            "targets": [{"scenario": s, "metric": m, "target": t, "met": ok} for s, m, t, ok in checks],
        }, f, indent=2)
    print(f"\nJSON: {args.json}")


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d")}


def report(results, checks, elapsed):
    verdicts = {(s, m): (t, ok) for s, m, t, ok in checks}
    print(f"\n{'scenario':17} {'metric':38} {'vigild':>10} {'supervisord':>12} {'ratio':>8}  target")
    for scenario, by_kind in results.items():
        for metric, v in by_kind.get("floor", {}).items():
            print(f"{scenario:17} {'floor: ' + metric:38} {v:10.2f}")
        vigild = by_kind.get("vigild", {})
        supervisord = by_kind.get("supervisord", {})
        for metric in vigild or supervisord:
            v, s = vigild.get(metric), supervisord.get(metric)
            ratio = ""
            higher_is_better = metric.endswith(("(x cat)", "(MB/s)"))
            if v and s and not higher_is_better:
                ratio = f"{s / v:.1f}x"
            elif v and s:
                ratio = f"{v / s:.1f}x"
            target, ok = verdicts.get((scenario, metric), ("", None))
            verdict = "" if ok is None else ("met " if ok else "MISSED ") + target
            fmt = lambda x: "" if x is None else f"{x:.2f}"
            print(f"{scenario:17} {metric:38} {fmt(v):>10} {fmt(s):>12} {ratio:>8}  {verdict}")
    for scenario, by_kind in results.items():
        for note in by_kind.get("notes", []):
            print(f"note ({scenario}): {note}")
    print(f"\n{sum(ok for *_, ok in checks)} of {len(checks)} targets met; ran {elapsed:.0f} s")


if __name__ == "__main__":
    main()
