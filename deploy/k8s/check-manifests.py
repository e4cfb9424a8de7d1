#!/usr/bin/env python3
"""Offline sanity check of rendered streamroute manifests
(kubectl kustomize deploy/k8s/... | check-manifests.py - or FILE...).

No API server is needed: it checks what a schema check cannot, that the
objects hold together -- every ConfigMap a pod refers to is generated,
every Service and the PodDisruptionBudget select pods that exist, every
named target port is a port of those pods -- and that the origin keeps
its promises: readiness on /healthcheck/deep (through ready.sh),
liveness on /healthcheck, a preStop drain within the grace period,
resource requests, and a non-root (10001) read-only container whose
writable paths are emptyDirs.  Exits 1 with one line per problem."""
import sys
import yaml

problems = []


def bad(msg):
    problems.append(msg)


def check(docs, where):
    kinds = {}
    for d in docs:
        if not d:
            continue
        for f in ("apiVersion", "kind", "metadata"):
            if f not in d:
                bad(f"{where}: an object without {f}")
        kinds.setdefault(d["kind"], []).append(d)
    cms = {c["metadata"]["name"] for c in kinds.get("ConfigMap", [])}
    pods = []  # (deployment name, labels, pod spec)
    for dep in kinds.get("Deployment", []):
        name = dep["metadata"]["name"]
        spec = dep["spec"]
        labels = spec["template"]["metadata"].get("labels", {})
        sel = spec["selector"]["matchLabels"]
        if any(labels.get(k) != v for k, v in sel.items()):
            bad(f"{where}: Deployment {name}: selector {sel} does not match its pods")
        pod = spec["template"]["spec"]
        pods.append((name, labels, pod))
        for c in pod["containers"] + pod.get("initContainers", []):
            for e in c.get("envFrom", []):
                ref = e.get("configMapRef", {}).get("name")
                if ref and ref not in cms:
                    bad(f"{where}: {name}/{c['name']}: no ConfigMap {ref}")
            if "resources" not in c or "requests" not in c["resources"]:
                bad(f"{where}: {name}/{c['name']}: no resource requests")
        for v in pod.get("volumes", []):
            ref = v.get("configMap", {}).get("name")
            if ref and ref not in cms:
                bad(f"{where}: {name}: volume {v['name']}: no ConfigMap {ref}")
        vols = {v["name"] for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            for m in c.get("volumeMounts", []):
                if m["name"] not in vols:
                    bad(f"{where}: {name}/{c['name']}: mounts unknown volume {m['name']}")

    def selected(sel):
        return [p for p in pods if all(p[1].get(k) == v for k, v in sel.items())]

    for svc in kinds.get("Service", []):
        name = svc["metadata"]["name"]
        hit = selected(svc["spec"].get("selector", {}))
        if not hit:
            bad(f"{where}: Service {name} selects no pods")
        for port in svc["spec"]["ports"]:
            tp = port.get("targetPort", port["port"])
            for p in hit:
                cports = [cp for c in p[2]["containers"] for cp in c.get("ports", [])]
                if isinstance(tp, str) and tp not in [cp.get("name") for cp in cports]:
                    bad(f"{where}: Service {name}: pods of {p[0]} have no port named {tp}")
                if isinstance(tp, int) and tp not in [cp["containerPort"] for cp in cports]:
                    bad(f"{where}: Service {name}: pods of {p[0]} have no port {tp}")
    for pdb in kinds.get("PodDisruptionBudget", []):
        if not selected(pdb["spec"]["selector"]["matchLabels"]):
            bad(f"{where}: PodDisruptionBudget {pdb['metadata']['name']} selects no pods")

    origins = [p for p in pods if p[1].get("app.kubernetes.io/component") == "origin"]
    if len(origins) != 1:
        bad(f"{where}: {len(origins)} origin Deployments, not 1")
    for name, labels, pod in origins:
        if not any(selected(pdb["spec"]["selector"]["matchLabels"])
                   for pdb in kinds.get("PodDisruptionBudget", [])):
            bad(f"{where}: no PodDisruptionBudget for {name}")
        c = next((c for c in pod["containers"] if c["name"] == "origin"), None)
        if c is None:
            bad(f"{where}: {name} has no container named origin")
            continue
        ready = c.get("readinessProbe", {})
        if "ready.sh" not in " ".join(ready.get("exec", {}).get("command", [])):
            bad(f"{where}: {name}: readiness is not ready.sh (/healthcheck/deep, drain)")
        if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthcheck":
            bad(f"{where}: {name}: liveness is not /healthcheck")
        if "drain.sh" not in " ".join(c.get("lifecycle", {}).get("preStop", {})
                                      .get("exec", {}).get("command", [])):
            bad(f"{where}: {name}: no preStop drain")
        # drain.sh: 15 s unready, then up to 30 s of requests in flight
        if pod.get("terminationGracePeriodSeconds", 30) < 50:
            bad(f"{where}: {name}: terminationGracePeriodSeconds below the drain's 45 s")
        psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
        if not psc.get("runAsNonRoot") or csc.get("runAsUser", psc.get("runAsUser")) != 10001:
            bad(f"{where}: {name}: not runAsNonRoot as uid 10001")
        if not csc.get("readOnlyRootFilesystem"):
            bad(f"{where}: {name}: root file system is writable")
        empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
        for path in ("/var/lib/streamroute", "/etc/varnish/streamroute", "/tmp"):
            if mounts.get(path) not in empty:
                bad(f"{where}: {name}: {path} is not an emptyDir")
        if "memory" not in c.get("resources", {}).get("limits", {}):
            bad(f"{where}: {name}: no memory limit")


for path in sys.argv[1:]:
    with (sys.stdin if path == "-" else open(path)) as f:
        check(list(yaml.safe_load_all(f)), path)
for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
