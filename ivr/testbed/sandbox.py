"""The Asterisk test bed: Asterisk 22, SIPp and espeak-ng in a Debian chroot.

Built once with debootstrap into ``sandbox.cache_dir`` (outside the repository, keyed by the
package list so a change of packages builds a new root) and reused by later runs. ``up``
renders the project's Asterisk configuration into it, starts Asterisk as its own user and
waits until it is fully booted; ``down`` stops it cleanly. Both are idempotent.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from ivr.core.asterisk_render import SECRET_FILES
from ivr.core.settings import Settings
from ivr.edges.files import write_private
from ivr.errors import SandboxError
from ivr.testbed.reference_ivr import with_reference_ivr
from ivr.tools.asterisk_files import asterisk_files

log = structlog.get_logger("ivr.testbed.sandbox")

PACKAGES = ("asterisk", "sip-tester", "espeak-ng", "sox", "procps")
RUN_DIRS = (
    "var/run/asterisk", "var/log/asterisk", "var/spool/asterisk", "var/lib/asterisk",
    "usr/share/asterisk/moh",
)
BOOT_TIMEOUT = 90.0


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    root: Path
    built: bool
    running: bool
    detail: str


APT_SOURCES = Path("/etc/apt")


def host_mirror(apt_dir: Path = APT_SOURCES) -> str:
    """The Debian mirror the host's own apt uses (the first ``deb`` source of the host's
    release), so the test bed builds unchanged behind a local mirror or proxy.

    Reads one-line ``sources.list`` files and deb822 ``*.sources`` files; an empty string
    when none names the host's release.
    """
    codename = _host_codename(apt_dir.parent / "os-release")
    files = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list")),
             *sorted((apt_dir / "sources.list.d").glob("*.sources"))]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for uri, suites in _apt_entries(text, deb822=path.suffix == ".sources"):
            if uri.startswith(("http://", "https://")) and (
                    codename in suites if codename else any("-" not in x for x in suites)):
                return uri.rstrip("/")
    return ""


def _host_codename(os_release: Path) -> str:
    try:
        for line in os_release.read_text(encoding="utf-8").splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _apt_entries(text: str, *, deb822: bool) -> list[tuple[str, list[str]]]:
    """(uri, suites) of each ``deb`` (binary) source in one apt sources file."""
    entries: list[tuple[str, list[str]]] = []
    if not deb822:
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            kind, _, rest = line.partition(" ")
            if kind != "deb":
                continue
            rest = rest.strip()
            if rest.startswith("["):  # [arch=amd64 signed-by=...]
                rest = rest.partition("]")[2]
            words = rest.split()
            if len(words) >= 2:
                entries.append((words[0], [words[1]]))
        return entries
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            entries += [(uri, fields.get("suites", "").split())
                        for uri in fields.get("uris", "").split()]
    return entries


class Sandbox:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        s = settings.sandbox
        self.mirror = s.mirror or host_mirror()
        key = hashlib.sha256(
            f"{s.suite} {self.mirror} {' '.join(PACKAGES)}".encode()).hexdigest()
        self.root = s.cache_dir / f"root-{key[:12]}"

    # -- helpers ------------------------------------------------------------------------

    def _chroot(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["chroot", str(self.root), *args],
                capture_output=True, text=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"{' '.join(args)} did not finish in {timeout:g} s") from exc

    def asterisk_cli(self, command: str, timeout: float = 30.0) -> str:
        """Run one Asterisk CLI command in the sandbox (used by tests and `status`)."""
        done = self._chroot("asterisk", "-rx", command, timeout=timeout)
        if done.returncode != 0:
            raise SandboxError(f"asterisk -rx {command!r}: {done.stderr.strip() or done.stdout}")
        return done.stdout

    @property
    def built(self) -> bool:
        return (self.root / ".ivr-ready").exists()

    def running(self) -> bool:
        if not self.built or not self._proc_mounted():
            return False
        done = self._chroot("asterisk", "-rx", "core show uptime", timeout=10)
        return done.returncode == 0 and "uptime" in done.stdout.lower()

    def _proc_mounted(self) -> bool:
        target = str((self.root / "proc").resolve())
        with open("/proc/mounts", encoding="utf-8") as mounts:
            return any(line.split()[1] == target for line in mounts if len(line.split()) > 1)

    @staticmethod
    def _require_host() -> None:
        if os.geteuid() != 0:
            raise SandboxError("the Asterisk test bed needs root (chroot, mount): run as root")
        for tool in ("debootstrap", "chroot", "mount"):
            if shutil.which(tool) is None:
                raise SandboxError(
                    f"{tool} is not installed: `apt-get install debootstrap` (see README)"
                )

    # -- build --------------------------------------------------------------------------

    def build(self) -> None:
        """Build the chroot once; a no-op when the cached root is ready."""
        self._require_host()
        if self.built:
            return
        s = self.settings.sandbox
        if not self.mirror:
            raise SandboxError(
                "no Debian mirror to build the test bed from: the host's apt sources "
                "(/etc/apt/sources.list, /etc/apt/sources.list.d/) name none for this "
                "release; set [sandbox] mirror in config/ivr.toml"
            )
        s.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.root.with_name(self.root.name + ".building")
        if tmp.exists():
            self._umount(tmp / "proc")
            shutil.rmtree(tmp)
        log.info("sandbox_building", root=str(self.root), suite=s.suite, mirror=self.mirror)
        started = time.monotonic()
        logfile = s.cache_dir / "debootstrap.log"
        with logfile.open("w", encoding="utf-8") as out:
            done = subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                 s.suite, str(tmp), self.mirror],
                stdout=out, stderr=subprocess.STDOUT, check=False, timeout=1800,
            )
        if done.returncode != 0:
            tail = logfile.read_text(encoding="utf-8", errors="replace").splitlines()[-5:]
            hint = ""
            if any("Failed getting release file" in t or "Could not" in t for t in tail):
                hint = f" (no network to the Debian registry {self.mirror}?)"
            raise SandboxError(
                f"debootstrap failed{hint}; see {logfile}:\n" + "\n".join(tail)
            )
        (tmp / ".ivr-ready").write_text(" ".join(PACKAGES) + "\n", encoding="utf-8")
        tmp.rename(self.root)
        log.info("sandbox_built", root=str(self.root), seconds=round(time.monotonic() - started))

    # -- configuration ------------------------------------------------------------------

    def _asterisk_ids(self) -> tuple[int, int]:
        for line in (self.root / "etc/passwd").read_text(encoding="utf-8").splitlines():
            fields = line.split(":")
            if fields[0] == "asterisk":
                return int(fields[2]), int(fields[3])
        raise SandboxError("the sandbox has no asterisk user; delete it and run `up` again")

    def render(self) -> None:
        """Write the project's Asterisk configuration and prompts into the sandbox."""
        uid, gid = self._asterisk_ids()
        etc = self.root / "etc/asterisk"
        files = asterisk_files(self.settings, self.settings.ami.secret)
        files["extensions.conf"] = with_reference_ivr(self.settings, files["extensions.conf"])
        for name, text in files.items():
            # manager.conf (the AMI secret) and extensions.conf (the FastAGI secret) are for
            # Asterisk's eyes only; the rest Asterisk's group may read.
            mode = 0o600 if name in SECRET_FILES else 0o640
            write_private(etc / name, text, mode=mode, owner=(uid, gid))
        for rel in RUN_DIRS:
            d = self.root / rel
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, uid, gid)
        # Recordings: Asterisk's user only (it writes them; root, the test bed's service
        # user, reads them).
        recordings = self.recordings_dir
        recordings.mkdir(parents=True, exist_ok=True)
        os.chown(recordings, uid, gid)
        recordings.chmod(0o700)
        self.install_prompts()

    def install_prompts(self) -> None:
        audio = self.settings.prompts_dir / "audio"
        sounds = self.root / "usr/share/asterisk/sounds"
        if not audio.is_dir():
            return
        for lang_dir in sorted(p for p in audio.iterdir() if p.is_dir()):
            target = self.resolve_inside(sounds / lang_dir.name)
            shutil.copytree(lang_dir, target, dirs_exist_ok=True)

    def sounds_dir(self) -> Path:
        """Asterisk's sounds directory in the test bed (bulletin audio is written there)."""
        return self.resolve_inside(self.root / "usr/share/asterisk/sounds")

    @property
    def queue_log(self) -> Path:
        """app_queue's queue_log in the test bed (logger.conf: ``queue_log = yes``)."""
        return self.root / "var/log/asterisk/queue_log"

    @property
    def recordings_dir(self) -> Path:
        """Where the test bed's Asterisk records calls (``[recordings] asterisk_directory``)."""
        return self.root / self.settings.recordings.asterisk_directory.lstrip("/")

    def resolve_inside(self, path: Path) -> Path:
        """Follow symlinks as the chroot sees them (Debian links sounds/en via alternatives)."""
        for _ in range(16):
            if not path.is_symlink():
                return path
            link = os.readlink(path)
            path = self.root / link.lstrip("/") if link.startswith("/") else path.parent / link
        raise SandboxError(f"too many symlinks at {path}")

    # -- run ----------------------------------------------------------------------------

    def _umount(self, path: Path) -> None:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)

    def up(self) -> None:
        self.build()
        self.render()
        if self.running():
            self.asterisk_cli("core reload")
            self.asterisk_cli("queue reload all")
            log.info("sandbox_reloaded", root=str(self.root))
            return
        if not self._proc_mounted():
            subprocess.run(["mount", "-t", "proc", "proc", str(self.root / "proc")], check=True)
        for stale in ("asterisk.ctl", "asterisk.pid"):
            (self.root / "var/run/asterisk" / stale).unlink(missing_ok=True)
        logfile = self.root / "var/log/asterisk/console.log"
        with logfile.open("ab") as out:
            # setsid -f: Asterisk runs in its own session, detached from this process, which
            # may exit (`ivr sandbox up`) while Asterisk goes on.
            subprocess.run(
                ["setsid", "-f", "chroot", str(self.root), "asterisk", "-U", "asterisk",
                 "-G", "asterisk", "-f"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=True,
                # Every file Asterisk makes (recordings first) is its user's alone: 0600.
                umask=0o077,
            )
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            done = self._chroot("asterisk", "-rx", "core waitfullybooted", timeout=BOOT_TIMEOUT)
            if done.returncode == 0 and "fully booted" in done.stdout.lower():
                log.info("sandbox_up", root=str(self.root))
                return
            time.sleep(0.5)
        raise SandboxError(f"Asterisk did not boot within {BOOT_TIMEOUT:g} s; see {logfile}")

    def down(self) -> None:
        if self.built and self.running():
            self._chroot("asterisk", "-rx", "core stop now", timeout=30)
        pidfile = self.root / "var/run/asterisk/asterisk.pid"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self._asterisk_pid(pidfile):
            time.sleep(0.2)
        pid = self._asterisk_pid(pidfile)
        if pid:
            os.kill(pid, 9)
        if self.built and self._proc_mounted():
            # sipp phones run in the chroot too; they must not outlive the sandbox.
            subprocess.run(["pkill", "-f", f"chroot {self.root} "], check=False)
            self._umount(self.root / "proc")
        log.info("sandbox_down", root=str(self.root))

    @staticmethod
    def _asterisk_pid(pidfile: Path) -> int | None:
        try:
            pid = int(pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def status(self) -> SandboxStatus:
        if not self.built:
            return SandboxStatus(self.root, False, False, "not built: run `ivr sandbox up`")
        if not self.running():
            return SandboxStatus(self.root, True, False, "built, Asterisk stopped")
        return SandboxStatus(self.root, True, True, self.asterisk_cli("core show uptime").strip())
