"""IDE extensions and plugins on this machine (or under a fixture home): VS Code, Cursor and
Windsurf extensions (folders and .vsix files), JetBrains plugins (folders, .jar and .zip).
Each plugin is read as its units of code, and graded by `heuristics.ide`. Nothing is run."""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from jackstop.audit import findings as F
from jackstop.audit.classfile import ClassFormatError, read_constant_pool
from jackstop.audit.findings import Finding, Severity
from jackstop.audit.heuristics import ide as H
from jackstop.audit.heuristics.javascript import analyze_js

MAX_FILE = 16 << 20
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts")
RESOURCE_SUFFIXES = (".properties", ".json", ".xml", ".txt", ".yaml", ".yml", ".conf", ".js")
VSCODE_FAMILY = {".vscode": "VS Code", ".vscode-server": "VS Code (remote)", ".cursor": "Cursor",
                 ".windsurf": "Windsurf", ".vscode-oss": "VSCodium"}


@dataclass
class Plugin:
    ide: str
    id: str
    version: str
    location: Path
    uninstall: str


@dataclass
class Unit:
    """One unit of code: a JavaScript file, or one jar of a plugin (its classes and resources)."""

    label: str
    facts: H.UnitFacts
    js_hits: list[tuple[str, object]]  # (file, Hit) from the general JavaScript heuristics


# -- discovery -------------------------------------------------------------------------------


def default_roots(home: Path) -> list[Path]:
    """Where IDEs keep extensions and plugins under a home directory."""
    roots = [home / name / "extensions" for name in VSCODE_FAMILY]
    for base in (home / ".local" / "share" / "JetBrains", home / ".config" / "JetBrains",
                 home / "Library" / "Application Support" / "JetBrains", home / "AppData" / "Roaming" / "JetBrains"):
        if base.is_dir():
            for product in sorted(base.iterdir()):
                if product.is_dir():
                    roots.append(product)
                    roots.append(product / "plugins")
    return [r for r in roots if r.is_dir()]


def discover(home: Path) -> list[Path]:
    """Plugin locations: extension folders, JetBrains plugin folders and archives."""
    out: list[Path] = []
    for root in default_roots(home):
        for entry in sorted(root.iterdir()):
            if entry.is_dir() and ((entry / "package.json").is_file() or (entry / "lib").is_dir()):
                out.append(entry)
            elif entry.is_file() and entry.suffix in (".vsix", ".jar", ".zip"):
                out.append(entry)
    return out


# -- reading one plugin ------------------------------------------------------------------------


def _vscode_identity(manifest: bytes, ide: str, location: Path) -> Plugin:
    try:
        data = orjson.loads(manifest)
    except orjson.JSONDecodeError:
        data = {}
    data = data if isinstance(data, dict) else {}
    pid = f"{data.get('publisher', '?')}.{data.get('name', location.name)}"
    cli = {"Cursor": "cursor", "Windsurf": "windsurf"}.get(ide, "code")
    return Plugin(ide, pid, str(data.get("version", "?")), location,
                  f"{cli} --uninstall-extension {pid}")


_XML_TAG = {t: re.compile(rf"<{t}>\s*([^<]+?)\s*</{t}>") for t in ("id", "name", "version")}


def _jetbrains_identity(plugin_xml: bytes, location: Path) -> Plugin:
    text = plugin_xml.decode("utf-8", "replace")
    vals = {t: (m.group(1) if (m := rx.search(text)) else None) for t, rx in _XML_TAG.items()}
    pid = vals["id"] or vals["name"] or location.stem
    return Plugin("JetBrains", pid, vals["version"] or "?", location,
                  f"Settings > Plugins > {vals['name'] or pid} > Uninstall (or delete {location})")


def _jar_unit(label: str, jar: zipfile.ZipFile) -> tuple[Unit, bytes | None]:
    facts = H.UnitFacts()
    hits: list[tuple[str, object]] = []
    plugin_xml = None
    for info in jar.infolist():
        name = info.filename
        if info.is_dir() or info.file_size > MAX_FILE:
            continue
        where = f"{label}!{name}"
        if name == "META-INF/plugin.xml":
            plugin_xml = jar.read(info)
            continue
        if name.startswith("META-INF/"):
            continue
        if name.endswith(".class"):
            try:
                pool = read_constant_pool(jar.read(info))
            except ClassFormatError:
                continue
            H.class_facts(pool.names, pool.strings, pool.classes, where, facts)
        elif name.endswith(RESOURCE_SUFFIXES):
            text = jar.read(info).decode("utf-8", "replace")
            H.js_facts(text, where, facts)
            if name.endswith(".js"):
                hits += [(where, h) for h in analyze_js(text)]
    return Unit(label, facts, hits), plugin_xml


def _js_unit(label: str, text: str) -> Unit:
    return Unit(label, H.js_facts(text, label), [(label, h) for h in analyze_js(text)])


def _read_jetbrains_zip(z: zipfile.ZipFile, location: Path) -> tuple[Plugin | None, list[Unit]]:
    plugin, units = None, []
    for info in z.infolist():
        if info.filename.endswith(".jar") and info.file_size <= 4 * MAX_FILE:
            with zipfile.ZipFile(io.BytesIO(z.read(info))) as jar:
                unit, xml = _jar_unit(f"{location.name}!{info.filename}", jar)
            units.append(unit)
            if xml and plugin is None:
                plugin = _jetbrains_identity(xml, location)
    return plugin, units


