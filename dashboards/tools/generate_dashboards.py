#!/usr/bin/env python3
"""Writes dashboards/*.json (Grafana 9+). Developer tool: the JSON is
committed, so neither the build nor CI runs this. Edit here, run
`python3 dashboards/tools/generate_dashboards.py`, commit both."""

import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
JSEL = 'instance=~"$instance",name=~"$jail"'

# Grafana's schemaVersion for Grafana 10.4/11.x (the current release line).
SCHEMA_VERSION = 39

# Suffix of the per-unit jailwarden_* families (peaks, limits, amounts,
# headroom) by Grafana unit: one unit per family, base unit in the name.
UNIT_SUFFIX = {"s": "_seconds", "bytes": "_bytes", "short": "", "percent": "_percent",
               "Bps": "_bytes_per_second", "iops": "_ops_per_second"}

# (resource, usage metric, unit, is_counter) in RACCT index order.
RESOURCES = [
    ("cputime", "jail_cputime_seconds_total", "s", True),
    ("datasize", "jail_datasize_bytes", "bytes", False),
    ("stacksize", "jail_stacksize_bytes", "bytes", False),
    ("coredumpsize", "jail_coredumpsize_bytes", "bytes", False),
    ("memoryuse", "jail_memoryuse_bytes", "bytes", False),
    ("memorylocked", "jail_memorylocked_bytes", "bytes", False),
    ("maxproc", "jail_maxproc", "short", False),
    ("openfiles", "jail_openfiles", "short", False),
    ("vmemoryuse", "jail_vmemoryuse_bytes", "bytes", False),
    ("pseudoterminals", "jail_pseudoterminals", "short", False),
    ("swapuse", "jail_swapuse_bytes", "bytes", False),
    ("nthr", "jail_nthr", "short", False),
    ("msgqqueued", "jail_msgqqueued", "short", False),
    ("msgqsize", "jail_msgqsize_bytes", "bytes", False),
    ("nmsgq", "jail_nmsgq", "short", False),
    ("nsem", "jail_nsem", "short", False),
    ("nsemop", "jail_nsemop", "short", False),
    ("nshm", "jail_nshm", "short", False),
    ("shmsize", "jail_shmsize_bytes", "bytes", False),
    ("wallclock", "jail_wallclock_seconds_total", "s", True),
    ("pcpu", "jail_pcpu_used", "percent", False),
    ("readbps", "jail_readbps", "Bps", False),
    ("writebps", "jail_writebps", "Bps", False),
    ("readiops", "jail_readiops", "iops", False),
    ("writeiops", "jail_writeiops", "iops", False),
]


