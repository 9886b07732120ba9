"""Fixtures for the web tests: a real app (``build_app``) over a real store, API sessions per
role, and a real headless Chromium driven by Playwright.

What is real: settings (``ivr.settings.load`` on a temporary copy of the repository's
``config/`` and flow), the store (SQLite file, and PostgreSQL through ``tests.pgtools``), the
``FlowLibrary``, ``ConfigEditor``, ``LiveFigures``, ``ScreenPopHub``, passwords, sessions and
CSRF. What is a double (there is no Asterisk here): the operator desk (``DeskDouble``, same
methods as ``ivr.operators.desk.OperatorDesk``) and the transfers. Bulletins use the real
``BulletinDesk``, its audio written under the test's ``sounds/`` directory.

Typical use::

    async def test_x(api_as):
        admin = await api_as("admin")
        resp = await admin.post("/api/flows/validate", json={"text": "..."})

    async def test_y(page, live_url, web_user):
        username, password = await web_user("admin")
        await browser_login(page, live_url, username, password)
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import BrowserContext, Page, async_playwright

from ivr import settings as settings_module
from ivr.accounts.service import create_account
from ivr.bulletins.desk import BulletinDesk
from ivr.calls.recordings import CallRecordings
from ivr.casework.deadlines import DeadlineWatch
from ivr.casework.surges import SurgeWatch
from ivr.configuration.editor import ConfigEditor
from ivr.core.asterisk_render import WRAP_UP_SECONDS
from ivr.core.figures import LiveFigures
from ivr.core.operators import Presence
from ivr.core.records import AuditEntry
from ivr.core.settings import RecordingSettings, Settings
from ivr.core.supervision import SpyMode
from ivr.edges.clock import SystemClock
from ivr.edges.storage.store import Store, open_store
from ivr.errors import IvrError, SupervisionFailed, TransferFailed
from ivr.flows.library import FlowLibrary
from ivr.operators.queue_events import OperatorCall
from ivr.operators.screen_pops import ScreenPopHub
from ivr.web import build_app
from ivr.web.services import WebServices
from tests.pgtools import pg_database

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


# -- a project of our own: config/ and the flow are edited by the tests ------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the repository's config/ and dialplans/ (prompts shared read-only)."""
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "dialplans", root / "dialplans")
    (root / "prompts").symlink_to(REPO / "prompts")
    return root


