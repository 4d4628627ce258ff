#!/usr/bin/env python3
"""Writes vigil's two Grafana dashboards (vigil-fleet.json, vigil-program.json) from one
description, so both follow the same conventions: a `datasource` variable, `job`,
`instance`, `group` (and `name`) variables from label_values(), every panel with a
description and a unit, `$__rate_interval` in every rate window, and every `_total` counter
inside rate() or increase(). Run it after editing; the test suite checks its output."""

import json
import os

SEL = 'job=~"$job",instance=~"$instance",group=~"$group"'
PROGRAM = SEL + ',name=~"$name"'
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def variable(name, label, query, multi=True):
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": name}, "definition": query,
        "refresh": 2, "multi": multi, "includeAll": multi, "allValue": ".+",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if multi else {},
        "sort": 1,
    }


def templating(with_name):
    variables = [
        {"name": "datasource", "label": "Data source", "type": "datasource",
         "query": "prometheus", "refresh": 1, "current": {}},
        variable("job", "Job", "label_values(vigil_build_info, job)"),
        variable("instance", "Instance", 'label_values(vigil_build_info{job=~"$job"}, instance)'),
        variable("group", "Group",
                 'label_values(vigil_process_up{job=~"$job",instance=~"$instance"}, group)'),
    ]
    if with_name:
        variables.append(variable(
            "name", "Program",
            'label_values(vigil_process_up{job=~"$job",instance=~"$instance",group=~"$group"}, name)'))
    return {"list": variables}


def panel(kind, title, description, unit, targets, x, y, w, h, **extra):
    body = {
        "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
        "options": {},
    }
    body["fieldConfig"]["defaults"].update(extra.pop("defaults", {}))
    body.update(extra)
    return body


def thresholds(*steps):
    return {"thresholds": {"mode": "absolute", "steps": [
        {"color": color, "value": value} for value, color in steps]}}


def dashboard(uid, title, description, panels, with_name):
    for number, each in enumerate(panels, start=1):
        each["id"] = number
    return {
        "uid": uid, "title": title, "description": description, "tags": ["vigil", "supervisord"],
        "timezone": "browser", "schemaVersion": 39, "version": 1, "editable": True,
        "time": {"from": "now-1h", "to": "now"}, "refresh": "30s",
        "templating": templating(with_name), "annotations": {"list": []}, "panels": panels,
    }


def hosts():
    """One row per vigild: is it scraped, how many of its processes run, how many do not, how
    many crash-loop. A stopped host keeps its row with up = 0 (its process series go stale)."""
    table = panel("table", "Hosts", "Each vigild: 1 in Up while Prometheus scrapes it, and its processes running, not running and crash-looping.",
                  "short", [
                      ('up{job=~"$job",instance=~"$instance"}', "up"),
                      (f"sum by (instance) (vigil_process_up{{{SEL}}})", "running"),
                      (f"sum by (instance) (1 - vigil_process_up{{{SEL}}})", "not running"),
                      (f"sum by (instance) (vigil_process_crashloop{{{SEL}}})", "crash-looping"),
                  ], 0, 0, 24, 7,
                  transformations=[
                      {"id": "joinByField", "options": {"byField": "instance", "mode": "outer"}},
                      {"id": "organize", "options": {
                          "excludeByName": {"Time": True, "Time 1": True, "Time 2": True, "Time 3": True,
                                            "Time 4": True, "job": True, "__name__": True},
                          "renameByName": {"Value #A": "Up", "Value #B": "Running",
                                           "Value #C": "Not running", "Value #D": "Crash-looping"}}},
                  ])
    for target in table["targets"]:
        target.update({"instant": True, "format": "table"})
    return table