class Layout:
    def __init__(self):
        self.y = 0
        self.x = 0
        self.next_id = 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = h
        pid = self.next_id
        self.next_id += 1
        return pid, pos

    def row(self, title):
        if self.x:
            self.x = 0
            self.y += self.row_h
        pid = self.next_id
        self.next_id += 1
        p = {"type": "row", "title": title, "id": pid, "collapsed": False,
             "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []}
        self.y += 1
        return p


def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"datasource": DS, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        t["instant"] = True
        t["range"] = False
    if fmt:
        t["format"] = fmt
    return t


def panel(lay, kind, title, targets, unit="short", w=12, h=8, desc="", overrides=None,
          options=None):
    pid, pos = lay.place(w, h)
    refs = "ABCDEFGH"
    for i, t in enumerate(targets):
        t["refId"] = refs[i]
    p = {"type": kind, "title": title, "id": pid, "gridPos": pos, "datasource": DS,
         "targets": targets,
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": overrides or []}}
    if desc:
        p["description"] = desc
    if options:
        p["options"] = options
    return p


def limit_override():
    # Limits drawn as dashed red lines over the usage.
    return [{"matcher": {"id": "byFrameRefID", "options": "B"},
             "properties": [
                 {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                 {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                 {"id": "custom.fillOpacity", "value": 0}]}]


def variables(jail=True):
    v = [
        {"type": "datasource", "name": "datasource", "label": "Data source",
         "query": "prometheus", "current": {}, "hide": 0, "refresh": 1,
         "regex": "", "options": []},
        {"type": "query", "name": "instance", "label": "Instance", "datasource": DS,
         "query": {"query": "label_values(jail_num, instance)", "refId": "instance"},
         "definition": "label_values(jail_num, instance)", "refresh": 2,
         "multi": True, "includeAll": True, "allValue": ".+", "current": {},
         "sort": 1, "hide": 0, "options": [], "regex": ""},
    ]
    if jail:
        v.append({"type": "query", "name": "jail", "label": "Jail", "datasource": DS,
                  "query": {"query": 'label_values(jail_id{instance=~"$instance"}, name)',
                            "refId": "jail"},
                  "definition": 'label_values(jail_id{instance=~"$instance"}, name)',
                  "refresh": 2, "multi": True, "includeAll": True, "allValue": ".+",
                  "current": {}, "sort": 1, "hide": 0, "options": [], "regex": ""})
    return v


def annotation(name, expr, title, text, color, tags):
    return {"name": name, "datasource": DS, "enable": True, "hide": False,
            "iconColor": color, "expr": expr, "step": "30s", "titleFormat": title,
            "textFormat": text, "tagKeys": tags, "useValueForTime": False}


def annotations():
    # Grafana's own annotations, then jailwarden's events from its metrics.
    return [
        {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
         "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
         "name": "Annotations & Alerts", "type": "dashboard"},
        annotation("Jail (re)starts",
                   f"changes(jailwarden_jail_start_time_seconds{{{JSEL}}}[$__interval]) > 0",
                   "jail started", "{{name}} on {{instance}}", "blue", "name,instance"),
        annotation("Policy reloads",
                   f"changes(jailwarden_policy_generation{{{SEL}}}[$__interval]) > 0",
                   "policy reloaded", "{{instance}}", "purple", "instance"),
        annotation("Failed reloads",
                   f"jailwarden_config_last_reload_successful{{{SEL}}} == 0",
                   "policy reload failed", "{{instance}}", "red", "instance"),
    ]


def dashboard(uid, title, panels, desc, jail=True):
    return {
        "uid": uid, "title": title, "description": desc,
        "tags": ["jailwarden", "jails", "rctl"], "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": True, "graphTooltip": 1,
        "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables(jail)},
        "annotations": {"list": annotations()},
        "links": [{"type": "dashboards", "tags": ["jailwarden"], "asDropdown": True,
                   "title": "jailwarden", "includeVars": True, "keepTime": True}],
        "panels": panels,
    }


def fleet():
    lay = Layout()
    ps = [lay.row("Now")]
    stat = lambda title, expr, unit="short": panel(lay, "stat", title, [target(expr)], unit,
                                                   w=4, h=4)
    ps += [
        stat("Jails read", f"sum(jail_num{{{SEL}}})"),
        stat("Expected but not running",
             f"count(jailwarden_jail_expected_running{{{SEL}}} == 1 unless on (instance, job, name) "
             f'jailwarden_jail_state{{{SEL},state="running"}}) or vector(0)'),
        stat("CPU (sum of pcpu)", f"sum(jail_pcpu_used{{{SEL}}})", "percent"),
        stat("Resident memory", f"sum(jail_memoryuse_bytes{{{SEL}}})", "bytes"),
        stat("Processes", f"sum(jail_maxproc{{{SEL}}})"),
        stat("Threads", f"sum(jail_nthr{{{SEL}}})"),
    ]
    ps.append(lay.row("Per jail"))
    ps += [
        panel(lay, "timeseries", "CPU (pcpu, % of one CPU)",
              [target(f"jail_pcpu_used{{{JSEL}}}", "{{name}}")], "percent"),
        panel(lay, "timeseries", "CPU time rate (cores)",
              [target(f"rate(jail_cputime_seconds_total{{{JSEL}}}[$__rate_interval])",
                      "{{name}}")], "short"),
        panel(lay, "timeseries", "Resident memory",
              [target(f"jail_memoryuse_bytes{{{JSEL}}}", "{{name}}")], "bytes"),
        panel(lay, "timeseries", "Swap",
              [target(f"jail_swapuse_bytes{{{JSEL}}}", "{{name}}")], "bytes"),
        panel(lay, "timeseries", "Processes and threads",
              [target(f"jail_maxproc{{{JSEL}}}", "{{name}} processes"),
               target(f"jail_nthr{{{JSEL}}}", "{{name}} threads")], "short"),
        panel(lay, "timeseries", "Disk I/O (RACCT rates)",
              [target(f"jail_readbps{{{JSEL}}}", "{{name}} read"),
               target(f"-jail_writebps{{{JSEL}}}", "{{name}} write")], "Bps"),
        panel(lay, "timeseries", "Disk I/O (rate of the byte counters)",
              [target(f"rate(jail_read_bytes_total{{{JSEL}}}[$__rate_interval])",
                      "{{name}} read"),
               target(f"-rate(jail_write_bytes_total{{{JSEL}}}[$__rate_interval])",
                      "{{name}} write")], "Bps",
              desc="Linux backends only: FreeBSD's RACCT gives rates, not totals."),
        panel(lay, "timeseries", "Disk operations / s (rate of the op counters)",
              [target(f"rate(jail_read_ops_total{{{JSEL}}}[$__rate_interval])",
                      "{{name}} read"),
               target(f"-rate(jail_write_ops_total{{{JSEL}}}[$__rate_interval])",
                      "{{name}} write")], "iops",
              desc="Linux backends only: FreeBSD's RACCT gives rates, not totals."),
    ]
    ps.append(lay.row("Limits"))
    ps += [
        panel(lay, "bargauge", "Usage / limit (per=jail limits, needs the rules file)",
              [target(f"jailwarden:jail_usage_limit:ratio{{{JSEL}}}",
                      "{{name}} {{resource}} {{action}}", instant=True)],
              "percentunit", w=12, h=10,
              options={"displayMode": "gradient", "orientation": "horizontal"}),
        panel(lay, "table", "Jails by state",
              [target(f"jailwarden_jail_state{{{JSEL}}}", instant=True, fmt="table")],
              w=12, h=10),
    ]
    return dashboard("jailwarden-fleet", "jailwarden / Fleet overview", ps,
                     "Every jail on the selected hosts: counts, CPU, memory, I/O, limits.")


def jail():
    lay = Layout()
    ps = [lay.row("Jail")]
    ps += [
        panel(lay, "stat", "JID", [target(f"jail_id{{{JSEL}}}", "{{name}}")], w=6, h=4),
        panel(lay, "stat", "Started",
              [target(f"jailwarden_jail_start_time_seconds{{{JSEL}}} * 1000", "{{name}}")],
              "dateTimeFromNow", w=6, h=4),
        panel(lay, "table", "State",
              [target(f"jailwarden_jail_state{{{JSEL}}}", instant=True, fmt="table")],
              w=6, h=4),
        panel(lay, "stat", "Stale reads",
              [target(f"jailwarden_jail_usage_stale{{{JSEL}}}", "{{name}}")], w=6, h=4),
    ]
    ps.append(lay.row("All 25 RACCT resources: usage (solid), peak between scrapes, "
                      "limits (dashed)"))
    for res, metric, unit, counter in RESOURCES:
        sfx = UNIT_SUFFIX[unit]
        ts = [target(f"{metric}{{{JSEL}}}", "{{name}} usage"),
              target(f'jailwarden_jail_limit{sfx}{{{JSEL},resource="{res}"}}',
                     "{{name}} {{action}} limit (per {{per}})")]
        if not counter:
            ts.append(target(f'jailwarden_jail_usage_peak{sfx}{{{JSEL},resource="{res}"}}',
                             "{{name}} peak"))
        ps.append(panel(lay, "timeseries", f"{res} ({metric})", ts, unit, w=8, h=7,
                        overrides=limit_override()))
    return dashboard("jailwarden-jail", "jailwarden / Jail", ps,
                     "One jail (or several): every RACCT resource with its configured "
                     "limits drawn over the usage.")


def rules():
    lay = Layout()
    ps = [lay.row("Rules in force")]
    ps += [
        panel(lay, "table", "Rule fidelity on this backend",
              [target(f"jailwarden_rule_fidelity{{{SEL}}}", instant=True, fmt="table")],
              w=24, h=8,
              desc="exact: the kernel enforces it as RCTL would; approximate: close "
                   "(the API's rule listing says how); sampled: only the sampler acts; "
                   "unsupported: not at all. mechanism: cgroup, rlimit, sampled, sysctl, "
                   "devpts, kernel (FreeBSD RCTL) or none."),
        panel(lay, "table", "Rule amounts (base units: bytes, seconds, percent, per second)",
              [target(f'{{__name__=~"jailwarden_rule_amount.*",{SEL}}}', instant=True,
                      fmt="table")],
              w=24, h=8),
    ]
    ps.append(lay.row("Actions"))
    ps += [
        panel(lay, "timeseries", "Rule matches (exceedance episodes / s)",
              [target(f"sum by (rule, name) (rate(jailwarden_rule_matches_total{{{JSEL}}}"
                      f"[$__rate_interval]))", "{{rule}} ({{name}})")],
              "short"),
        panel(lay, "timeseries", "Deny: evaluations over the amount / s",
              [target(f"sum by (rule, name) (rate(jailwarden_rule_denials_total{{{JSEL}}}"
                      f"[$__rate_interval]))", "{{rule}} ({{name}})")],
              "short"),
        panel(lay, "timeseries", "Throttling evaluations / s",
              [target(f"sum by (rule, name) (rate(jailwarden_rule_throttles_total{{{JSEL}}}"
                      f"[$__rate_interval]))", "{{rule}} ({{name}})")],
              "short"),
        panel(lay, "timeseries", "Headroom: bytes (amount - usage)",
              [target(f"jailwarden_rule_headroom_bytes{{{JSEL}}}", "{{rule}} ({{name}})")],
              "bytes"),
        panel(lay, "timeseries", "Headroom: counts (processes, files, ...)",
              [target(f"jailwarden_rule_headroom{{{JSEL}}}", "{{rule}} ({{name}})")],
              "short"),
        panel(lay, "timeseries", "Headroom: CPU (percent of one CPU)",
              [target(f"jailwarden_rule_headroom_percent{{{JSEL}}}", "{{rule}} ({{name}})")],
              "percent"),
        panel(lay, "timeseries", "Headroom: I/O (bytes/s)",
              [target(f"jailwarden_rule_headroom_bytes_per_second{{{JSEL}}}",
                      "{{rule}} ({{name}})")], "Bps"),
    ]
    return dashboard("jailwarden-rules", "jailwarden / Rules and actions", ps,
                     "RCTL rules: how each is enforced here, matches, denials, throttling, "
                     "headroom.")


def health():
    lay = Layout()
    ps = [lay.row("Service")]
    ps += [
        panel(lay, "stat", "Up", [target(f'up{{{SEL},job=~"jailwarden.*"}}', "{{instance}}")],
              w=6, h=4),
        panel(lay, "table", "Build",
              [target(f"jailwarden_build_info{{{SEL}}}", instant=True, fmt="table")],
              w=12, h=4),
        panel(lay, "stat", "Last tick age",
              [target(f"jailwarden_sampler_last_tick_age_seconds{{{SEL}}}",
                      "{{instance}}")], "s", w=6, h=4),
    ]
    ps.append(lay.row("Sampler"))
    ps += [
        panel(lay, "timeseries", "Tick duration (mean, max, last)",
              [target(f"rate(jailwarden_sampler_tick_duration_seconds_sum{{{SEL}}}[$__rate_interval])"
                      f" / rate(jailwarden_sampler_tick_duration_seconds_count{{{SEL}}}"
                      f"[$__rate_interval])", "{{instance}} mean"),
               target(f"jailwarden_sampler_tick_duration_max_seconds{{{SEL}}}",
                      "{{instance}} max since start"),
               target(f"jailwarden_sampler_tick_duration_last_seconds{{{SEL}}}",
                      "{{instance}} last")], "s"),
        panel(lay, "timeseries", "Ticks and overruns / s",
              [target(f"rate(jailwarden_sampler_ticks_total{{{SEL}}}[$__rate_interval])",
                      "{{instance}} ticks"),
               target(f"rate(jailwarden_sampler_overruns_total{{{SEL}}}[$__rate_interval])",
                      "{{instance}} overruns")], "short"),
        panel(lay, "timeseries", "Read errors / s by reason",
              [target(f"sum by (instance, reason) (rate(jailwarden_sampler_read_errors_total"
                      f"{{{SEL}}}[$__rate_interval]))", "{{instance}} {{reason}}")], "short"),
        panel(lay, "timeseries", "Jails appeared / vanished / s",
              [target(f"rate(jailwarden_sampler_jails_appeared_total{{{SEL}}}[$__rate_interval])",
                      "{{instance}} appeared"),
               target(f"rate(jailwarden_sampler_jails_vanished_total{{{SEL}}}[$__rate_interval])",
                      "{{instance}} vanished")], "short"),
        panel(lay, "timeseries", "Slow tier duration (last)",
              [target(f"jailwarden_sampler_slow_tier_duration_last_seconds{{{SEL}}}",
                      "{{instance}}")], "s"),
        panel(lay, "timeseries", "Stale jails",
              [target(f"sum by (instance) (jailwarden_jail_usage_stale{{{JSEL}}})",
                      "{{instance}}")], "short"),
    ]
    ps.append(lay.row("Engine and scrape"))
    ps += [
        panel(lay, "timeseries", "Engine evaluation duration (mean, max)",
              [target(f"rate(jailwarden_engine_evaluation_duration_seconds_sum{{{SEL}}}"
                      f"[$__rate_interval]) / rate(jailwarden_engine_evaluation_duration_seconds_count"
                      f"{{{SEL}}}[$__rate_interval])", "{{instance}} mean"),
               target(f"jailwarden_engine_evaluation_duration_max_seconds{{{SEL}}}",
                      "{{instance}} max since start")], "s"),
        panel(lay, "timeseries", "Engine checks and decisions / s",
              [target(f"jailwarden_engine_checks{{{SEL}}}", "{{instance}} checks"),
               target(f"rate(jailwarden_engine_decisions_total{{{SEL}}}[$__rate_interval])",
                      "{{instance}} decisions/s")], "short"),
        panel(lay, "timeseries", "/metrics render and scrape duration",
              [target(f"jailwarden_metrics_render_duration_seconds{{{SEL}}}",
                      "{{instance}} render"),
               target(f'scrape_duration_seconds{{{SEL},job=~"jailwarden.*"}}',
                      "{{instance}} scrape")], "s"),
        panel(lay, "timeseries", "Series per scrape",
              [target(f'scrape_samples_scraped{{{SEL},job=~"jailwarden.*"}}',
                      "{{instance}}")], "short"),
    ]
    return dashboard("jailwarden-health", "jailwarden / Service health", ps,
                     "jailwarden itself: sampler, engine, scrape.")


for name, d in [("jailwarden-fleet", fleet()), ("jailwarden-jail", jail()),
                ("jailwarden-rules", rules()), ("jailwarden-health", health())]:
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
    print("wrote", name + ".json")