@pytest.fixture
def settings(project: Path, tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    monkeypatch.setenv("IVR_CONFIG_DIR", str(project / "config"))
    loaded = settings_module.load(project / "config", project_dir=project)
    # Bulletin audio goes here instead of the test bed's Asterisk.
    return dataclasses.replace(loaded, asterisk_sounds=tmp_path / "sounds")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using the store runs on an SQLite file and on a fresh PostgreSQL database.
    A module that needs only one backend overrides this fixture."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'web.sqlite3'}"
    else:
        with pg_database("ivr_web") as url:
            yield url


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(database_url, tmp_path / "state")
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


# -- the hotline the web talks to ------------------------------------------------------------


class DeskDouble:
    """``OperatorDesk``'s methods over in-memory presence (no Asterisk in these tests)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.state = {op_id: Presence(op) for op_id, op in settings.operators.items()}
        self.actions: list[tuple[str, str]] = []

    def _get(self, operator_id: str) -> Presence:
        if operator_id not in self.state:
            raise IvrError(f"unknown operator {operator_id!r}")
        return self.state[operator_id]

    async def presence(self) -> dict[str, Presence]:
        return dict(self.state)

    async def login(self, operator_id: str,
                    skills: Sequence[str] | None = None) -> tuple[str, ...]:
        op = self._get(operator_id).operator
        chosen = tuple(s for s in op.skills if skills is None or s in skills)
        self.state[operator_id] = Presence(op, chosen)
        self.actions.append(("login", operator_id))
        return chosen

    async def logout(self, operator_id: str) -> None:
        self.state[operator_id] = Presence(self._get(operator_id).operator)
        self.actions.append(("logout", operator_id))

    async def pause(self, operator_id: str, reason: str) -> None:
        self.state[operator_id] = dataclasses.replace(self._get(operator_id), paused=True,
                                                      reason=reason)
        self.actions.append(("pause", operator_id))

    async def unpause(self, operator_id: str) -> None:
        self.state[operator_id] = dataclasses.replace(self._get(operator_id), paused=False,
                                                      reason="")
        self.actions.append(("unpause", operator_id))


class HealthDouble:
    """``/healthz`` and ``/metrics`` are the application's (tested end to end)."""

    ok = True

    def status(self) -> dict[str, Any]:
        return {"status": "ok"}

    def metrics(self) -> bytes:
        return b""


class WebHotline:
    """The services ``build_app`` is given (``ivr.web.services.WebServices``), with real parts
    where they exist; transfers are recorded in ``transfers``, reloads counted in ``reloads``."""

    def __init__(self, settings: Settings, store: Store, config_dir: Path) -> None:
        self.store = store
        self.config_dir = config_dir
        self.flows = FlowLibrary(settings, store.flow_versions)
        self.operators = DeskDouble(settings)
        self.figures = LiveFigures(
            {s.id: s.service_level for s in settings.skills.values()},
            tz=ZoneInfo(settings.timezone), wrap_up_seconds=WRAP_UP_SECONDS,
        )
        self.bulletins = BulletinDesk(settings, store.bulletins, store.audit,
                                      settings.asterisk_sounds)
        self.screen_pops = ScreenPopHub()
        self.transfers: list[tuple[str, str]] = []
        self.consults: dict[str, str] = {}  # operator -> department number consulted
        self.spies: list[tuple[str, str, str]] = []  # (operator, mode, supervisor's phone)
        self.calls: dict[str, OperatorCall] = {}  # operator -> the call they are on
        self.clock = SystemClock()
        self.reloads = 0
        self.config = ConfigEditor(settings, config_dir, self.flows, store.config_versions,
                                   on_reload=[
            self.flows.reconfigure, self.bulletins.reconfigure, self._reloaded,
        ])
        # The real watch; tests call ``deadlines.check()`` instead of waiting for its loop.
        self.deadlines = DeadlineWatch(store.cases, self.config, self.clock)
        self.surges = SurgeWatch(store.cases, self.config, self.clock)
        # Recordings in a directory of the test's own (tests write the files Asterisk would).
        self.recordings_dir = config_dir.parent / "recordings"
        self.recordings_dir.mkdir(mode=0o700, exist_ok=True)
        recording_settings = RecordingSettings(directory=self.recordings_dir)
        self.recordings = CallRecordings(lambda: recording_settings, store.calls, store.audit,
                                         leads=lambda: True, clock=self.clock)

    @property
    def settings(self) -> Settings:
        return self.config.current

    def _reloaded(self, _settings: Settings) -> None:
        self.reloads += 1

    async def transfer(self, operator_id: str, target_number: str) -> None:
        if not self.operators.state[operator_id].in_call:
            raise TransferFailed(f"operator {operator_id} has no call to transfer")
        self.transfers.append((operator_id, target_number))

    def consulting(self, operator_id: str) -> str | None:
        return self.consults.get(operator_id)

    async def consult(self, operator_id: str, target: str) -> None:
        if not self.operators.state[operator_id].in_call:
            raise TransferFailed(f"operator {operator_id} has no call to transfer")
        self.consults[operator_id] = target

    async def complete(self, operator_id: str) -> str:
        if operator_id not in self.consults:
            raise TransferFailed(f"{operator_id} is not consulting a department")
        target = self.consults.pop(operator_id)
        self.transfers.append((operator_id, target))
        return target

    async def return_to_caller(self, operator_id: str) -> str:
        if operator_id not in self.consults:
            raise TransferFailed(f"{operator_id} is not consulting a department")
        return self.consults.pop(operator_id)

    async def spy(self, operator_id: str, mode: SpyMode, phone: str) -> str:
        if operator_id not in self.calls:
            raise SupervisionFailed(f"{operator_id} is not on a call")
        self.spies.append((operator_id, mode.value, phone))
        return f"PJSIP/{operator_id}-"

    def live_call(self, operator_id: str) -> OperatorCall | None:
        return self.calls.get(operator_id)

    def since(self, operator_id: str) -> float | None:
        call = self.calls.get(operator_id)
        return call.since if call else None

    def services(self) -> WebServices:
        return WebServices(
            config=self.config, store=self.store, flows=self.flows, bulletins=self.bulletins,
            operators=self.operators, figures=self.figures, screen_pops=self.screen_pops,
            transfers=self, supervision=self, live=self, health=HealthDouble(),
            clock=self.clock,
            case_alerts=self.deadlines, surges=self.surges, recordings=self.recordings,
        )


@pytest.fixture
async def hotline(settings: Settings, store: Store,
                  project: Path) -> WebHotline:
    built = WebHotline(settings, store, project / "config")
    await built.config.load()
    await built.flows.load()
    return built


@pytest.fixture
def app(hotline: WebHotline) -> web.Application:
    return build_app(hotline.services())


# -- users and API sessions ------------------------------------------------------------------

WebUser = Callable[..., Awaitable[tuple[str, str]]]


@pytest.fixture
def web_user(store: Store) -> WebUser:
    """``await web_user("admin", operator_id=None, username=None, department=None)`` ->
    (username, password)."""
    counter = iter(range(1, 1000))

    async def make(role: str, operator_id: str | None = None,
                   username: str | None = None, department: str | None = None,
                   ) -> tuple[str, str]:
        name = username or f"{role}{next(counter)}"
        _, password = await create_account(store.users, name, role, operator_id=operator_id,
                                           department=department)
        return name, password

    return make


@dataclasses.dataclass
class ApiSession:
    """One logged-in user's HTTP client; non-GET requests carry the session's CSRF token."""

    client: TestClient[web.Request, web.Application]
    username: str
    password: str
    csrf: str

    async def request(self, method: str, path: str, **kwargs: Any) -> ClientResponse:
        headers = dict(kwargs.pop("headers", {}))
        if method not in ("GET", "HEAD"):
            headers.setdefault("X-CSRF-Token", self.csrf)
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("POST", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("PATCH", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.request("PUT", path, **kwargs)


@pytest.fixture
async def server(app: web.Application) -> AsyncIterator[TestServer]:
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


@pytest.fixture
async def anonymous(server: TestServer) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A client with no session."""
    client: TestClient[web.Request, web.Application] = TestClient(server)
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def api_login(client: TestClient[web.Request, web.Application], username: str,
                    password: str) -> str:
    """Log ``client`` in (JSON login); returns the session's CSRF token."""
    resp = await client.post("/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    return str(body["csrf"])


@pytest.fixture
async def api_as(server: TestServer,
                 web_user: WebUser) -> AsyncIterator[Callable[..., Awaitable[ApiSession]]]:
    """``await api_as("operator", operator_id="op1001")``, ``await api_as("department",
    department="ecology")``: a new user, logged in."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(role: str, operator_id: str | None = None,
                   username: str | None = None, department: str | None = None,
                   ) -> ApiSession:
        name, password = await web_user(role, operator_id, username, department)
        client: TestClient[web.Request, web.Application] = TestClient(server)
        await client.start_server()
        clients.append(client)
        csrf = await api_login(client, name, password)
        return ApiSession(client, name, password, csrf)

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


# -- a real browser --------------------------------------------------------------------------


@pytest.fixture
async def live_url(app: web.Application) -> AsyncIterator[str]:
    """The app served on 127.0.0.1 at an ephemeral port (never 8080)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    return CHROMIUM


@pytest.fixture
async def browser(tmp_path: Path, chromium: str) -> AsyncIterator[BrowserContext]:
    """Debian's Chromium, headless, with a fresh profile (Playwright never downloads one)."""
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, args=CHROMIUM_ARGS,
            headless=False,  # "--headless=new" above: Chromium's own headless mode
        )
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
async def page(browser: BrowserContext) -> Page:
    return browser.pages[0] if browser.pages else await browser.new_page()


async def browser_login(page: Page, live_url: str, username: str, password: str,
                        next_path: str = "") -> None:
    """Log in through the login form, as a person would."""
    query = f"?next={next_path}" if next_path else ""
    await page.goto(f"{live_url}/login{query}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_load_state("domcontentloaded")


async def audited(hotline: WebHotline) -> list[AuditEntry]:
    """The audit log, newest first, without the log-ins and log-outs every test session makes."""
    return [e for e in await hotline.store.audit.latest() if e.action not in {"login", "logout"}]
