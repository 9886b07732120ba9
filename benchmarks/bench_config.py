"""How long a configuration edit takes to publish on one node and to be applied by another.

Run from the repository root, against an empty PostgreSQL database::

    .venv/bin/ivr bench config [--json] -- --database-url postgresql://... [--edits N]

Two nodes (two ``ConfigEditor`` s with their own copies of ``config/`` and the flow, their own
stores and event buses on the one database, as two application nodes have) start; node 1
then publishes ``--edits`` edits of ``operators.yaml`` (op1002's inquiry level, 4 and 5 in
turn), each waited for until node 2 applies it. Timed: node 1's publication (the whole
configuration and the live flow checked, the version recorded, the file written, the settings
reloaded, the announcement sent), and from the start of the publication until node 2's
settings carry the edit (the bus, node 2's own check, write and reload). The same code the
admin pages run (``ConfigEditor.replace``), on the same machine for both nodes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from ivr import settings
from ivr.configuration.editor import ConfigEditor
from ivr.edges.bus import open_bus
from ivr.edges.storage.store import open_store
from ivr.flows.library import FlowLibrary

REPO = Path(settings.PROJECT_DIR)
LINE = "skills: {inquiry: 5, case_status: 4}"


def copy_project(root: Path) -> None:
    """The node's own config/ and flow (prompts shared read-only)."""
    root.mkdir()
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "dialplans", root / "dialplans")
    (root / "prompts").symlink_to(REPO / "prompts")


async def start_node(stack: AsyncExitStack, database: str, root: Path) -> ConfigEditor:
    await asyncio.to_thread(copy_project, root)
    os.environ["IVR_STATE_DIR"] = str(root / "state")
    cfg = await asyncio.to_thread(settings.load, root / "config", project_dir=root)
    store = open_store(database, root / "state")
    await store.open()
    stack.push_async_callback(store.close)
    flows = FlowLibrary(cfg, store.flow_versions)
    editor = ConfigEditor(cfg, root / "config", flows, store.config_versions,
                          on_reload=[flows.reconfigure])
    bus = open_bus(database)
    editor.share_through(bus)
    await bus.start()
    stack.push_async_callback(bus.close)
    await editor.load()
    await flows.load()
    return editor


async def run(database: str, edits: int) -> dict[str, object]:
    publish, applied = [], []
    with tempfile.TemporaryDirectory(prefix="ivr-bench-config-") as tmp:
        async with AsyncExitStack() as stack:
            one = await start_node(stack, database, Path(tmp) / "n1")
            two = await start_node(stack, database, Path(tmp) / "n2")
            text = await one.read("operators")
            if LINE not in text:
                raise SystemExit(f"operators.yaml no longer has {LINE!r} for op1002")
            for n in range(edits):
                level = 4 if n % 2 == 0 else 5
                edited = text.replace(LINE, f"skills: {{inquiry: {level}, case_status: 4}}")
                started = time.perf_counter()
                await one.replace("operators", edited, "bench", f"level {level}")
                publish.append(time.perf_counter() - started)
                while two.current.operators["op1002"].skills["inquiry"] != level:
                    if time.perf_counter() - started > 30:
                        raise SystemExit("node 2 did not apply an edit within 30 s")
                    await asyncio.sleep(0.005)
                applied.append(time.perf_counter() - started)

    def ms(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"median_ms": round(statistics.median(ordered) * 1000, 1),
                "p90_ms": round(ordered[int(0.9 * (len(ordered) - 1))] * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1)}

    return {"edits": edits, "publish_on_node_1": ms(publish),
            "applied_on_node_2": ms(applied),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {sys.version.split()[0]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.database_url, args.edits))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key in ("publish_on_node_1", "applied_on_node_2"):
        print(f"{key}: {result[key]}")
    print(f"{result['edits']} edits; {result['machine']}")


if __name__ == "__main__":
    main()
