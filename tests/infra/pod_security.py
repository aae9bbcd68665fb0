"""The Kubernetes Pod Security Standards (baseline and restricted) as checks on a pod spec, so a test can
say which pods fmops generates would be refused by the namespace they land in. The admission plugin is Go
inside the API server, with no offline library: these are its rules, field by field, for the fields a pod
spec can carry (kubernetes.io/docs/concepts/security/pod-security-standards)."""

from __future__ import annotations

from typing import Any

LEVELS = ("privileged", "baseline", "restricted")
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
VOLUME_FIELDS = {"name"}


def containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or []), *(pod.get("ephemeralContainers") or [])]


def baseline(pod: dict[str, Any]) -> list[str]:
    problems = [f"{key}: true" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    problems += [f"volume {v.get('name')}: hostPath" for v in pod.get("volumes") or [] if "hostPath" in v]
    security = pod.get("securityContext") or {}
    if (security.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append("pod seccompProfile Unconfined")
    problems += [f"sysctl {s.get('name')}" for s in security.get("sysctls") or [] if s.get("name") not in SAFE_SYSCTLS]
    if (security.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("pod windowsOptions.hostProcess")
    for container in containers(pod):
        name, context = container.get("name"), container.get("securityContext") or {}
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        added = set((context.get("capabilities") or {}).get("add") or [])
        if added - BASELINE_CAPABILITIES:
            problems.append(f"{name}: adds capabilities {sorted(added - BASELINE_CAPABILITIES)}")
        problems += [f"{name}: hostPort {p['hostPort']}" for p in container.get("ports") or [] if p.get("hostPort")]
        if context.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount {context['procMount']}")
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
            problems.append(f"{name}: seccompProfile Unconfined")
        if (context.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{name}: windowsOptions.hostProcess")
    return problems


def restricted(pod: dict[str, Any]) -> list[str]:
    problems = baseline(pod)
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - VOLUME_FIELDS
        if kinds - RESTRICTED_VOLUMES:
            problems.append(f"volume {volume.get('name')}: {sorted(kinds)} is not allowed")
    security = pod.get("securityContext") or {}
    for container in containers(pod):
        name, context = container.get("name"), container.get("securityContext") or {}
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if not context.get("runAsNonRoot", security.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true")
        if context.get("runAsUser", security.get("runAsUser")) == 0:
            problems.append(f"{name}: runAsUser 0")
        profile = (context.get("seccompProfile") or security.get("seccompProfile") or {}).get("type")
        if profile not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {profile or 'unset'}, not RuntimeDefault or Localhost")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{name}: does not drop ALL capabilities")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities beyond NET_BIND_SERVICE")
    return problems


def violations(pod: dict[str, Any], level: str) -> list[str]:
    """What in `pod` (a PodSpec) the namespace level `level` refuses; none: admitted."""
    assert level in LEVELS, level
    return {"privileged": lambda _: [], "baseline": baseline, "restricted": restricted}[level](pod)
