"""Codex CLI (npm @openai/codex, pinned in package-lock.json) creates a file through the gateway's
Responses API (``wire_api = "responses"``, the only one Codex 0.171 speaks), on a model behind
each upstream format.

Codex is configured as a user would: a ``CODEX_HOME`` whose config.toml names a
``[model_providers.gw]`` entry with the gateway's ``/v1`` as ``base_url`` and the key in an
environment variable. What it sends (captured in /tmp/codex-requests.md while building this): one
streamed ``POST /v1/responses`` per model turn, ``store: false``,
``include: ["reasoning.encrypted_content"]``, ``reasoning: {"summary": "auto"}``, a developer
message instead of ``instructions``, and for a model it has no metadata of (every gateway alias
here) the function tools ``exec_command(cmd)``, ``write_stdin``, ... plus a ``namespace`` tool
(``multi_agent_v1``) and a ``web_search`` tool. The scripted agent (tests/clients/agent.py)
answers the prompt with an ``exec_command`` call that writes the file, then "Done: <result>".

For a model it knows, Codex sends its tools in an ``additional_tools`` input item instead, and
the only one that runs commands is a free-form JavaScript ``exec`` tool ("code mode", below).
Compaction (below): local through an ordinary ``/v1/responses`` turn, or remote -- a
``compaction_trigger`` item -- for a provider named "OpenAI"; never ``/responses/compact``.

``--full-auto`` no longer exists in Codex 0.171; ``--dangerously-bypass-approvals-and-sandbox``
runs the tool without approval prompts and without Codex's bubblewrap sandbox, which needs user
namespaces that containers (CI) often lack. The working directory and CODEX_HOME are throw-away
directories.
"""

import json
import os
import subprocess

import pytest

from tests.clients.agent import COMPACTION_PROMPT, HANDOFF, SUMMARY, tool_results
from tests.clients.conftest import (
    CODEX,
    CODEX_KNOWN,
    INSTALL_HINT,
    client_env,
    require_node_packages,
)

PROMPT = "create hello.txt containing hi"
VERSION = "0.171.0"
TIMEOUT = 180


@pytest.fixture(scope="module")
def codex():
    require_node_packages()
    if not os.access(CODEX, os.X_OK):
        pytest.fail(f"{CODEX} is missing or not executable: {INSTALL_HINT}", pytrace=False)
    version = subprocess.run([str(CODEX), "--version"], capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL, env=client_env())
    assert version.returncode == 0 and VERSION in version.stdout, (
        f"`codex --version` failed or is not {VERSION}: {version.stdout}{version.stderr}")
    return str(CODEX)


def codex_home(path, base_url: str, model: str, name: str = "gw", extra: str = ""):
    """A CODEX_HOME whose config.toml sends ``model`` to ``base_url`` with the key of $GW_KEY
    (a provider called ``name``; ``extra``: more top-level settings); no retries (a failure
    shows as it is), no update check, analytics or feedback uploads."""
    path.mkdir()
    (path / "config.toml").write_text(f"""\
model = "{model}"
model_provider = "gw"
check_for_update_on_startup = false
{extra}

[analytics]
enabled = false

[feedback]
enabled = false

[model_providers.gw]
name = "{name}"
base_url = "{base_url}"
env_key = "GW_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
""")
    return path


