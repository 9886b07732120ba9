"""Worker threads named for the kernel (``ivr.edges.threads``), and the load benchmark's split
of the application's CPU by those names (``benchmarks/testbed_runs.py``), on this process."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ivr.edges.storage.database import Database, DatabaseUrl
from ivr.edges.threads import STORE, name_this_thread, named_pool

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from testbed_runs import thread_cpu


def comm(tid: int) -> str:
    return Path(f"/proc/self/task/{tid}/comm").read_text().strip()


def burn(seconds: float) -> int:
    """Spend ``seconds`` of this thread's CPU; the thread's native id."""
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass
    return threading.get_native_id()


def test_a_named_pools_threads_carry_the_name_in_proc() -> None:
    """Every thread of the pool shows its name in /proc/<pid>/task/<tid>/comm, where the
    kernel would otherwise show the process's name."""
    pool = named_pool(2, "ivr-test")
    try:
        tids = {pool.submit(burn, 0.01).result() for _ in range(4)}
        names = {comm(t) for t in tids}
    finally:
        pool.shutdown()
    assert names == {"ivr-test"}
    assert comm(threading.get_native_id()) != "ivr-test"


def test_a_long_name_is_cut_to_the_kernels_15_bytes() -> None:
    """Names longer than the kernel keeps are cut, not refused."""
    got: dict[str, Any] = {}

    def run() -> None:
        got["took"] = name_this_thread("ivr-a-very-long-thread-name")
        got["tid"] = threading.get_native_id()
        got["comm"] = comm(got["tid"])

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert got["took"] is True
    assert got["comm"] == "ivr-a-very-long"


async def test_the_stores_work_runs_and_is_counted_on_the_store_thread(tmp_path: Path) -> None:
    """A query's CPU lands on the ``ivr-store`` thread, and the benchmark's split counts it
    there, not on the event loop's thread."""
    db = Database(DatabaseUrl.parse(f"sqlite:///{tmp_path / 'calls.sqlite3'}"))
    await db.open()
    try:
        pid = os.getpid()
        before = thread_cpu(pid)
        tid = await db.read(lambda _conn: burn(0.3))
        after = thread_cpu(pid)
        name = comm(tid)
    finally:
        await db.close()
    assert name == STORE
    grew = {kind: after.get(kind, 0.0) - before.get(kind, 0.0) for kind in after}
    assert grew[STORE] >= 0.2
    assert grew["loop"] < 0.15  # the loop only awaited
