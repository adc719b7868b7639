"""`jackstop audit --ide`: IDE extensions and plugins that steal AI keys, found in a fixture home
and in archives given as paths; the benign look-alikes stay clean."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jackstop.audit.classfile import ClassFormatError, read_constant_pool
from jackstop.cli import main
from tests.audit import idefakes


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict]]:
    code = main(["audit", *argv, "--format", "json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)["findings"]


def test_constant_pool_reader_sees_literals_classes_and_method_names() -> None:
    data = idefakes.klass("a/B", strings=("OPENAI_API_KEY", "naïve \U0001F600 nul\x00"),
                          calls=(("java/lang/System", "getenv", "(Ljava/lang/String;)Ljava/lang/String;"),))
    pool = read_constant_pool(data)
    assert pool.strings == ("OPENAI_API_KEY", "naïve \U0001F600 nul\x00")
    assert {"a/B", "java/lang/Object", "java/lang/System"} <= pool.classes
    assert "getenv" in pool.names
    with pytest.raises(ClassFormatError):
        read_constant_pool(b"PK\x03\x04 not a class")
    with pytest.raises(ClassFormatError):
        read_constant_pool(data[:40])


def test_installed_stealers_are_found_and_lookalikes_are_not(capsys: pytest.CaptureFixture[str],
                                                            tmp_path: Path) -> None:
    home = idefakes.build_home(tmp_path / "home")
    code, findings = run(capsys, "--ide", "--ide-root", str(home))
    assert code == 1
    exfil = {f["package"]: f for f in findings if f["rule"] == "ide-key-exfil"}
    assert set(exfil) == {"evil.ai-helper", "snippy.clip-keys", "com.aicoderpro", "dev.gpttools"}
    vs = exfil["evil.ai-helper"]
    assert vs["version"] == "1.2.3" and vs["severity"] == "critical"  # env keys and another tool's config
    assert "telemetry.ai-helper-stats.net" in vs["message"] and "out/extension.js" in vs["message"]
    assert "code --uninstall-extension evil.ai-helper" in vs["fix"] and "OPENAI_API_KEY" in vs["fix"]
    clip = exfil["snippy.clip-keys"]
    assert clip["severity"] == "critical" and "discord.com" in clip["message"] and "clipboard" in clip["message"]
    assert "windsurf --uninstall-extension" in clip["fix"]
    jb = exfil["com.aicoderpro"]
    assert jb["version"] == "2.1.0" and jb["severity"] == "high"
    assert "credential-store" in jb["message"] and "api.aicoderpro-cloud.com" in jb["message"]
    assert "KeyStore.class" in jb["message"] and "Settings > Plugins > AI Coder Pro" in jb["fix"]
    gpt = exfil["dev.gpttools"]
    assert gpt["version"] == "0.9.1" and gpt["severity"] == "critical"  # a raw-IP collector
    assert "185.199.110.153" in gpt["message"] and "okhttp3.OkHttpClient" in gpt["message"]
    flagged = {f["package"] for f in findings if f["severity"] in ("high", "critical")}
    assert not flagged & {"good.openai-chat", "org.goodai", "org.dbtool"}


def test_archives_given_as_paths(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = idefakes.write_vsix(tmp_path / "gem.vsix", "gem", "gemini-boost", "3.0.0", {"main.js": idefakes.VSIX_STEALER})
    good = idefakes.write_vsix(tmp_path / "claude.vsix", "acme", "claude-chat", "1.0.0",
                               {"main.js": idefakes.VSIX_BENIGN})
    jar = tmp_path / "good-ai.jar"
    jar.write_bytes(idefakes.jetbrains_benign())
    code, findings = run(capsys, "--ide", str(bad), str(good), str(jar))
    assert code == 1
    assert {f["package"] for f in findings} == {"gem.gemini-boost"}
    f = next(f for f in findings if f["rule"] == "ide-key-exfil")
    assert f["severity"] == "critical" and "45.9.148.3" in f["message"] and "gem.vsix!extension/main.js" in f["message"]
    code, findings = run(capsys, "--ide", str(good), str(jar))
    assert code == 0 and findings == []


def test_bad_ide_inputs_are_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["audit", "--ide", str(tmp_path / "missing.vsix")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["audit", "--ide", "--ide-root", str(tmp_path / "nohome")]) == 2
    broken = tmp_path / "broken.jar"
    broken.write_bytes(b"not a zip")
    code, findings = run(capsys, "--ide", str(broken))
    assert findings[0]["type"] == "unreadable-input" and code == 0


def test_ide_root_from_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    idefakes.write_vscode_extension(home / ".vscode" / "extensions", "evil", "ai-helper", "1.2.3",
                                    {"out/extension.js": idefakes.VSCODE_STEALER})
    monkeypatch.setenv("JACKSTOP_IDE_ROOT", str(home))
    code, findings = run(capsys, "--ide")
    assert code == 1 and findings[0]["package"] == "evil.ai-helper"
