"""Reading deploy/ for tests/ops/test_deploy_manifests.py: the Kubernetes objects, the compose
services and their settings as a process would read them, the CLI's parse of a role command."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from clipfeed import cli
from clipfeed.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
# The schemas checked. The manifests need 1.31 or newer: StatefulSet start ordinals (GA in 1.31)
# and the pod-index label (on by default since 1.28) give each pod its node ID; the sleep
# preStop action is on by default since 1.30.
KUBERNETES_VERSION = "1.33.0"
IMAGE = "clipfeed"  # the image name in the manifests (kustomization.yaml's images: sets the real one)
PREFIX = Settings.model_config["env_prefix"]


def kubernetes_objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(KUBERNETES.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [(path.name, obj) for obj in yaml.safe_load_all(path.read_text()) if obj]
    return found


OBJECTS = kubernetes_objects()


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for _, obj in OBJECTS if obj["kind"] == kind}


def workloads() -> dict[str, dict[str, Any]]:
    return {
        f"{obj['kind']}/{obj['metadata']['name']}": obj
        for _, obj in OBJECTS
        if obj["kind"] in ("StatefulSet", "Deployment", "Job")
    }


def containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec, container) for every Clipfeed container."""
    for name, workload in workloads().items():
        pod = workload["spec"]["template"]["spec"]
        for container in pod["containers"]:
            if container["image"] == IMAGE:
                yield name, pod, container


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def compose_example_env() -> dict[str, str]:
    lines = (DEPLOY / "compose.env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}, from ``env``."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2), match.group(3)
        if name in env and env[name]:
            return env[name]
        assert op != ":?", f"{name} must be set (compose.env.example has no value for it)"
        return rest if op == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, value)


def compose_clipfeed_services() -> dict[str, dict[str, Any]]:
    services = compose()["services"]
    return {name: s for name, s in services.items() if s.get("image", "").startswith("${CLIPFEED_IMAGE:-")}


def compose_env(service: dict[str, Any]) -> dict[str, str]:
    """What a compose service's process sees: the image's variables, then the service's."""
    example = compose_example_env()
    return {**image_env(), **{k: interpolate(str(v), example) for k, v in (service.get("environment") or {}).items()}}


def setting(variable: str) -> str:
    assert variable.startswith(PREFIX), variable
    return variable[len(PREFIX) :].lower()


def settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a process started with exactly these CLIPFEED_* variables would read."""
    with monkeypatch.context() as patch:
        for name in [n for n in os.environ if n.startswith(PREFIX)]:
            patch.delenv(name)
        for name, value in env.items():
            if name.startswith(PREFIX):
                patch.setenv(name, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]


def kubernetes_env() -> dict[str, str]:
    """What a Clipfeed pod's process sees: the image's variables, the ConfigMap, the Secret."""
    configmap = of_kind("ConfigMap")["clipfeed-settings"]["data"]
    secret = of_kind("Secret")["clipfeed-secrets"]["stringData"]
    return {**image_env(), **configmap, **secret}


def seconds(duration: str) -> float:
    """A compose duration: 1m30s, 20s, 500ms."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * units[u] for n, u in parts)


def command(args: list[str]) -> tuple[str, dict[str, Any]]:
    """The `clipfeed` subcommand and its parsed parameters, as the CLI would parse them."""
    commands = typer.main.get_command(cli.app).commands  # type: ignore[attr-defined]
    name, *rest = args
    assert name in commands, f"`clipfeed {name}` is no command (known: {sorted(commands)})"
    with commands[name].make_context(name, list(rest)) as context:
        return name, dict(context.params)


def dockerfile() -> str:
    return re.sub(r"\\\n", " ", DOCKERFILE.read_text())


def image_env() -> dict[str, str]:
    """The ENV variables of the image's last stage (what its processes start with)."""
    last_stage = re.split(r"^FROM ", dockerfile(), flags=re.M)[-1]
    found: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", last_stage, re.M):
        found.update(pair.split("=", 1) for pair in line.split())
    return found
