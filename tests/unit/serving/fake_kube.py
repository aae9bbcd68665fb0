"""A small fake of the Kubernetes API on loopback, enough for `fmops deploy`'s calls, and its own tests.

It speaks real HTTP and JSON to the real kubernetes client (through a kubeconfig), and keeps what a real
API server would for these calls: objects by kind and name, server-side apply (content type
`application/apply-patch+yaml` with a field manager, else 415/422), `metadata.generation` bumped when a
spec changes, 404 Status objects, label-selected pod lists (of Deployments and LeaderWorkerSet leaders) and
custom-object lists (the TrainJobs `fmops trainjob-failure` reads), 403 for a kind the caller may not list.
What it does not have is a controller; the test decides instead whether a workload's pods become ready
(`ready(workload) -> bool`), and the fake reports the status and pods a real cluster would show in that
case (a crash-looping container when they do not). Its own tests: test_fake_kube.py; `fmops deploy
--target cluster` runs against it in tests/e2e/test_deploy_cluster.py.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

OBJECT = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+/[^/]+))"
    r"/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)/(?P<name>[^/]+)$"
)
LIST = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<plural>pods)$")
CUSTOM_LIST = re.compile(r"^/apis/(?P<group>[^/]+/[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)$")
APPLY = "application/apply-patch+yaml"
CRASH = "back-off 5m0s restarting failed container=vllm pod=demo (exit code 1: model weights not found)"


@dataclass
class FakeKube:
    """State and behaviour of the fake API server. Start with `start()`; `url` is its address."""

    ready: Callable[[dict], bool] = lambda deployment: True
    missing: set[str] = field(default_factory=set)  # plurals whose CRD is "not installed": 404
    forbidden: set[str] = field(default_factory=set)  # plurals the caller's Role does not grant: 403
    objects: dict[tuple[str, str, str], dict] = field(default_factory=dict)  # (plural, ns, name) -> object
    requests: list[dict] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> FakeKube:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                self.reply(*fake.handle("GET", self.path, self.headers, None))

            def do_PATCH(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.reply(*fake.handle("PATCH", self.path, self.headers, body))

            def do_DELETE(self) -> None:
                self.reply(*fake.handle("DELETE", self.path, self.headers, None))

            def reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(
            json.dumps(
                {  # JSON is YAML: the client reads it as a kubeconfig
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "fake",
                    "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                    "users": [{"name": "fake", "user": {"token": "fake-token"}}],
                    "contexts": [
                        {"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "fmops"}}
                    ],
                }
            )
        )
        return path

    # --- the API ---

    def handle(self, method: str, raw_path: str, headers, body: bytes | None) -> tuple[int, dict]:
        url = urlparse(raw_path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        with self.lock:
            self.requests.append(
                {"method": method, "path": url.path, "query": query, "content_type": headers.get("Content-Type")}
            )
            if method == "GET" and (match := LIST.match(url.path)):
                return 200, self.list_pods(match["ns"], query.get("labelSelector", ""))
            if method == "GET" and (match := CUSTOM_LIST.match(url.path)):
                if match["plural"] in self.forbidden:
                    message = f'{match["plural"]} is forbidden: cannot list resource "{match["plural"]}"'
                    return 403, status(403, "Forbidden", message)
                return 200, self.list_objects(match["plural"], match["ns"], query.get("labelSelector", ""))
            match = OBJECT.match(url.path)
            if not match:
                return 404, status(404, "NotFound", f"the server could not find the requested resource {url.path}")
            key = (match["plural"], match["ns"], match["name"])
            if match["plural"] in self.missing:
                return 404, status(404, "NotFound", "the server could not find the requested resource")
            if method == "PATCH":
                return self.apply(key, headers.get("Content-Type", ""), query, body or b"")
            if key not in self.objects:
                return 404, status(404, "NotFound", f'{match["plural"]} "{match["name"]}" not found')
            if method == "DELETE":
                del self.objects[key]
                return 200, status(200, "Success", "deleted")
            return 200, self.with_status(self.objects[key])

    def apply(self, key: tuple[str, str, str], content_type: str, query: dict, body: bytes) -> tuple[int, dict]:
        if content_type != APPLY:
            return 415, status(415, "UnsupportedMediaType", f"fake accepts only {APPLY}, got {content_type}")
        if not query.get("fieldManager"):
            return 422, status(422, "Invalid", "fieldManager is required for apply patch")
        applied = json.loads(body)
        if applied["metadata"]["name"] != key[2]:
            return 400, status(400, "BadRequest", "the name of the object does not match the URL")
        old = self.objects.get(key)
        new = copy.deepcopy(applied)
        generation = old["metadata"]["generation"] if old else 0
        if not old or old.get("spec") != new.get("spec"):
            generation += 1
        new["metadata"].update(
            namespace=key[1], generation=generation, uid=f"uid-{key[2]}", creationTimestamp="2026-01-01T00:00:00Z"
        )
        self.objects[key] = new
        return 200, self.with_status(new)

    def with_status(self, obj: dict) -> dict:
        """A Deployment or LeaderWorkerSet as its controller would leave it: complete when ready, else stuck
        with a surge pod (group)."""
        if obj.get("kind") not in ("Deployment", "LeaderWorkerSet"):
            return obj
        wanted = obj["spec"].get("replicas", 1)
        generation = obj["metadata"]["generation"]
        if self.ready(obj):
            state = {
                "replicas": wanted,
                "updatedReplicas": wanted,
                "readyReplicas": wanted,
                "availableReplicas": wanted,
            }
        else:
            state = {
                "replicas": wanted + 1,
                "updatedReplicas": 1,
                "readyReplicas": wanted - 1 or None,
                "availableReplicas": 0,
                "unavailableReplicas": 1,
            }
        state = {key: value for key, value in state.items() if value is not None}
        return {**obj, "status": {"observedGeneration": generation, **state}}

    def list_pods(self, namespace: str, selector: str) -> dict:
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        pods = []
        for (plural, ns, name), obj in self.objects.items():
            spec = obj.get("spec", {})
            template = spec.get("template") or spec.get("leaderWorkerTemplate", {}).get("leaderTemplate", {})
            labels = template.get("metadata", {}).get("labels", {})
            workload = plural in ("deployments", "leaderworkersets")
            if workload and ns == namespace and wanted.items() <= labels.items():
                pods.append(pod(name, ns, labels, self.ready(obj)))
        return {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}

    def list_objects(self, plural: str, namespace: str, selector: str) -> dict:
        """Stored objects of one kind whose labels hold every `key=value` of the selector."""
        wanted = dict(part.split("=", 1) for part in selector.split(",") if part)
        items = [
            obj
            for (kind, ns, _), obj in self.objects.items()
            if kind == plural and ns == namespace and wanted.items() <= obj["metadata"].get("labels", {}).items()
        ]
        return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}

    def deployment(self, name: str, namespace: str = "fmops") -> dict | None:
        return self.objects.get(("deployments", namespace, name))

    def leader_worker_set(self, name: str, namespace: str = "fmops") -> dict | None:
        return self.objects.get(("leaderworkersets", namespace, name))


def status(code: int, reason: str, message: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "reason": reason,
        "message": message,
        "code": code,
    }


def pod(deployment: str, namespace: str, labels: dict, ready: bool) -> dict:
    container = {
        "name": "vllm",
        "image": "vllm",
        "imageID": "",
        "ready": ready,
        "restartCount": 0 if ready else 5,
        "state": {"running": {}} if ready else {"waiting": {"reason": "CrashLoopBackOff", "message": CRASH}},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{deployment}-7d9f-x2x4q",
            "namespace": namespace,
            "labels": labels,
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"containers": [{"name": "vllm", "image": "vllm"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [container],
        },
    }
