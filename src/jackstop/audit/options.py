"""Command-line arguments -> AuditOptions, every bad input turned into a one-line UsageError."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from jackstop.audit import pyenv
from jackstop.audit.iocs import IocError
from jackstop.audit.lockfiles import detect
from jackstop.audit.osv import FeedError
from jackstop.audit.pyenv import EnvironmentError_, site_packages_of
from jackstop.audit.runner import AuditOptions, Auditor, stderr_progress
from jackstop.errors import UsageError


def build_options(args: argparse.Namespace) -> AuditOptions:
    o = AuditOptions(feeds=list(args.feed), iocs=list(args.iocs))
    ide_paths = getattr(args, "ide", None)
    explicit = bool(args.env or args.lockfile or args.node_modules or args.code or ide_paths is not None)
    try:
        for env in args.env:
            o.site_dirs += site_packages_of(env)
    except EnvironmentError_ as exc:
        raise UsageError(str(exc)) from None
    for lf in args.lockfile:
        if not lf.is_file():
            raise UsageError(f"--lockfile {lf}: no such file")
        if detect.reader_for(lf) is None:
            raise UsageError(f"--lockfile {lf}: unrecognised file name; supported: {detect.SUPPORTED}")
    o.lockfiles = list(args.lockfile)
    for flag, dirs in (("--node-modules", args.node_modules), ("--code", args.code)):
        for d in dirs:
            if not d.is_dir():
                raise UsageError(f"{flag} {d}: no such directory")
    o.node_modules = list(args.node_modules)
    o.code = list(args.code)
    if not explicit:
        o.site_dirs = pyenv.running_site_packages()
        o.discovered_lockfiles = detect.discover(Path.cwd())
    if args.host is not None:
        home = args.host.expanduser()
        if not home.is_dir():
            raise UsageError(f"--host {args.host}: no such directory; pass a home directory")
        o.host = home
    if ide_paths is not None:
        for pth in ide_paths:
            if not pth.exists():
                raise UsageError(f"--ide {pth}: no such file or folder; pass a .vsix, .jar, .zip or plugin folder")
        o.ide_paths = list(ide_paths)
        if not ide_paths:
            root = args.ide_root or (Path(os.environ["JACKSTOP_IDE_ROOT"]) if os.environ.get("JACKSTOP_IDE_ROOT")
                                     else Path.home())
            root = root.expanduser()
            if not root.is_dir():
                raise UsageError(f"--ide-root {root}: no such directory; pass a home folder")
            o.ide_home = root
    elif args.ide_root is not None:
        raise UsageError("--ide-root needs --ide")
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    o.progress = stderr_progress() if show else None
    for f in o.feeds:
        if not f.exists():
            raise UsageError(f"--feed {f}: no such file or directory; pass a folder or zip of OSV JSON files")
    for f in o.iocs:
        if not f.is_file():
            raise UsageError(f"--iocs {f}: no such file; pass an IOC JSON file")
    # Validate feeds and IOC files now, so a bad one is an error, not a traceback mid-audit.
    try:
        Auditor(AuditOptions(feeds=o.feeds, iocs=o.iocs, builtin_feed=False, local_feed=False))
    except (FeedError, IocError) as exc:
        raise UsageError(str(exc)) from None
    return o
