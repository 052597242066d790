#!/usr/bin/env python3
"""Writes dashboards/spanwatch.json, the Grafana dashboard for spanwatch sensors.

The JSON is generated so that every panel follows the same conventions (datasource
variable, job/instance selector, units); edit this file and run it, then
tests/deploy/run.sh checks that the committed JSON matches and that every query runs.
    python3 deploy/grafana/generate_dashboard.py
"""
import json
import os
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="spanwatch",instance=~"$instance"'
RI = "$__rate_interval"

RA_PROTOS = "rdp|vnc|teamviewer|anydesk|rustdesk|radmin|nomachine|citrix-ica|citrix-cgp|pcoip|ssh"
TUNNEL_PROTOS = "openvpn|wireguard|ike|esp|l2tp|pptp|gre|socks|http-connect|tor"
CALL_PROTOS = "stun|rtp|rtcp|dtls"


def sel(extra=""):
    return "{" + SEL + ("," + extra if extra else "") + "}"


class Builder:
    def __init__(self):
        self.panels = []
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_h = 0

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        self._newline()
        self.panels.append({
            "type": "row", "title": title, "id": self._id(), "collapsed": False,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}, "panels": [],
        })
        self.y += 1

    def _newline(self):
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def panel(self, kind, title, targets, w=8, h=8, unit="short", description="", stack=False,
              instant=False, fmt="time_series", options=None, field_overrides=None):
        if self.x + w > 24:
            self._newline()
        tgts = []
        for i, t in enumerate(targets):
            expr, legend = t if isinstance(t, tuple) else (t, "")
            tg = {"datasource": DS, "expr": expr, "refId": chr(ord("A") + i), "legendFormat": legend or "__auto",
                  "range": not instant, "instant": instant, "format": fmt}
            tgts.append(tg)
        defaults = {"unit": unit}
        if kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 20 if stack else 0,
                                  "stacking": {"mode": "normal" if stack else "none", "group": "A"},
                                  "showPoints": "never", "spanNulls": False}
        p = {
            "type": kind, "title": title, "id": self._id(), "datasource": DS, "description": description,
            "gridPos": {"h": h, "w": w, "x": self.x, "y": self.y},
            "targets": tgts,
            "fieldConfig": {"defaults": defaults, "overrides": field_overrides or []},
            "options": options or {},
        }
        if kind == "timeseries" and not options:
            p["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                            "tooltip": {"mode": "multi", "sort": "desc"}}
        if kind == "stat" and not options:
            p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                            "colorMode": "value", "graphMode": "area", "textMode": "auto"}
        self.panels.append(p)
        self.x += w
        self.row_h = max(self.row_h, h)


