"""Fixtures of the deployment tests: one compose stack per module, always torn down.

The ``deploy`` marker keeps them out of ``make test`` (they need a Docker engine and build
the image); ``make test-deploy`` and ``.ci/run`` run them. Figures (time to healthy, faults,
peak memory) are printed at the end of the session, section "deployment".
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.stack import MemorySampler, Stack, build_image, random_env
from tests.deploy.report import SUMMARY, report


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deploy: docker-compose.yml on a real Docker engine (make test-deploy)"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.section("deployment")
        for line in SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def image_tag() -> Iterator[str]:
    """The project's image, built from the repository's own Dockerfile for this session.

    ``NEWSWIRE_DEPLOY_IMAGE`` names an image already built from this tree (skips the build).
    """
    given = os.environ.get("NEWSWIRE_DEPLOY_IMAGE")
    if given:
        yield given.split(":", 1)[1]
        return
    tag = f"deploy-{secrets.token_hex(4)}"
    seconds = build_image(f"newswire:{tag}")
    report(f"DEPLOY image newswire:{tag} built in {seconds:.0f}s (docker build, repository root)")
    yield tag
    # Keep the layers as a build cache for the next run, drop this session's name.
    subprocess.run(["docker", "tag", f"newswire:{tag}", "newswire:deploy-cache"], check=False)
    subprocess.run(["docker", "rmi", f"newswire:{tag}"], capture_output=True, check=False)


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, image_tag: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """docker-compose.yml up with a fresh .env of random secrets, every service healthy.

    At the end: peak memory per service printed, the logs' tail on failure, and always
    ``down -v`` (containers, network and volumes of this project only).
    """
    workdir: Path = tmp_path_factory.mktemp("deploy")
    project = f"nwdeploy{secrets.token_hex(4)}"
    stack = Stack(workdir, project, random_env(image_tag))
    failed_before = request.session.testsfailed
    sampler = MemorySampler(stack)
    setup_ok = False
    try:
        t0 = time.monotonic()
        stack.compose("up", "-d", "--no-build", timeout=600)
        sampler.start()
        healthy = stack.wait_healthy(timeout=600)
        report(
            f"DEPLOY up -> all healthy: {time.monotonic() - t0:.1f}s "
            f"(of which waiting for health {healthy:.1f}s; project {project})"
        )
        stack.sampler = sampler
        setup_ok = True
        yield stack
    finally:
        sampler.halt()
        if sampler.peak:
            limits = {}
            with contextlib.suppress(Exception):
                limits = stack.mem_limits()
            report(
                f"DEPLOY peak memory / mem_limit (docker stats, {sampler.samples} samples): "
                + " ".join(
                    f"{k}={v:.0f}/{limits.get(k, 0):.0f}MiB"
                    for k, v in sorted(sampler.peak.items())
                )
            )
        if not setup_ok or request.session.testsfailed > failed_before:
            print(f"\n---- docker compose logs (tail) of {project} ----")
            print(stack.logs_tail(lines=80))
        stack.down(volumes=True)
        for img in stack.extra_images:
            subprocess.run(["docker", "rmi", img], capture_output=True, check=False)
