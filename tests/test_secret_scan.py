"""Secret scanning: no tracked file holds a secret that .secrets.baseline does not list (the
baseline's entries are audited false positives: test fixtures, Alembic revision ids), checked
the way the pre-commit hook checks a commit (.pre-commit-config.yaml); and the check can fail:
a fake AWS key and a private key in a scratch repository are reported.

A new finding fails this test. A real secret: remove it (and rotate it). A false positive: mark
the line with `# pragma: allowlist secret`, or refresh and audit the baseline:
    .venv/bin/detect-secrets scan --baseline .secrets.baseline $(git ls-files)
    .venv/bin/detect-secrets audit .secrets.baseline
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from detect_secrets.__version__ import VERSION

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / ".secrets.baseline"
HOOK = Path(sys.executable).parent / "detect-secrets-hook"
# Made at run time, so this file itself holds neither.
FAKE_AWS_KEY = "AKIA" + "J7QX2RZW4PLM9TVB"
FAKE_PRIVATE_KEY = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7vbqajDw4o6gJy8UtmIb\n"


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout


def hook(repo, baseline):
    """The pre-commit hook over every tracked file of repo, against a copy of baseline (the
    hook rewrites its baseline when only line numbers moved); the baseline file itself is not
    scanned (the hook skips the one it is given, which here is the copy)."""
    files = [f for f in git(repo, "ls-files", "-z").split("\0") if f and f != BASELINE.name]
    return subprocess.run([str(HOOK), "--baseline", str(baseline), *files],
                          cwd=repo, capture_output=True, text=True, timeout=600)


def test_no_tracked_file_holds_an_unaudited_secret(tmp_path):
    assert HOOK.exists(), "detect-secrets is not installed (requirements.txt pins it)"
    baseline = tmp_path / "baseline.json"
    shutil.copy(BASELINE, baseline)
    result = hook(ROOT, baseline)
    # 0: nothing new; 3: nothing new, only the line numbers of known entries moved
    assert result.returncode in (0, 3), result.stdout + result.stderr
    assert "Potential Secrets Detected" not in result.stdout


def test_the_baseline_is_audited_and_the_hook_pinned():
    baseline = json.loads(BASELINE.read_text())
    assert baseline["version"] == VERSION
    unaudited = [(path, s["line_number"]) for path, found in baseline["results"].items()
                 for s in found if s.get("is_secret") is not False]
    assert not unaudited, f"baseline entries not audited as false positives: {unaudited}"
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    (repo,) = [r for r in config["repos"] if r["repo"].endswith("/detect-secrets")]
    assert repo["rev"] == f"v{VERSION}"
    assert "detect-secrets==" + VERSION in (ROOT / "requirements.txt").read_text()


def test_the_scan_reports_a_leaked_key(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copy(BASELINE, repo / ".secrets.baseline")
    (repo / "settings.py").write_text(f'AWS_ACCESS_KEY_ID = "{FAKE_AWS_KEY}"\n')
    (repo / "deploy.pem").write_text(FAKE_PRIVATE_KEY)
    (repo / "clean.py").write_text("print('hello')\n")
    git(repo, "add", ".")
    result = hook(repo, repo / ".secrets.baseline")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "AWS Access Key" in result.stdout and "settings.py" in result.stdout
    assert "Private Key" in result.stdout and "deploy.pem" in result.stdout
    assert "clean.py" not in result.stdout