def fleet():
    below = [
        panel("stat", "Running", "Processes in the RUNNING state.", "short",
              [(f'sum(vigil_process_state{{{SEL},state="RUNNING"}})', "running")], 0, 0, 6, 4,
              defaults=thresholds((None, "green"))),
        panel("stat", "Down", "Processes not running (any state but RUNNING).", "short",
              [(f"count(vigil_process_up{{{SEL}}} == 0) or vector(0)", "down")], 6, 0, 6, 4,
              defaults=thresholds((None, "green"), (1, "red"))),
        panel("stat", "Crash-looping now", "Processes vigil is restarting with a delay because they crash too often.",
              "short", [(f"sum(vigil_process_crashloop{{{SEL}}})", "crash-looping")], 12, 0, 6, 4,
              defaults=thresholds((None, "green"), (1, "red"))),
        panel("stat", "Config reloads", "Config reloads (reloadConfig, SIGHUP) per vigild in the range.", "short",
              [(f'sum(increase(vigil_config_reloads_total{{job=~"$job",instance=~"$instance"}}[$__rate_interval]))', "reloads")],
              18, 0, 6, 4),
        panel("timeseries", "Processes by state", "How many processes are in each supervisord state.", "short",
              [(f"sum by (state) (vigil_process_state{{{SEL}}})", "{{state}}")], 0, 4, 12, 8),
        panel("state-timeline", "Up", "1 while a process is RUNNING, 0 otherwise.", "bool_on_off",
              [(f"vigil_process_up{{{SEL}}}", "{{instance}} {{group}}:{{name}}")], 12, 4, 12, 8),
        panel("timeseries", "Restart rate", "Restarts per second of each process, of any cause.", "ops",
              [(f"sum by (instance, group, name) (rate(vigil_process_restarts_total{{{SEL}}}[$__rate_interval]))",
                "{{instance}} {{group}}:{{name}}")], 0, 12, 12, 8),
        panel("timeseries", "Crash rate", "Crashes per second: exits vigil did not ask for, not in exitcodes.", "ops",
              [(f"sum by (instance, group, name) (rate(vigil_process_crashes_total{{{SEL}}}[$__rate_interval]))",
                "{{instance}} {{group}}:{{name}}")], 12, 12, 12, 8),
        panel("timeseries", "Top CPU", "The 10 busiest process trees, in cores (1 = 100 % of one core).", "percentunit",
              [(f'topk(10, sum by (instance, group, name) (rate(vigil_process_cpu_seconds_total{{{SEL},scope="tree"}}[$__rate_interval])))',
                "{{instance}} {{group}}:{{name}}")], 0, 20, 12, 8),
        panel("timeseries", "Top memory", "The 10 largest process trees by resident memory.", "bytes",
              [(f'topk(10, vigil_process_resident_memory_bytes{{{SEL},scope="tree"}})',
                "{{instance}} {{group}}:{{name}}")], 12, 20, 12, 8),
        panel("timeseries", "Log bytes", "Bytes per second each process writes to its logs.", "Bps",
              [(f"sum by (instance, group, name, stream) (rate(vigil_log_bytes_total{{{SEL}}}[$__rate_interval]))",
                "{{group}}:{{name}} {{stream}}")], 0, 28, 24, 8),
    ]
    top = hosts()
    for each in below:
        each["gridPos"]["y"] += top["gridPos"]["h"]
    return dashboard("vigil-fleet", "vigil: fleet", "Every host running vigild and its programs at a glance.",
                     [top] + below, with_name=False)


def program():
    return dashboard("vigil-program", "vigil: program", "One program's resources, restarts and exits.", [
        panel("stat", "Uptime", "Time since the current child started.", "s",
              [(f"time() - vigil_process_start_time_seconds{{{PROGRAM}}}", "{{name}}")], 0, 0, 6, 4),
        panel("stat", "Restart delay", "The wait before the next start (crash-loop back-off).", "s",
              [(f"vigil_process_restart_delay_seconds{{{PROGRAM}}}", "{{name}}")], 6, 0, 6, 4,
              defaults=thresholds((None, "green"), (1, "orange"), (60, "red"))),
        panel("stat", "Last exit code", "The exit status of the last exit (-1 after a signal).", "none",
              [(f"vigil_process_last_exit_code{{{PROGRAM}}}", "{{name}}")], 12, 0, 6, 4),
        panel("stat", "Healthy", "1 while the health check passes (programs with a health check).", "bool_yes_no",
              [(f"vigil_process_healthy{{{PROGRAM}}}", "{{name}}")], 18, 0, 6, 4,
              defaults=thresholds((None, "red"), (1, "green"))),
        panel("timeseries", "CPU", "CPU of the process and of its whole tree, in cores.", "percentunit",
              [(f"sum by (name, scope) (rate(vigil_process_cpu_seconds_total{{{PROGRAM}}}[$__rate_interval]))",
                "{{name}} {{scope}}")], 0, 4, 12, 8),
        panel("timeseries", "Resident memory", "RSS of the process and of its tree.", "bytes",
              [(f"vigil_process_resident_memory_bytes{{{PROGRAM}}}", "{{name}} {{scope}}")], 12, 4, 12, 8),
        panel("timeseries", "Threads", "Threads of the process and of its tree.", "short",
              [(f"vigil_process_threads{{{PROGRAM}}}", "{{name}} {{scope}}")], 0, 12, 12, 8),
        panel("timeseries", "Open fds", "Open file descriptors of the process and of its tree.", "short",
              [(f"vigil_process_open_fds{{{PROGRAM}}}", "{{name}} {{scope}}")], 12, 12, 12, 8),
        panel("timeseries", "Restarts", "Restarts in each interval, of any cause.", "short",
              [(f"sum by (name) (increase(vigil_process_restarts_total{{{PROGRAM}}}[$__rate_interval]))",
                "{{name}}")], 0, 20, 12, 8),
        panel("timeseries", "Exits by reason", "Exits in each interval: expected, unexpected, signal, stopped, memory_limit, unhealthy.",
              "short",
              [(f"sum by (name, reason) (increase(vigil_process_exits_total{{{PROGRAM}}}[$__rate_interval]))",
                "{{name}} {{reason}}")], 12, 20, 12, 8),
    ], with_name=True)


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for name, build in (("vigil-fleet.json", fleet), ("vigil-program.json", program)):
        with open(os.path.join(here, name), "w") as out:
            json.dump(build(), out, indent=2)
            out.write("\n")
