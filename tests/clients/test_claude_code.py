"""Claude Code (npm @anthropic-ai/claude-code, pinned in package-lock.json) creates a file
through the gateway, offline, on a model name it does not know, whichever the upstream format."""

import os
import subprocess

import pytest

from tests.clients.agent import tool_results
from tests.clients.conftest import CLAUDE, INSTALL_HINT, client_env, require_node_packages

PROMPT = "create hello.txt containing hi"


def claude_env(gw, model, home):
    env = client_env(
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        ANTHROPIC_BASE_URL=gw.url,
        ANTHROPIC_AUTH_TOKEN=gw.key,
        ANTHROPIC_MODEL=model,
        DISABLE_TELEMETRY="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
    )
    if os.geteuid() == 0:
        # --dangerously-skip-permissions refuses root unless told it runs in a sandbox (CI and
        # these machines run as root; the test's HOME and cwd are throw-away directories).
        env["IS_SANDBOX"] = "1"
    return env


@pytest.fixture(scope="module")
def claude():
    require_node_packages()
    if not os.access(CLAUDE, os.X_OK):
        pytest.fail(f"{CLAUDE} is missing or not executable: {INSTALL_HINT}", pytrace=False)
    version = subprocess.run([str(CLAUDE), "--version"], capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    assert version.returncode == 0 and "Claude Code" in version.stdout, (
        f"`claude --version` failed: {version.stdout}{version.stderr}")
    return str(CLAUDE)


def test_claude_code_against_the_mock_alone(claude, gw, workdir, tmp_path):
    """The control: the same run without the gateway, straight to the mock's Anthropic API, so
    a failure of the test below is the gateway's, not the scripted agent's."""
    home = tmp_path / "home"
    home.mkdir()
    env = claude_env(gw, "claude-test", home)
    env["ANTHROPIC_BASE_URL"] = gw.upstream.anthropic_base_url
    proc = subprocess.run(
        [claude, "-p", PROMPT, "--dangerously-skip-permissions"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert (workdir / "hello.txt").read_text().strip() == "hi"
    assert "Done: File created successfully" in proc.stdout
    assert gw.exchanges() == []


def test_claude_code_creates_a_file(claude, gw, model, workdir, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    proc = subprocess.run(
        [claude, "-p", PROMPT, "--dangerously-skip-permissions"],
        cwd=workdir, env=claude_env(gw, model, home), capture_output=True, text=True,
        timeout=180, stdin=subprocess.DEVNULL,
    )
    exchanges = "\n".join(f"  {e.method} {e.path} -> {e.status}" for e in gw.exchanges())
    assert proc.returncode == 0, (
        f"claude exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
        f"stderr:\n{proc.stderr[-3000:]}\nexchanges:\n{exchanges}")

    created = workdir / "hello.txt"
    assert created.is_file(), f"no hello.txt; stdout:\n{proc.stdout[-3000:]}\n{exchanges}"
    assert created.read_text().strip() == "hi"

    # The Write tool's result went back up through the gateway, and its answer came back down.
    results = [text for r in gw.upstream.requests for text in tool_results(r)]
    assert any(str(created) in text for text in results), results
    assert "Done:" in proc.stdout, proc.stdout[-3000:]

    # Only the base URL was called, and nothing was refused or failed.
    seen = gw.assert_clean_exchange(inference_requests=2)
    assert all(e.path in ("/", "/v1/messages?beta=true") for e in seen), exchanges