def read_plugin(location: Path) -> tuple[Plugin, list[Unit]] | None:
    """One plugin: its identity and units of code. None when the location is not a plugin."""
    ide = next((v for k, v in VSCODE_FAMILY.items() if k in location.parts), "VS Code")
    if location.is_file() and location.suffix == ".vsix":
        with zipfile.ZipFile(location) as z:
            names = set(z.namelist())
            if "extension/package.json" not in names:
                return None
            plugin = _vscode_identity(z.read("extension/package.json"), ide, location)
            units = [_js_unit(f"{location.name}!{n}", z.read(n).decode("utf-8", "replace"))
                     for n in sorted(names) if n.startswith("extension/") and n.endswith(JS_SUFFIXES)
                     and z.getinfo(n).file_size <= MAX_FILE]
        return plugin, units
    if location.is_file() and location.suffix == ".jar":
        with zipfile.ZipFile(location) as z:
            unit, xml = _jar_unit(location.name, z)
        return (_jetbrains_identity(xml, location) if xml else Plugin("JetBrains", location.stem, "?", location,
                                                                      f"delete {location}")), [unit]
    if location.is_file() and location.suffix == ".zip":
        with zipfile.ZipFile(location) as z:
            plugin, units = _read_jetbrains_zip(z, location)
        return (plugin or Plugin("JetBrains", location.stem, "?", location, f"delete {location}")), units
    if location.is_dir() and (location / "package.json").is_file():
        plugin = _vscode_identity((location / "package.json").read_bytes(), ide, location)
        units = []
        for dirpath, dirnames, filenames in os.walk(location):
            dirnames[:] = sorted(d for d in dirnames if d not in (".git", "test", "tests"))
            for fn in sorted(filenames):
                p = Path(dirpath, fn)
                if fn.endswith(JS_SUFFIXES) and not fn.endswith(".d.ts") and p.stat().st_size <= MAX_FILE:
                    units.append(_js_unit(str(p.relative_to(location)), p.read_text("utf-8", "replace")))
        return plugin, units
    if location.is_dir() and (location / "lib").is_dir():
        plugin, units = None, []
        for jar_path in sorted((location / "lib").rglob("*.jar")):
            try:
                with zipfile.ZipFile(jar_path) as z:
                    unit, xml = _jar_unit(str(jar_path.relative_to(location)), z)
            except (zipfile.BadZipFile, OSError):
                continue
            units.append(unit)
            if xml and plugin is None:
                plugin = _jetbrains_identity(xml, location)
        return (plugin or Plugin("JetBrains", location.name, "?", location, f"delete {location}")), units
    return None


# -- grading -----------------------------------------------------------------------------------


def grade(plugin: Plugin, units: list[Unit]) -> list[Finding]:
    """A key read and a non-provider host in the same unit, and the network anywhere in the plugin
    (a jar's HTTP client is often a bundled library)."""
    out: list[Finding] = []
    network = next((e for u in units for e in u.facts.network), None)
    own = plugin.id.lower()
    for u in units:
        reads = [e for e in u.facts.key_reads if not _own_config(e, own)]
        if not reads or not u.facts.hosts or network is None:
            continue
        kinds = sorted({e.kind for e in reads})
        exfil = [h for h in u.facts.hosts if H.S.EXFIL_HOSTS.search(h.what.lower() + "/")
                 or H.S.EXFIL_HOSTS.search(f"https://{h.host}/")]
        sev = Severity.CRITICAL if exfil or len(kinds) >= 2 else Severity.HIGH
        host = (exfil or u.facts.hosts)[0]
        shown = dict.fromkeys(f"{e.where}: {e.what}" for e in [*reads[:3], host, network])
        evidence = "; ".join(shown)
        keys = ", ".join(sorted(u.facts.env_names)) or "the AI-provider keys it could read"
        out.append(Finding(
            F.IDE_PLUGIN, sev,
            f"{plugin.ide} plugin {plugin.id} {plugin.version} reads AI-provider keys ({', '.join(kinds)}) and "
            f"holds a host that is no AI provider's ({host.host}). Evidence: {evidence}",
            path=str(plugin.location), package=plugin.id, version=plugin.version, rule="ide-key-exfil",
            fix=f"uninstall it ({plugin.uninstall}), rotate {keys} and any key kept in the IDE or AI tools' "
                f"config, and report the plugin to its marketplace",
        ))
    for u in units:
        for where, hit in u.js_hits:
            out.append(Finding(
                F.IDE_PLUGIN, hit.severity, f"{plugin.ide} plugin {plugin.id} {plugin.version}: {where}: "  # type: ignore[attr-defined]
                f"{hit.rule}: {hit.message}", path=str(plugin.location), line=hit.line,  # type: ignore[attr-defined]
                package=plugin.id, version=plugin.version, rule=hit.rule,  # type: ignore[attr-defined]
                fix=f"uninstall it ({plugin.uninstall}) and rotate the credentials it could reach",
            ))
    return out


def _own_config(e: H.Evidence, own: str) -> bool:
    """An AI tool's extension reading its own config is its job (Continue reads ~/.continue)."""
    if e.kind != "ai-config":
        return False
    tool = re.search(r"continue|codeium|copilot|cursor|windsurf|aider|claude|codex|gemini|tabnine", e.what, re.I)
    return bool(tool and tool.group(0).lower() in own)


def audit_plugins(locations: list[Path]) -> tuple[list[Finding], int]:
    findings: list[Finding] = []
    count = 0
    for loc in locations:
        try:
            read = read_plugin(loc)
        except (zipfile.BadZipFile, OSError) as exc:
            findings.append(Finding(F.UNREADABLE, Severity.MEDIUM, f"{loc}: unreadable plugin ({exc})",
                                    path=str(loc), fix="check the file; reinstall the plugin from its marketplace"))
            continue
        if read is None:
            continue
        count += 1
        findings += grade(*read)
    return findings, count


def iter_locations(paths: list[Path], home: Path | None) -> Iterator[Path]:
    if home is not None:
        yield from discover(home)
    yield from paths
