"""docker-compose.yml and the Dockerfile, checked against our CLI and configuration.

No Docker engine runs here, so the files cannot be run in the tests; instead every command a
service runs is parsed by our real click CLI, and its environment by our real configuration code.
"""

from __future__ import annotations

import json
import warnings

import click
import yaml

from indexer.cli import main
from indexer.stores.elasticsearch import ElasticsearchStore

from .conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _parse_cli(args: list[str]) -> tuple[click.Context, click.Context]:
    """Parse args as `imr-search ARGS` would, without running the command."""
    ctx = main.make_context("imr-search", list(args))
    with warnings.catch_warnings():
        # Click 8.2 deprecates protected_args but still keeps the subcommand's name there.
        warnings.simplefilter("ignore", DeprecationWarning)
        remaining = [*ctx.protected_args, *ctx.args]
    name, command, rest = main.resolve_command(ctx, remaining)
    return ctx, command.make_context(name, rest, parent=ctx)


def test_services_and_elasticsearch_node():
    assert set(COMPOSE["services"]) == {"elasticsearch", "loader", "web"}
    es = COMPOSE["services"]["elasticsearch"]
    image, tag = es["image"].rsplit(":", 1)
    assert image == "docker.elastic.co/elasticsearch/elasticsearch" and tag.startswith("9.")
    env = es["environment"]
    assert env["discovery.type"] == "single-node"
    assert env["xpack.security.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"] == "${ELASTIC_PASSWORD:-imr-search-dev}"
    check = " ".join(es["healthcheck"]["test"])
    assert "_cluster/health" in check and "localhost:9200" in check
    assert '-u "elastic:$${ELASTIC_PASSWORD}"' in check  # $$: the container's variable


def test_loader_runs_our_index_command_after_elasticsearch_is_healthy():
    loader = COMPOSE["services"]["loader"]
    assert loader["depends_on"] == {"elasticsearch": {"condition": "service_healthy"}}
    assert loader["build"] == "."
    assert 'ENTRYPOINT ["imr-search"]' in DOCKERFILE
    group_ctx, command_ctx = _parse_cli(loader["command"])
    assert group_ctx.params["backend"] == "elasticsearch"
    assert command_ctx.command.name == "index"
    assert command_ctx.params["paths"] == ("/app/samples/letters",)
    # The path it indexes is what the image copies from the project.
    assert "COPY samples ./samples" in DOCKERFILE and "WORKDIR /app" in DOCKERFILE
    assert (ROOT / "samples" / "letters").is_dir()


def test_loader_environment_is_what_our_configuration_reads():
    loader = COMPOSE["services"]["loader"]
    env = {
        k: v.replace("${ELASTIC_PASSWORD:-imr-search-dev}", "imr-search-dev")
        for k, v in loader["environment"].items()
    }
    assert set(env) == {
        "ELASTICSEARCH_URL",
        "ELASTICSEARCH_USERNAME",
        "ELASTICSEARCH_PASSWORD",
        "IMR_SEARCH_ES_INDEX",
    }
    store = ElasticsearchStore.from_env(environ=env)
    assert store.url == "http://elasticsearch:9200"
    assert store.alias == "imr-chunks"
    assert store._secrets == ["imr-search-dev"]  # the password reached the client's credentials


def test_image_installs_cpu_torch_first_and_works_offline():
    torch = DOCKERFILE.index("torch==2.13.0")
    project = DOCKERFILE.index("pip install --no-cache-dir -e .")
    assert torch < project
    assert "HF_HUB_OFFLINE=1" in DOCKERFILE
    for folder in ("indexer", "webapp", "mappings", "samples"):
        assert f"COPY {folder} ./{folder}" in DOCKERFILE


def test_web_app_serves_from_elasticsearch_once_the_samples_are_loaded():
    web = COMPOSE["services"]["web"]
    assert web["depends_on"] == {
        "elasticsearch": {"condition": "service_healthy"},
        "loader": {"condition": "service_completed_successfully"},
    }
    group_ctx, command_ctx = _parse_cli(web["command"])
    assert group_ctx.params["backend"] == "elasticsearch"
    assert command_ctx.command.name == "serve"
    assert command_ctx.params == {
        "host": "0.0.0.0",
        "port": 8000,
        "production": True,
        "threads": None,  # from IMR_SEARCH_THREADS, set in its environment (the next test)
        "workers": 2,  # Elasticsearch holds the index: a second process costs only the model
        "samples": False,
    }
    assert web["ports"] == ["127.0.0.1:8000:8000"]
    assert web["environment"] == {
        **COMPOSE["services"]["loader"]["environment"],
        "IMR_SEARCH_ES_TIMEOUT": "5",
        "IMR_SEARCH_THREADS": "8",
    }
    assert "COPY webapp ./webapp" in DOCKERFILE


def test_web_threads_come_from_the_environment_it_sets(monkeypatch):
    web = COMPOSE["services"]["web"]
    monkeypatch.setenv("IMR_SEARCH_THREADS", web["environment"]["IMR_SEARCH_THREADS"])
    _, command_ctx = _parse_cli(web["command"])
    assert command_ctx.params["threads"] == 8
    monkeypatch.setenv("IMR_SEARCH_THREADS", "3")
    assert _parse_cli(web["command"])[1].params["threads"] == 3


def test_web_environment_sets_the_elasticsearch_timeout_our_configuration_reads():
    env = {
        k: v.replace("${ELASTIC_PASSWORD:-imr-search-dev}", "imr-search-dev")
        for k, v in COMPOSE["services"]["web"]["environment"].items()
    }
    store = ElasticsearchStore.from_env(environ=env)
    assert store.request_timeout == 5.0
    assert store.client._retry_on_timeout is False  # passed with every request
    store.close()


def test_web_healthcheck_asks_healthz_on_the_served_port():
    web = COMPOSE["services"]["web"]
    check = web["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert check[3] == (
        "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=10)"
    )
    assert web["restart"] == "unless-stopped"


def test_image_runs_the_production_web_server_by_default():
    (cmd,) = [line for line in DOCKERFILE.splitlines() if line.startswith("CMD ")]
    args = json.loads(cmd.removeprefix("CMD "))
    group_ctx, command_ctx = _parse_cli(args)
    assert group_ctx.params["backend"] is None  # ELASTICSEARCH_URL, if set, picks Elasticsearch
    assert command_ctx.command.name == "serve"
    assert command_ctx.params == {
        "host": "0.0.0.0",
        "port": 8000,
        "production": True,
        "threads": None,  # decided by the back end: 2 embedded, 8 Elasticsearch
        "workers": 1,
        "samples": True,
    }
    assert "EXPOSE 8000" in DOCKERFILE and "IMR_SEARCH_DATA_DIR=/data" in DOCKERFILE
