"""deploy/: the image, the compose file and the Kubernetes manifests are never run here (no
container engine, no cluster), so this keeps them honest instead. Each object matches its
schema (the Kubernetes 1.33 API, strict; the Compose specification), every CLIPFEED_* name
is a setting, the settings a cluster needs are set, every command exists in the CLI, the
probes ask what ``clipfeed serve`` answers, and every stop grace outlasts the drain."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fastapi.testclient import TestClient

from clipfeed import serving
from clipfeed.api import create_app
from clipfeed.delivery.app import create_origin_app
from clipfeed.delivery.edge_server import TEMPLATE
from clipfeed.delivery.signing import parse_keys
from clipfeed.settings import Settings
from clipfeed.workers import roles
from tests.ops import deploy_files as deploy

FIELDS = Settings.model_fields
# What a cluster must set: the engines' URLs, the keys the API, origins and edges share, and
# where clients reach the API. (The node ID is checked per process below.)
CLUSTER_SETTINGS = {
    "database_url",
    "cache_url",
    "log_url",
    "blob_url",
    "media_signing_keys",
    "edge_purge_secret",
    "public_url",
}
EDGE_SETTINGS = {"media_signing_keys", "edge_purge_secret"}
# `clipfeed edge` gives nginx this long to finish on SIGQUIT (clipfeed.delivery.edge_server).
EDGE_STOP_S = 10
MAX_NODE_ID = 1023

# --- schemas -------------------------------------------------------------------------------


def test_kubernetes_manifests_match_the_kubernetes_api_schemas() -> None:
    failures = []
    for filename, obj in deploy.OBJECTS:
        try:
            kubernetes_validate.validate(obj, deploy.KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(
                f"{filename} {obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, exc.path))}: {exc.message}"
            )
    assert failures == []
    kinds = {obj["kind"] for _, obj in deploy.OBJECTS}
    assert kinds == {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Service",
        "Job",
        "StatefulSet",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }


def test_the_kubernetes_check_refuses_a_misspelt_field() -> None:
    api = copy.deepcopy(deploy.of_kind("StatefulSet")["api"])
    pod = api["spec"]["template"]["spec"]
    pod["terminationGracePeriod"] = pod.pop("terminationGracePeriodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError, match="terminationGracePeriod"):
        kubernetes_validate.validate(api, deploy.KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((deploy.KUBERNETES / "kustomization.yaml").read_text())
    manifests = {p.name for p in deploy.KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(manifests)
    assert {i["name"] for i in kustomization["images"]} == {deploy.IMAGE}


def test_compose_file_matches_the_compose_specification(tmp_path: Path) -> None:
    """check-jsonschema with its vendored Compose schema (no download); a broken copy beside it
    shows the check can fail."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(deploy.COMPOSE.read_text().replace("stop_grace_period: 30s", "stop_grace_periods: 30s", 1))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            "--output-format",
            "json",
            str(deploy.COMPOSE),
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    report = json.loads(done.stdout)
    assert report["parse_errors"] == []
    assert {e["filename"] for e in report["errors"]} == {str(broken)}
    assert any("stop_grace_periods" in e["message"] for e in report["errors"])


# --- settings ------------------------------------------------------------------------------


def _named_variables() -> dict[str, set[str]]:
    """Every CLIPFEED_* name in compose and Kubernetes, by where it appears."""
    names: dict[str, set[str]] = {}
    compose = deploy.compose()
    for key, block in compose.items():
        if key.startswith("x-") and isinstance(block, dict):
            names[f"compose {key}"] = set(block)
    for name, service in compose["services"].items():
        names[f"compose {name}"] = set(service.get("environment") or {})
    names["Dockerfile"] = set(deploy.image_env())
    names["ConfigMap"] = set(deploy.of_kind("ConfigMap")["clipfeed-settings"]["data"])
    names["Secret"] = set(deploy.of_kind("Secret")["clipfeed-secrets"]["stringData"])
    for workload, _pod, container in deploy.containers():
        names[workload] = {e["name"] for e in container.get("env", [])}
        names[workload] |= {
            e["valueFrom"]["secretKeyRef"]["key"]
            for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})
        }
    return {where: {n for n in found if n.startswith(deploy.PREFIX)} for where, found in names.items()}