def run_codex(codex, base_url, key, model, workdir, tmp_path, **config):
    """``codex exec`` of PROMPT in ``workdir`` (made a git repository) on ``model`` at
    ``base_url``; the finished process. ``config``: codex_home's ``name`` and ``extra``."""
    home = codex_home(tmp_path / "codex-home", base_url, model, **config)
    subprocess.run(["git", "init", "-q", str(workdir)], check=True, timeout=30,
                   capture_output=True)
    env = client_env(CODEX_HOME=str(home), HOME=str(tmp_path), GW_KEY=key, NO_COLOR="1",
                     RUST_LOG="error")
    try:
        return subprocess.run(
            [codex, "exec", "--strict-config", "--skip-git-repo-check",
             "--dangerously-bypass-approvals-and-sandbox", "--color", "never", PROMPT],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as expired:
        out, err = (expired.stdout or b"")[-3000:], (expired.stderr or b"")[-3000:]
        pytest.fail(f"codex exec did not finish in {TIMEOUT}s\nstdout:\n{out!r}\n"
                    f"stderr:\n{err!r}")


def check_file_created(proc, workdir, upstream, described="", ran="exited with code 0"):
    """Codex succeeded, hello.txt holds "hi", ``ran`` (when given) is in a tool result the model
    was sent, the model's final answer was printed."""
    assert proc.returncode == 0, (
        f"codex exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
        f"stderr:\n{proc.stderr[-3000:]}\nexchanges:\n{described}")
    created = workdir / "hello.txt"
    assert created.is_file(), (
        f"no hello.txt\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}\n"
        f"{described}")
    assert created.read_text() == "hi"
    # Codex ran the command and sent its output back up; the answer to it came back down.
    if ran:
        results = [text for r in upstream.requests for text in tool_results(r)]
        assert any(ran in text for text in results), results
    assert "Done:" in proc.stdout, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"


def test_codex_against_the_mock_alone(codex, gw, workdir, tmp_path):
    """The control: the same run straight to the mock's Responses API, without the gateway, so
    a failure of the tests below is the gateway's, not the scripted agent's."""
    proc = run_codex(codex, gw.upstream.openai_base_url, "upstream-key", "gpt-test", workdir,
                     tmp_path)
    check_file_created(proc, workdir, gw.upstream)
    assert [r.path for r in gw.upstream.requests] == ["/v1/responses"] * 2
    assert gw.exchanges() == []


def test_codex_creates_a_file(codex, gw, model, workdir, tmp_path):
    proc = run_codex(codex, f"{gw.url}/v1", gw.key, model, workdir, tmp_path)
    described = "\n".join(f"  {e.method} {e.path} -> {e.status}" for e in gw.exchanges())
    check_file_created(proc, workdir, gw.upstream, described)

    # Two model turns (the call, then the final text), each one POST /v1/responses and nothing
    # else (no model list, no remote compaction); nothing refused or failed.
    seen = gw.assert_clean_exchange(inference_requests=2)
    assert [e.path for e in seen] == ["/v1/responses"] * 2, described
    upstream_paths = {r.path for r in gw.upstream.requests}
    assert upstream_paths == {UPSTREAM_PATH[model]}, upstream_paths


UPSTREAM_PATH = {"gpt-test": "/v1/chat/completions", "claude-test": "/v1/messages",
                 "responses-test": "/v1/responses"}


# Models Codex 0.171 knows (its bundled catalog): for them it sends no top-level ``tools`` but an
# ``additional_tools`` input item, and the only tool that runs commands is the free-form
# (``custom``, lark grammar) ``exec`` of the ``functions`` namespace, running JavaScript that calls
# ``tools.exec_command(...)``. A gateway alias named like one gets this shape.
KNOWN = CODEX_KNOWN


def test_codex_code_mode_against_the_mock_alone(codex, gw, workdir, tmp_path):
    proc = run_codex(codex, gw.upstream.openai_base_url, "upstream-key", KNOWN["gpt-test"],
                     workdir, tmp_path)
    check_file_created(proc, workdir, gw.upstream, ran='"exit_code":0')
    first = gw.upstream.requests[0].json
    assert "tools" not in first and first["input"][0]["type"] == "additional_tools", first.keys()
    assert gw.exchanges() == []


def test_codex_code_mode_creates_a_file(codex, gw, model, workdir, tmp_path):
    """The same run on a gateway alias Codex knows, behind each upstream format."""
    proc = run_codex(codex, f"{gw.url}/v1", gw.key, KNOWN[model], workdir, tmp_path)
    described = "\n".join(f"  {e.method} {e.path} -> {e.status}" for e in gw.exchanges())
    check_file_created(proc, workdir, gw.upstream, described, ran='"exit_code":0')
    seen = gw.assert_clean_exchange(inference_requests=2)
    assert [e.path for e in seen] == ["/v1/responses"] * 2, described
    assert {r.path for r in gw.upstream.requests} == {UPSTREAM_PATH[model]}


# Compaction. Codex compacts the context once a turn's token usage passes
# model_auto_compact_token_limit (the mock counts a word a token: Codex's first request is about
# 3000). For a provider it does not take for OpenAI's own (any name but "OpenAI", any host but
# Azure's) it compacts locally: an ordinary POST /v1/responses whose last user message is its
# summarization prompt, the answer's text handed to the next request. For a provider named
# "OpenAI" (its built-in one, e.g. with openai_base_url set to the gateway) it compacts remotely
# ("remote compaction v2"): a POST /v1/responses whose input ends with a compaction_trigger item
# and whose answer must hold exactly one compaction item (no fallback: anything else ends the
# turn with "Error running remote compact task"). Codex 0.171 never calls /responses/compact.
COMPACT_SOON = "model_auto_compact_token_limit = 2000"


def test_codex_compacts_locally_through_responses(codex, gw, model, workdir, tmp_path):
    proc = run_codex(codex, f"{gw.url}/v1", gw.key, model, workdir, tmp_path,
                     extra=COMPACT_SOON)
    described = "\n".join(f"  {e.method} {e.path} -> {e.status}" for e in gw.exchanges())
    # The command's output went up in the compaction request (then replaced by the summary).
    check_file_created(proc, workdir, gw.upstream, described, ran=None)
    assert "context compacted" in proc.stdout + proc.stderr, proc.stderr[-3000:]
    sent = [json.dumps(r.json) for r in gw.upstream.requests]
    assert any("exited with code 0" in text for text in sent), "no tool output sent"
    assert any(COMPACTION_PROMPT in text for text in sent), "no compaction request"
    assert any(HANDOFF in text for text in sent), "the summary was not handed over"
    assert f"Done: {SUMMARY}" in proc.stdout, proc.stdout[-3000:]
    seen = gw.assert_clean_exchange(inference_requests=3)
    assert {e.path for e in seen} == {"/v1/responses"}, described


def test_codex_compacts_remotely_through_responses(codex, gw, model, workdir, tmp_path):
    """A provider named "OpenAI": the compaction_trigger request is served on every route."""
    proc = run_codex(codex, f"{gw.url}/v1", gw.key, model, workdir, tmp_path,
                     name="OpenAI", extra=COMPACT_SOON)
    described = "\n".join(f"  {e.method} {e.path} -> {e.status}" for e in gw.exchanges())
    check_file_created(proc, workdir, gw.upstream, described, ran=None)
    assert "Error running remote compact task" not in proc.stdout + proc.stderr, (
        proc.stderr[-3000:])
    assert "context compacted" in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert f"Done: {SUMMARY}" in proc.stdout, proc.stdout[-3000:]
    # The model's summary went on in the last request: as text on a translated route, in the
    # upstream's own compaction item on the Responses route.
    last = json.dumps(gw.upstream.last().json)
    assert SUMMARY in last or '"type": "compaction"' in last, last[-3000:]
    seen = gw.assert_clean_exchange(inference_requests=3)
    assert {e.path for e in seen} == {"/v1/responses"}, described
