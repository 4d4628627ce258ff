#!/usr/bin/env python3
"""Control-plane speed, vigild side by side with Python supervisord 4.3.

  fleet start  time from launching the daemon until 200 programs are RUNNING
               (startsecs=1, as the default), seen through getAllProcessInfo
  status call  getAllProcessInfo latency with 500 processes (median and p95 of 200 calls)

Both daemons serve XML-RPC on a loopback port; the client is Python's xmlrpc.client for
both. Usage: benches/control_plane.py   (run ./scripts/test once for the venv)
"""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGILD = os.path.join(ROOT, "target", "release", "vigild")
SUPERVISORD = os.path.join(ROOT, "target", "venv", "bin", "supervisord")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, programs, startsecs, work):
    directory = tempfile.mkdtemp(dir=work)
    port = free_port()
    conf = os.path.join(directory, "s.conf")
    with open(conf, "w") as f:
        f.write(
            f"[supervisord]\nlogfile={directory}/main.log\npidfile={directory}/s.pid\n"
            f"childlogdir={directory}\nminfds=4096\n\n"
            f"[inet_http_server]\nport=127.0.0.1:{port}\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[program:p]\ncommand=/bin/sleep 100000\nprocess_name=p_%(process_num)03d\n"
            f"numprocs={programs}\nstartsecs={startsecs}\nstdout_logfile=NONE\nstderr_logfile=NONE\n"
        )
    launched = time.monotonic()
    daemon = subprocess.Popen([binary, "-n", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    return daemon, proxy, launched, directory


def stop(daemon, directory):
    daemon.terminate()
    try:
        daemon.wait(timeout=120)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
    shutil.rmtree(directory, ignore_errors=True)


def all_running(proxy, count):
    try:
        infos = proxy.supervisor.getAllProcessInfo()
    except (ConnectionRefusedError, OSError, xmlrpc.client.Fault):
        return False
    return len(infos) == count and all(i["statename"] == "RUNNING" for i in infos)


def fleet_start(binary, work, programs=200):
    daemon, proxy, launched, directory = start(binary, programs, 1, work)
    try:
        deadline = launched + 120
        while not all_running(proxy, programs):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary}: {programs} programs not RUNNING in 120 s")
            time.sleep(0.02)
        return time.monotonic() - launched
    finally:
        stop(daemon, directory)


def status_latency(binary, work, programs=500, calls=200):
    daemon, proxy, launched, directory = start(binary, programs, 0, work)
    try:
        deadline = launched + 120
        while not all_running(proxy, programs):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{binary}: {programs} programs not RUNNING in 120 s")
            time.sleep(0.05)
        samples = []
        for _ in range(calls):
            begin = time.perf_counter()
            proxy.supervisor.getAllProcessInfo()
            samples.append((time.perf_counter() - begin) * 1000)
        samples.sort()
        return statistics.median(samples), samples[int(len(samples) * 0.95)]
    finally:
        stop(daemon, directory)


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "vigild"], cwd=ROOT, check=True)
    if not os.path.exists(SUPERVISORD):
        sys.exit("run ./scripts/test first (it installs supervisord into target/venv)")
    work = tempfile.mkdtemp(prefix="vigil-bench-")
    try:
        starts = {name: fleet_start(binary, work) for name, binary in (("vigild", VIGILD), ("supervisord", SUPERVISORD))}
        print(f"200 programs to RUNNING (startsecs=1): vigild {starts['vigild']:.2f} s, "
              f"supervisord {starts['supervisord']:.2f} s, ratio {starts['supervisord'] / starts['vigild']:.2f}x")
        latencies = {name: status_latency(binary, work) for name, binary in (("vigild", VIGILD), ("supervisord", SUPERVISORD))}
        (vm, vp), (sm, sp) = latencies["vigild"], latencies["supervisord"]
        print(f"getAllProcessInfo with 500 processes: vigild median {vm:.1f} ms (p95 {vp:.1f}), "
              f"supervisord median {sm:.1f} ms (p95 {sp:.1f}), ratio {sm / vm:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