def test_every_clipfeed_variable_is_a_setting() -> None:
    named = _named_variables()
    assert sum(map(len, named.values())) > 40
    unknown = {f"{where}: {n}" for where, found in named.items() for n in found if deploy.setting(n) not in FIELDS}
    assert unknown == set()


def test_the_settings_check_catches_a_renamed_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = dict(FIELDS)
    fields["database_dsn"] = fields.pop("database_url")
    monkeypatch.setattr(sys.modules[__name__], "FIELDS", fields)
    with pytest.raises(AssertionError, match="CLIPFEED_DATABASE_URL"):
        test_every_clipfeed_variable_is_a_setting()


def test_kubernetes_settings_set_what_a_cluster_needs_and_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    env = deploy.kubernetes_env()
    assert {deploy.setting(n) for n in env if n.startswith(deploy.PREFIX)} >= CLUSTER_SETTINGS
    settings = deploy.settings_from(env, monkeypatch)
    assert settings.database_url.startswith("postgresql://")
    assert settings.cache_url.startswith("redis://") and settings.log_url.startswith("nats://")
    assert all(
        settings.resolve(url).startswith("s3://")
        for url in (settings.blob_url, settings.blob_url_warm, settings.blob_url_cold)
    )
    assert settings.worker_roles_in_process(roles()) == []
    assert parse_keys(settings.media_signing_keys)  # the placeholder has the real shape
    assert settings.edges and settings.region in settings.edges
    for workload, _pod, container in deploy.containers():
        if container["args"][0] == "edge":
            secrets = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
            assert {deploy.setting(n) for n in secrets} >= EDGE_SETTINGS, workload
        else:
            sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
            assert sources == {"clipfeed-settings", "clipfeed-secrets"}, workload


def test_compose_services_set_what_a_cluster_needs_and_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, service in deploy.compose_clipfeed_services().items():
        env = deploy.compose_env(service)
        wanted = EDGE_SETTINGS if service["command"][0] == "edge" else CLUSTER_SETTINGS
        assert {deploy.setting(n) for n in env if n.startswith(deploy.PREFIX)} >= wanted, name
        settings = deploy.settings_from(env, monkeypatch)
        assert parse_keys(settings.media_signing_keys), name
        if service["command"][0] != "edge":
            assert settings.worker_roles_in_process(roles()) == [], f"{name} would run workers in process"
            assert settings.edges, name


# --- node IDs ------------------------------------------------------------------------------


def test_compose_gives_every_process_its_own_node_id() -> None:
    ids = {}
    for name, service in deploy.compose_clipfeed_services().items():
        if service["command"][0] in ("edge", "migrate"):
            continue
        assert service["command"] == ["serve", "--processes", "1"] or "--processes" not in service["command"], (
            "one serving process per container: the processes of one container would share its node ID"
        )
        assert "replicas" not in service.get("deploy", {}), f"{name}: replicas would share one node ID"
        ids[name] = int(service["environment"]["CLIPFEED_NODE_ID"])
    assert len(set(ids.values())) == len(ids) and all(0 <= n <= MAX_NODE_ID for n in ids.values()), ids


