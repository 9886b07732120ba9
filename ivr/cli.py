"""The ``ivr`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ivr import logs, settings
from ivr.errors import ConfigError, IvrError


def _sandbox(args: argparse.Namespace, cfg: settings.Settings) -> int:
    from ivr.sandbox import Sandbox

    box = Sandbox(cfg)
    if args.action == "up":
        box.up()
        print(f"sandbox up: Asterisk running in {box.root}")
    elif args.action == "down":
        box.down()
        print("sandbox down")
    else:
        st = box.status()
        print(f"root: {st.root}\nbuilt: {st.built}\nrunning: {st.running}\n{st.detail}")
        return 0 if st.running else 3
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="12345 citizen hotline")
    parser.add_argument("--config", help="config directory (default: config/ or $IVR_CONFIG_DIR)")
    parser.add_argument("--log-level", default="INFO")
    sub = parser.add_subparsers(dest="command", required=True)

    box = sub.add_parser("sandbox", help="the Asterisk test bed")
    box.add_argument("action", choices=["up", "down", "status"])
    box.set_defaults(run=_sandbox)

    chk = sub.add_parser("config", help="check the configuration")
    chk.add_argument("action", choices=["check"])
    chk.set_defaults(run=lambda _a, cfg: print(
        f"config ok: {len(cfg.skills)} skills, {len(cfg.operators)} operators") or 0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_level)
    from pathlib import Path

    try:
        cfg = settings.load(Path(args.config) if args.config else None)
    except ConfigError as exc:
        print(f"invalid configuration ({len(exc.problems)} problems):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    try:
        code: int = args.run(args, cfg)
    except IvrError as exc:
        print(f"ivr {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