def build():
    RA_SEL = sel(f'app_proto=~"{RA_PROTOS}"')
    TUNNEL_SEL = sel(f'app_proto=~"{TUNNEL_PROTOS}"')
    CALL_SEL = sel(f'app_proto=~"{CALL_PROTOS}"')
    CAT_RA = sel('category="remote-access"')
    CAT_TUN = sel('category=~"tunnel|vpn|proxy"')
    CAT_BEACON = sel('category=~"beacon|resolver-bypass"')
    CAT_EXF = sel('category=~"exfiltration|egress"')
    CAT_CALLS = sel('category="calls"')
    CAT_ACCOUNT = sel('category="account"')
    b = Builder()

    b.row("Traffic and drops")
    b.panel("stat", "Packets/s (all selected sensors)",
            [f"sum(rate(spanwatch_packets_total{sel()}[{RI}]))"], w=4, h=4, unit="pps")
    b.panel("stat", "Traffic (all selected sensors)",
            [f"8 * sum(rate(spanwatch_bytes_total{sel()}[{RI}]))"], w=4, h=4, unit="bps")
    b.panel("stat", "Capture drop ratio",
            [f"sum(rate(spanwatch_capture_kernel_dropped_packets_total{sel()}[{RI}]) + rate(spanwatch_capture_interface_dropped_packets_total{sel()}[{RI}])) / sum(rate(spanwatch_capture_kernel_dropped_packets_total{sel()}[{RI}]) + rate(spanwatch_capture_interface_dropped_packets_total{sel()}[{RI}]) + rate(spanwatch_packets_total{sel()}[{RI}]))"],
            w=4, h=4, unit="percentunit", description="Packets lost by the kernel or the NIC before spanwatch read them. Alert at 1% (SpanwatchCaptureDrops).")
    b.panel("stat", "Active flows", [f"sum(spanwatch_flows_active{sel()})"], w=4, h=4)
    b.panel("stat", "Remote-access sessions open", [f"sum(spanwatch_remote_access_sessions_active{sel()})"], w=4, h=4)
    b.panel("stat", "Sensors up", [f'sum(up{sel()})'], w=4, h=4,
            description="Sensors Prometheus can scrape (job=\"spanwatch\").")
    b.panel("timeseries", "Packets/s by sensor",
            [(f"rate(spanwatch_packets_total{sel()}[{RI}])", "{{instance}}")], w=8, unit="pps")
    b.panel("timeseries", "Traffic by sensor",
            [(f"8 * rate(spanwatch_bytes_total{sel()}[{RI}])", "{{instance}}")], w=8, unit="bps")
    b.panel("timeseries", "Dropped packets/s",
            [(f"sum by (instance) (rate(spanwatch_capture_kernel_dropped_packets_total{sel()}[{RI}]))", "{{instance}} kernel"),
             (f"sum by (instance) (rate(spanwatch_capture_interface_dropped_packets_total{sel()}[{RI}]))", "{{instance}} interface"),
             (f"sum by (instance) (rate(spanwatch_queue_dropped_packets_total{sel()}[{RI}]))", "{{instance}} worker queue"),
             (f"sum by (instance) (rate(spanwatch_output_dropped_events_total{sel()}[{RI}]))", "{{instance}} output events")],
            w=8, unit="pps", description="kernel/interface: lost before capture; worker queue: workers too slow; output events: flow/alert records lost.")

    b.row("Flows by protocol")
    b.panel("timeseries", "New flows/s by application protocol",
            [(f"sum by (app_proto) (rate(spanwatch_flows_identified_total{sel()}[{RI}]))", "{{app_proto}}")],
            w=12, h=9, unit="ops", stack=True)
    b.panel("bargauge", "Flows by protocol over the time range",
            [(f"sort_desc(sum by (app_proto) (increase(spanwatch_flows_identified_total{sel()}[$__range])) > 0)", "{{app_proto}}")],
            w=6, h=9, instant=True,
            options={"orientation": "horizontal", "displayMode": "gradient",
                     "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}})
    b.panel("timeseries", "Flows: active, created/s, ended/s by reason",
            [(f"sum by (instance) (spanwatch_flows_active{sel()})", "{{instance}} active"),
             (f"sum by (instance) (rate(spanwatch_flows_created_total{sel()}[{RI}]))", "{{instance}} created/s"),
             (f"sum by (reason) (rate(spanwatch_flows_ended_total{sel()}[{RI}]))", "ended/s {{reason}}")],
            w=6, h=9)

    b.row("Remote access (RDP, VNC, AnyDesk, TeamViewer…)")
    b.panel("timeseries", "Remote-access sessions by tool",
            [(f"sum by (tool) (increase(spanwatch_remote_access_sessions_total{sel()}[{RI}]))", "{{tool}}")],
            w=8, h=9, stack=True, description="New sessions per interval. The series appear once a session is seen.")
    b.panel("table", "Sessions by tool and direction (time range)",
            [(f"sort_desc(sum by (tool, direction) (increase(spanwatch_remote_access_sessions_total{sel()}[$__range])))", "")],
            w=8, h=9, instant=True, fmt="table",
            description="inbound: from outside to a home_net host (someone controls an internal machine); outbound: an internal host controls an outside one.",
            options={"showHeader": True})
    b.panel("timeseries", "Remote-access flows and alerts",
            [(f"sum by (app_proto) (rate(spanwatch_flows_identified_total{RA_SEL}[{RI}]))", "flows/s {{app_proto}}"),
             (f"sum by (instance) (spanwatch_remote_access_sessions_active{sel()})", "{{instance}} open sessions"),
             (f"sum by (severity) (increase(spanwatch_alerts_total{CAT_RA}[{RI}]))", "alerts sev {{severity}}")],
            w=8, h=9)

    b.row("Tunnels, VPNs and proxies")
    b.panel("timeseries", "Tunnel, VPN and proxy alerts",
            [(f"sum by (category) (increase(spanwatch_alerts_total{CAT_TUN}[{RI}]))", "{{category}}")],
            w=8, h=8, stack=True)
    b.panel("timeseries", "Tunnel, VPN and proxy flows/s",
            [(f"sum by (app_proto) (rate(spanwatch_flows_identified_total{TUNNEL_SEL}[{RI}]))", "{{app_proto}}")],
            w=8, h=8, unit="ops", stack=True)
    b.panel("timeseries", "Encapsulated packets/s on the wire",
            [(f"sum by (encap) (rate(spanwatch_encapsulated_packets_total{sel()}[{RI}]))", "{{encap}}")],
            w=8, h=8, unit="pps", description="Includes the SPAN transport itself (e.g. ERSPAN, VLAN tags) as well as tunnels inside the traffic.")
    b.panel("timeseries", "Beacon, long-connection and resolver-bypass alerts",
            [(f"sum by (category) (increase(spanwatch_alerts_total{CAT_BEACON}[{RI}]))", "{{category}}")],
            w=8, h=8, stack=True,
            description="beacon: regular connections (RITA-style score) and connections open over an hour; resolver-bypass: only with [detect.resolver_bypass] alert = true.")
    b.panel("timeseries", "Encrypted DNS to public resolvers (flows/s)",
            [(f"sum by (kind) (rate(spanwatch_resolver_bypass_flows_total{sel()}[{RI}]))", "{{kind}}")],
            w=8, h=8, unit="ops", stack=True,
            description="DNS over TLS (dot), HTTPS (doh) and QUIC (doq) to the public resolvers of rules/resolvers.toml, recorded whether or not they alert.")
    b.panel("timeseries", "Beacon scoring: pairs tracked and evicted",
            [(f"sum by (instance) (spanwatch_beacon_pairs_tracked{sel()})", "{{instance}} pairs"),
             (f"sum by (instance) (rate(spanwatch_beacon_pairs_evicted_total{sel()}[{RI}]))", "{{instance}} evicted/s")],
            w=8, h=8, description="Client/server/port pairs scored for beacons; evictions mean [detect.beacon] max_pairs or max_connections_total is reached.")

    b.row("Egress and exfiltration")
    b.panel("timeseries", "Traffic by direction",
            [(f"8 * sum by (direction) (rate(spanwatch_egress_bytes_total{sel()}[{RI}]))", "{{direction}}")],
            w=8, h=8, unit="bps", description="Relative to home_net: outbound leaves the network.")
    b.panel("timeseries", "Exfiltration and egress alerts",
            [(f"sum by (category, severity) (increase(spanwatch_alerts_total{CAT_EXF}[{RI}]))", "{{category}} sev {{severity}}")],
            w=8, h=8, stack=True)
    b.panel("timeseries", "Host anomalies and hosts tracked",
            [(f"sum by (kind) (increase(spanwatch_host_anomalies_total{sel()}[{RI}]))", "anomaly {{kind}}"),
             (f"sum by (instance) (spanwatch_hosts_tracked{sel()})", "{{instance}} hosts tracked"),
             (f"sum by (instance) (rate(spanwatch_hosts_evicted_total{sel()}[{RI}]))", "{{instance}} hosts evicted/s")],
            w=8, h=8)

    b.row("Accounts")
    b.panel("timeseries", "Accounts tracked",
            [(f"sum by (instance) (spanwatch_accounts_tracked{sel()})", "{{instance}} accounts")],
            w=6, h=8, description="Names seen in clear-text authentication (Kerberos, NTLM, LDAP, Basic, mail/FTP logins) in the host stage's account view; the names themselves are in EVE and Alertmanager only.")
    b.panel("timeseries", "Account anomalies",
            [(f"sum by (kind) (increase(spanwatch_account_anomalies_total{sel()}[{RI}]))", "{{kind}}")],
            w=6, h=8, stack=True, description="networks: one account authenticating from [host.accounts] min_networks networks or min_countries countries within window_s; travel: two countries closer in time than travel allows (MaxMind database); new-device: a device fingerprint the account never used, after device_warmup_s; failed-logins: failed_logins failures from failed_sources addresses within failed_window_s.")
    b.panel("timeseries", "Account alerts",
            [(f"sum by (severity) (increase(spanwatch_alerts_total{CAT_ACCOUNT}[{RI}]))", "sev {{severity}}")],
            w=6, h=8, stack=True)
    b.panel("timeseries", "Malformed authentication messages",
            [(f"sum by (protocol) (increase(spanwatch_malformed_flows_total{sel()}[{RI}]))", "{{protocol}}")],
            w=6, h=8, stack=True, description="Flows whose opening held a malformed Kerberos or LDAP message (BER/ASN.1), NTLMSSP AUTHENTICATE or SMB2 frame, or a QUIC Initial that does not open, once per flow and protocol: broken clients, truncated captures, or fuzzing of the domain controllers.")

    b.row("Calls")
    b.panel("stat", "Calls in progress", [f"sum(spanwatch_calls_active{sel()})"], w=6, h=8)
    b.panel("timeseries", "Calls alerts",
            [(f"sum by (severity) (increase(spanwatch_alerts_total{CAT_CALLS}[{RI}]))", "sev {{severity}}")],
            w=9, h=8, stack=True)
    b.panel("timeseries", "Media flows/s (STUN, RTP, RTCP, DTLS)",
            [(f"sum by (app_proto) (rate(spanwatch_flows_identified_total{CALL_SEL}[{RI}]))", "{{app_proto}}")],
            w=9, h=8, unit="ops", stack=True)

    b.row("Alerts over time")
    b.panel("timeseries", "spanwatch alerts by category",
            [(f"sum by (category) (increase(spanwatch_alerts_total{sel()}[{RI}]))", "{{category}}")],
            w=12, h=9, stack=True, options={"legend": {"displayMode": "table", "placement": "right", "showLegend": True, "calcs": ["sum"]},
                                            "tooltip": {"mode": "multi", "sort": "desc"}})
    b.panel("table", "Alerts by category and severity (time range)",
            [(f"sort_desc(sum by (category, severity) (increase(spanwatch_alerts_total{sel()}[$__range])) > 0)", "")],
            w=6, h=9, instant=True, fmt="table", options={"showHeader": True})
    b.panel("timeseries", "Suppressed repeats and Alertmanager notifications",
            [(f"sum by (instance) (rate(spanwatch_alerts_suppressed_total{sel()}[{RI}]))", "{{instance}} suppressed/s"),
             (f"sum by (result) (increase(spanwatch_alertmanager_notifications_total{sel()}[{RI}]))", "notifications {{result}}"),
             (f"sum(spanwatch_alertmanager_active_alerts{sel()})", "alerts firing in Alertmanager"),
             (f"sum by (output) (increase(spanwatch_eve_output_dropped_records_total{sel()}[{RI}]))", "EVE records dropped ({{output}})")],
            w=6, h=9)
    b.panel("table", "Prometheus alerts firing now",
            [('ALERTS{alertname=~"Spanwatch.*",alertstate="firing"}', "")],
            w=24, h=6, instant=True, fmt="table", options={"showHeader": True},
            description="From spanwatch.rules.yml; routed by Alertmanager on their category label.")
    b.panel("timeseries", "Packet evidence (pcap files for alerts)",
            [(f"sum by (instance) (increase(spanwatch_evidence_files_total{sel()}[{RI}]))", "{{instance}} files written"),
             (f"sum by (instance) (increase(spanwatch_evidence_files_deleted_total{sel()}[{RI}]))", "{{instance}} deleted for the budget"),
             (f"sum by (reason) (increase(spanwatch_evidence_dropped_packets_total{sel()}[{RI}]))", "packets dropped ({{reason}})"),
             (f"sum by (instance) (spanwatch_evidence_disk_bytes{sel()}) / 1048576", "{{instance}} MiB on disk")],
            w=24, h=6,
            description="Only with [evidence] enabled. Deletions hold evidence.disk_budget_mb; drops: writer queue full, memory_mb full, file deleted, write errors.")

    b.row("Sensor health")
    b.panel("timeseries", "Decode errors/s by layer",
            [(f"sum by (layer) (rate(spanwatch_decode_errors_total{sel()}[{RI}]))", "{{layer}}"),
             (f"sum(rate(spanwatch_non_ip_packets_total{sel()}[{RI}]))", "non-IP frames"),
             (f"sum(rate(spanwatch_ip_fragments_total{sel()}[{RI}]))", "IP fragments")],
            w=8, h=8, unit="pps")
    b.panel("timeseries", "Packets/s by worker",
            [(f"rate(spanwatch_worker_packets_total{sel()}[{RI}])", "{{instance}} worker {{worker}}"),
             (f"rate(spanwatch_queue_dropped_packets_total{sel()}[{RI}])", "{{instance}} queue drops")],
            w=8, h=8, unit="pps", description="Uneven workers mean a few heavy flows; queue drops mean more workers are needed.")
    b.panel("timeseries", "EVE records/s and write errors",
            [(f"sum by (event_type) (rate(spanwatch_eve_records_total{sel()}[{RI}]))", "{{event_type}}"),
             (f"sum(rate(spanwatch_eve_write_errors_total{sel()}[{RI}]))", "write errors")],
            w=8, h=8, unit="ops")
    b.panel("stat", "Last packet age",
            [(f"time() - spanwatch_last_packet_timestamp_seconds{sel()}", "{{instance}}")],
            w=4, h=6, unit="s", description="Seconds since the newest captured packet (SpanwatchNoPackets after 5 minutes).",
            field_overrides=[])
    b.panel("stat", "Uptime", [(f"time() - spanwatch_start_time_seconds{sel()}", "{{instance}}")], w=4, h=6, unit="s")
    b.panel("stat", "Rules loaded", [(f"spanwatch_rules_loaded{sel()}", "{{instance}}")], w=4, h=6)
    b.panel("stat", "Last reload OK", [(f"spanwatch_config_last_reload_successful{sel()}", "{{instance}}")], w=4, h=6,
            options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "background", "graphMode": "none", "textMode": "auto"},
            field_overrides=[])
    b.panel("timeseries", "Reloads by result",
            [(f"sum by (result) (increase(spanwatch_config_reloads_total{sel()}[{RI}]))", "{{result}}")], w=8, h=6)
    b.panel("table", "Build info",
            [(f"spanwatch_build_info{sel()}", "")], w=24, h=5, instant=True, fmt="table", options={"showHeader": True})
    b.panel("timeseries", "AF_PACKET ring fill by worker",
            [(f"spanwatch_capture_ring_fill_ratio{sel()}", "{{instance}} worker {{worker}}"),
             (f"sum by (instance) (rate(spanwatch_capture_ring_freezes_total{sel()}[{RI}]))", "{{instance}} ring freezes/s")],
            w=12, h=6, unit="percentunit",
            description="Share of each worker's ring waiting to be read at the last tick: near 1, the kernel drops next (raise capture.ring_blocks or add workers).")
    b.panel("timeseries", "Capture by interface",
            [(f"rate(spanwatch_capture_packets_per_interface_total{sel()}[{RI}])", "{{instance}} {{interface}}"),
             (f"rate(spanwatch_capture_kernel_dropped_packets_per_interface_total{sel()}[{RI}])", "{{instance}} {{interface}} kernel drops"),
             (f"sum by (instance) (rate(spanwatch_capture_handoff_packets_total{sel()}[{RI}]))", "{{instance}} tunnelled, handed over")],
            w=12, h=6, unit="pps",
            description="Packets and kernel drops per capture interface (the two halves of a TAP should be about even); tunnelled packets handed to the worker of their inner flow.")

    # Stat colours for the reload gauge: 0 is bad.
    for p in b.panels:
        if p.get("title") == "Last reload OK":
            p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
                {"color": "red", "value": None}, {"color": "green", "value": 1}]}
            p["fieldConfig"]["defaults"]["mappings"] = [{"type": "value", "options": {
                "0": {"text": "failed", "index": 0}, "1": {"text": "ok", "index": 1}}}]
        if p.get("title") == "Last packet age":
            p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
                {"color": "green", "value": None}, {"color": "orange", "value": 60}, {"color": "red", "value": 300}]}

    return {
        "uid": "spanwatch-overview",
        "title": "spanwatch — network sensors",
        "description": "Remote control, tunnels, data leaving, and the health of the spanwatch sensors.",
        "tags": ["spanwatch", "network", "security"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1, "regex": "", "includeAll": False, "multi": False, "options": []},
            {"name": "instance", "label": "Sensor", "type": "query", "datasource": DS,
             "definition": 'label_values(spanwatch_build_info{job="spanwatch"}, instance)',
             "query": {"query": 'label_values(spanwatch_build_info{job="spanwatch"}, instance)',
                       "refId": "PrometheusVariableQueryEditor-VariableQuery", "qryType": 1},
             "current": {}, "hide": 0, "refresh": 2, "regex": "", "sort": 1,
             "includeAll": True, "multi": True, "allValue": ".*", "options": []},
        ]},
        "panels": b.panels,
    }


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dashboards", "spanwatch.json")
    text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        with open(out, encoding="utf-8") as f:
            if f.read() != text:
                print(f"{out} is out of date: run {sys.argv[0]}", file=sys.stderr)
                return 1
        return 0
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