def test_kubernetes_gives_every_pod_its_own_node_id() -> None:
    """Each row-creating role is a StatefulSet whose pods take their node ID from their ordinal;
    the roles' ordinal ranges, up to their most pods (replicas or HPA maximum), never meet."""
    hpa_max = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
        for h in deploy.of_kind("HorizontalPodAutoscaler").values()
    }
    ranges = []
    for workload, _pod, container in deploy.containers():
        kind, name = workload.split("/")
        if container["args"][0] in ("edge", "migrate"):
            continue
        assert kind == "StatefulSet", f"{workload}: only a StatefulSet numbers its pods"
        node = {e["name"]: e for e in container["env"]}["CLIPFEED_NODE_ID"]
        assert node["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['apps.kubernetes.io/pod-index']"
        spec = deploy.of_kind("StatefulSet")[name]["spec"]
        assert "--processes" not in container["args"] or container["args"][-1] == "1", workload
        most = max(spec["replicas"], hpa_max.get(name, 0))
        ranges.append((spec["ordinals"]["start"], spec["ordinals"]["start"] + most - 1, name))
    ranges.sort()
    assert [name for *_, name in ranges] == ["api", "origin", "media", "stream", "lifecycle", "batch", "federation"]
    for (_, last, name), (start, _, after) in zip(ranges, ranges[1:], strict=False):
        assert last < start, f"{name}'s node IDs run into {after}'s"
    assert ranges[-1][1] <= MAX_NODE_ID


# --- commands, probes, ports ---------------------------------------------------------------


def _all_commands() -> list[tuple[str, list[str]]]:
    found = [(f"compose {n}", s["command"]) for n, s in deploy.compose_clipfeed_services().items()]
    for workload, _pod, container in deploy.containers():
        assert "command" not in container, f"{workload}: keep the image's entrypoint (clipfeed)"
        found.append((workload, container["args"]))
    return found


def test_every_role_command_exists_in_the_cli() -> None:
    seen = set()
    for where, args in _all_commands():
        name, params = deploy.command(args)
        if name == "worker":
            assert params["role"] in roles(), where
            seen.add(f"worker {params['role']}")
        elif name == "serve":
            assert callable(getattr(serving, {"all": "api"}.get(params["role"], params["role"]))), where
            seen.add(f"serve {params['role']}")
        elif name == "edge":
            # The template ships inside the package (package data), so the image needs no copy.
            assert params["template"] is None and TEMPLATE.is_file(), where
            seen.add("edge")
        else:
            seen.add(name)
    assert seen == {"migrate", "serve all", "serve origin", "edge", *(f"worker {r}" for r in roles())}


def test_the_command_check_refuses_an_unknown_option() -> None:
    with pytest.raises(Exception, match="--procs") as refused:
        deploy.command(["serve", "--role", "origin", "--procs", "2"])
    assert "UsageError" in {cls.__name__ for cls in type(refused.value).__mro__}  # click's, as typer ships it


def _serving_containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for workload, pod, container in deploy.containers():
        if container["args"][0] == "serve":
            yield workload, pod, container


def test_kubernetes_probes_ask_the_serving_port_for_readyz_and_healthz(monkeypatch: pytest.MonkeyPatch) -> None:
    port = deploy.settings_from(deploy.kubernetes_env(), monkeypatch).port
    count = 0
    for workload, _pod, container in _serving_containers():
        count += 1
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": port}, workload
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}, workload
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}, workload
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz", workload
    assert count == 2  # api and origin
    services = deploy.of_kind("Service")
    assert services["api"]["spec"]["ports"][0]["targetPort"] == "http"
    edge_args = next(c["args"] for _, _, c in deploy.containers() if c["args"][0] == "edge")
    assert deploy.command(edge_args)[1]["origin"] == f"origin:{services['origin']['spec']['ports'][0]['port']}"


def test_compose_healthchecks_ask_the_serving_port_for_readyz(monkeypatch: pytest.MonkeyPatch) -> None:
    serving = {n: s for n, s in deploy.compose_clipfeed_services().items() if s["command"][0] == "serve"}
    assert set(serving) == {"api", "origin"}
    for name, service in serving.items():
        port = deploy.settings_from(deploy.compose_env(service), monkeypatch).port
        assert f"http://127.0.0.1:{port}/readyz" in " ".join(service["healthcheck"]["test"]), name
        if name == "api":
            assert service["ports"] == [f"{port}:{port}"]


def test_edge_probes_ask_the_edge_health_location() -> None:
    location = re.search(r"location = (/_edge/health) \{", TEMPLATE.read_text())
    assert location
    edge = deploy.compose()["services"]["edge"]
    listen = deploy.command(edge["command"])[1]["listen"].rsplit(":", 1)[1]
    assert f"http://127.0.0.1:{listen}{location.group(1)}" in " ".join(edge["healthcheck"]["test"])
    for workload, _pod, container in deploy.containers():
        if container["args"][0] == "edge":
            port = int(deploy.command(container["args"])[1]["listen"].rsplit(":", 1)[1])
            assert container["ports"] == [{"name": "http", "containerPort": port}], workload
            for probe in ("readinessProbe", "livenessProbe"):
                assert container[probe]["httpGet"] == {"path": location.group(1), "port": "http"}, workload


def test_clipfeed_serve_answers_the_probe_paths(tmp_path: Path) -> None:
    """The API and the origin, on an embedded stack: alive, and ready when their engines answer."""
    settings = Settings(data_dir=tmp_path, inprocess_workers="none", log_json=False)
    for factory in (create_app, create_origin_app):
        with TestClient(factory(settings)) as client:
            assert client.get("/healthz").status_code == 200, factory.__name__
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready", factory.__name__


# --- stopping ------------------------------------------------------------------------------


def test_kubernetes_grace_periods_outlast_the_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = deploy.settings_from(deploy.kubernetes_env(), monkeypatch)
    for workload, pod, container in deploy.containers():
        role = container["args"][0]
        pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        needed = {"serve": settings.drain_grace_s, "worker": settings.worker_stop_grace_s, "edge": EDGE_STOP_S}.get(
            role
        )
        if needed is None:  # migrate: runs to the end
            continue
        assert pod["terminationGracePeriodSeconds"] > pre_stop + needed, workload
        if role == "serve":
            assert pre_stop > 0, f"{workload}: no preStop, new connections are refused before the endpoint goes"


def test_compose_stop_grace_periods_outlast_the_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, service in deploy.compose_clipfeed_services().items():
        role = service["command"][0]
        settings = deploy.settings_from(deploy.compose_env(service), monkeypatch)
        needed = {"serve": settings.drain_grace_s, "worker": settings.worker_stop_grace_s, "edge": EDGE_STOP_S}.get(
            role
        )
        if needed is None:
            assert service["restart"] == "no", f"{name} is a one-shot job"
            continue
        assert deploy.seconds(service["stop_grace_period"]) > needed, name
        assert service["restart"] == "unless-stopped", name


def test_compose_starts_nothing_before_the_migration() -> None:
    for name, service in deploy.compose_clipfeed_services().items():
        if service["command"][0] in ("serve", "worker"):
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name


# --- workload shape ------------------------------------------------------------------------


def test_every_container_has_requests_and_limits() -> None:
    for workload, _pod, container in deploy.containers():
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), f"{workload} {bound}"


def test_autoscalers_and_budgets_point_at_real_workloads() -> None:
    workloads = deploy.workloads()
    hpas = deploy.of_kind("HorizontalPodAutoscaler")
    assert set(hpas) == {"api", "media"}
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert f"{target['kind']}/{target['name']}" in workloads, name
        assert hpa["spec"]["minReplicas"] <= workloads[f"{target['kind']}/{target['name']}"]["spec"]["replicas"]
    pod_labels = [w["spec"]["template"]["metadata"]["labels"] for w in workloads.values()]
    selectors = [
        (f"PodDisruptionBudget/{n}", p["spec"]["selector"]["matchLabels"])
        for n, p in deploy.of_kind("PodDisruptionBudget").items()
    ]
    selectors += [(f"Service/{n}", s["spec"]["selector"]) for n, s in deploy.of_kind("Service").items()]
    for what, selector in selectors:
        assert any(selector.items() <= labels.items() for labels in pod_labels), f"{what} selects no pod"
    assert {n.split("/")[1] for n, _ in selectors if n.startswith("PodDisruptionBudget")} == {
        "api",
        "origin",
        "media",
        "stream",
        "edge",
    }
    assert deploy.of_kind("StatefulSet")["batch"]["spec"]["replicas"] == 1


# --- the image -----------------------------------------------------------------------------


def test_the_image_runs_clipfeed_as_a_user_with_the_locked_dependencies() -> None:
    text = deploy.dockerfile()
    scripts = tomllib.loads((deploy.ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert re.search(r'^ENTRYPOINT \["(\w+)"\]$', text, re.M).group(1) in scripts  # type: ignore[union-attr]
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^RUN pip install .*-c requirements\.lock \.$", text, re.M)
    # The web app is built into the package before the package that goes into the image.
    build, reinstall = text.index("npm run build"), text.index("pip install --no-deps --force-reinstall .")
    assert build < reinstall
    packages = re.search(r"apt-get install -y --no-install-recommends ([^&]+)", text).group(1).split()  # type: ignore[union-attr]
    assert {"ffmpeg", "nginx-light"} <= set(packages)
    exposed = {int(p) for line in re.findall(r"^EXPOSE (.+)$", text, re.M) for p in line.split()}
    serving_port = int(deploy.image_env().get(f"{deploy.PREFIX}PORT", FIELDS["port"].default))
    assert serving_port in exposed and 8080 in exposed


def test_the_files_say_they_are_not_run_here() -> None:
    for path in [deploy.DOCKERFILE, deploy.COMPOSE, *deploy.KUBERNETES.glob("*.yaml")]:
        assert "NOT RUN" in path.read_text()[:1000] or "NOT BUILT" in path.read_text()[:1000], path
