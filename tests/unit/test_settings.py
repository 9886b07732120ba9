"""Settings: the shipped config loads; a broken one reports every problem at once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ivr import settings
from ivr.errors import ConfigError

CONFIG = Path(__file__).resolve().parents[2] / "config"


def broken_copy(tmp_path: Path, edits: dict[str, tuple[str, str]]) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    for name, (old, new) in edits.items():
        path = target / name
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new), encoding="utf-8")
    return target


def test_shipped_config_loads() -> None:
    """The configuration in the repository is valid."""
    cfg = settings.load(CONFIG)
    assert "report" in cfg.skills
    assert cfg.operators["op1001"].skills["report"] == 5
    assert cfg.operators["op1001"].penalty("report") == 0
    assert cfg.menu.general_queue in cfg.skills


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    """Problems in three files come back in one error, each with file and key."""
    config = broken_copy(tmp_path, {
        "ivr.toml": ("port = 4573", "port = 99999"),
        "skills.yaml": ("percent: 70", "percent: 170"),
        "operators.yaml": ("skills: {inquiry: 5, case_status: 4}", "skills: {inquiry: 9, nope: 4}"),
    })
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    text = str(info.value)
    assert "ivr.toml: agi.port: must be a TCP/UDP port" in text
    assert "skills.yaml: skills[suggestion].service_level.percent" in text
    assert "operators.yaml: operators[op1002].skills.inquiry: level must be 1-5" in text
    assert "operators.yaml: operators[op1002].skills.nope: unknown skill" in text
    assert len(info.value.problems) == 4


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("ivr.toml", 'username = "ivr"', 'username = "ivr"\nsecret = "x"', "ami.secret"),
        ("ivr.toml", 'default = "zh"', 'default = "fr"', "languages.default"),
        ("ivr.toml", "[agi]", "[agi", "not valid TOML"),
        ("skills.yaml", "id: hotline", "id: general", "reserved"),
        ("skills.yaml", "id: inquiry", "id: report", "duplicate skill id"),
        ("operators.yaml", "sip:op1002@127.0.0.1:5082", "sip:op1001@127.0.0.1:5081",
         "same contact as operator op1001"),
        ("operators.yaml", "contact: sip:op1003@127.0.0.1:5083", "contact: 'x;y'",
         "must look like sip:"),
        ("operators.yaml", "name: Li Wei", 'name: "Li\\nWei"', "one line"),
    ],
)
def test_each_kind_of_problem(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    """Each kind of mistake is named with its file."""
    config = broken_copy(tmp_path, {file: (old, new)})
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    assert any(message in str(p) and file in p.file for p in info.value.problems), info.value


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A missing file is a problem with its path, not a traceback."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG, config)
    (config / "operators.yaml").unlink()
    with pytest.raises(ConfigError, match=r"operators\.yaml: -: file not found"):
        settings.load(config)


def test_cli_exits_non_zero_on_invalid_config(tmp_path: Path) -> None:
    """`ivr config check` prints every problem and exits 2."""
    config = broken_copy(tmp_path, {"ivr.toml": ("port = 5038", "port = 0")})
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "--config", str(config), "config", "check"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 2
    assert "ami.port" in done.stderr
    assert "Traceback" not in done.stderr


def test_secret_is_generated_once_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The AMI secret is generated at first set-up, kept 0600, and reused."""
    monkeypatch.delenv("IVR_AMI_SECRET", raising=False)
    first = settings.ensure_secrets(tmp_path)["ami_secret"]
    assert len(first) >= 24
    assert settings.ensure_secrets(tmp_path)["ami_secret"] == first
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("IVR_AMI_SECRET", "from-env")
    assert settings.ensure_secrets(tmp_path)["ami_secret"] == "from-env"


def test_shipped_routing_policy_is_the_one_live_calls_and_asterisk_use() -> None:
    """[routing] of routing.toml loads into the policy plans and queuerules.conf are made from."""
    cfg = settings.load(CONFIG)
    r = cfg.routing
    assert (r.emergency_priority, r.elderly_bonus, r.repeat_caller_bonus) == (10, 1, 1)
    assert r.previous_operator_seconds == 20
    assert r.position_every == 0
    assert [(s.after_seconds, s.min_level, s.any_skill_with_language, s.general_pool)
            for s in r.widening] == [
        (0, 4, False, False), (30, 2, False, False), (90, 1, True, False), (180, 1, True, True)]


def test_routing_problems_are_reported_with_their_keys(tmp_path: Path) -> None:
    """A wrong routing policy is refused with every problem named, like the rest."""
    config = broken_copy(tmp_path, {"routing.toml": (
        "elderly_bonus = 1 ", 'elderly_bonus = "one"\nsurge = 2 ',
    )})
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    text = str(info.value)
    assert "routing.toml: routing.elderly_bonus: must be int" in text
    assert "routing.toml: routing.surge: unknown key" in text


@pytest.mark.parametrize(("old", "new", "message"), [
    ("{after = 30, min_level = 2}", "{after = 30, min_level = 7}", "level 7 is outside 1..5"),
    ("{after = 30, min_level = 2}", "{min_level = 2}", "routing.widening[1].after: required"),
    ("{after = 30, min_level = 2}", "{after = 30, level = 2}", "widening[1].level: unknown key"),
    ("{after = 30, min_level = 2}", "{after = 30, min_level = 5}", "narrows the step before"),
    ("{after = 0, min_level = 4}", "{after = 5, min_level = 4}", "start with a step at 0 s"),
    ("emergency_priority = 10", "emergency_priority = 11", "emergency_priority must be 1-10"),
    ("previous_operator_seconds = 20", "previous_operator_seconds = 95",
     "must end before the search leaves"),
    ("position_every = 0 ", "position_every = 5 ", "15-600 seconds, got 5"),
    ("position_every = 0 ", 'position_every = "often" ', "routing.position_every: must be int"),
])
def test_each_routing_problem(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
        settings.load(broken_copy(tmp_path, {"routing.toml": (old, new)}))


def test_a_routing_table_left_in_ivr_toml_is_named_as_moved(tmp_path: Path) -> None:
    """The policy is shared by the nodes: it lives in routing.toml, not in a node's ivr.toml."""
    config = broken_copy(tmp_path, {"ivr.toml": (
        "[callbacks]", "[routing]\nelderly_bonus = 2\n\n[callbacks]")})
    with pytest.raises(ConfigError, match=r"ivr\.toml: routing: moved to routing\.toml"):
        settings.load(config)


def test_config_check_shows_the_routing_policy(tmp_path: Path) -> None:
    """`ivr config check` prints the policy every live call is planned with."""
    out = subprocess.run(
        [sys.executable, "-m", "ivr", "--config", str(CONFIG), "config", "check"],
        capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IVR_STATE_DIR": str(tmp_path)},
    ).stdout
    assert "routing: priority from the flow's route node; emergency 10, elderly +1, " \
           "repeat caller +1" in out
    assert "routing: widening level 4+ operators speaking zh at once; level 2+ operators " \
           "speaking zh after 30 s" in out


def test_departments_are_checked_with_the_rest(tmp_path: Path) -> None:
    """A department with an unknown category, a bad kind, a two-line contact and no English
    name: every problem named with its department."""
    config = broken_copy(tmp_path, {
        "departments.yaml": (
            "    kind: department\n"
            "    names: {zh: 生态环境局, en: Ecology and Environment Bureau}\n"
            "    categories: [environment]\n"
            "    contacts: {phone: \"010-6000-1001\", liaison: 刘洋}",
            "    kind: ministry\n"
            "    names: {zh: 生态环境局}\n"
            "    categories: [environment, weather]\n"
            "    contacts: {phone: \"010\\n6000\"}"),
    })
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    text = str(info.value)
    assert "departments[ecology].kind: one of department, street" in text
    assert "departments[ecology].names.en: missing name" in text
    assert "departments[ecology].categories: 'weather' is not a skill" in text
    assert "departments[ecology].contacts.phone: must be one line" in text


def test_keywords_and_places_are_checked(tmp_path: Path) -> None:
    """Keywords must be one-line words, listed once; only a street or town has places."""
    config = broken_copy(tmp_path, {
        "departments.yaml": ("    keywords: [噪音,",
                             "    places: [东湖]\n    keywords: [噪音, 噪音, \"\","),
    })
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    text = str(info.value)
    assert "departments[ecology].places: only a street or town has places" in text
    assert "departments[ecology].keywords: '噪音' is listed twice" in text
    assert "departments[ecology].keywords: '' is not a word of one line" in text


def test_the_console_proposes_the_first_department_of_a_category() -> None:
    cfg = settings.load(CONFIG)
    proposed = cfg.department_for("environment")
    assert proposed is not None
    assert (proposed.id, proposed.name("zh")) == ("ecology", "生态环境局")
    assert {d.kind for d in cfg.departments.values()} == {"department", "street"}


def test_the_fastagi_secret_is_added_to_an_older_secrets_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A secrets file from before FastAGI had a secret gains one, keeping its AMI secret;
    the file stays 0600 and both are reused from then on."""
    monkeypatch.delenv("IVR_AMI_SECRET", raising=False)
    monkeypatch.delenv("IVR_AGI_SECRET", raising=False)
    path = tmp_path / "secrets.json"
    path.write_text('{"ami_secret": "older-ami-secret"}')
    path.chmod(0o644)
    first = settings.ensure_secrets(tmp_path)
    assert first["ami_secret"] == "older-ami-secret"
    assert len(first["agi_secret"]) >= 24
    assert first["agi_secret"] != first["ami_secret"]
    assert path.stat().st_mode & 0o777 == 0o600
    assert settings.ensure_secrets(tmp_path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secrets.json"]


def test_a_fastagi_secret_unfit_for_a_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IVR_AGI_SECRET goes into the dialplan's AGI URL: anything but URL-safe text is refused."""
    monkeypatch.setenv("IVR_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_AGI_SECRET", "short,and;bad")
    with pytest.raises(ConfigError, match="IVR_AGI_SECRET"):
        settings.load()



@pytest.mark.parametrize(
    ("file", "old", "new", "key"),
    [
        ("skills.yaml", "en: Environment and noise}",
         'en: "Noise\\n[evil]\\nmember => PJSIP/x"}', "skills[environment].names.en"),
        ("skills.yaml", "department: Ecology and Environment Bureau",
         'department: "Bureau\\r\\nstrategy = ringall"', "skills[environment].department"),
        ("skills.yaml", "department: Ecology and Environment Bureau",
         "department: " + "x" * 81, "skills[environment].department"),
        ("operators.yaml", "name: Wang Fang", 'name: "Wang\\u2028Fang"', "operators[op1001].name"),
    ],
)
def test_names_written_into_asterisk_files_are_one_short_line(
    tmp_path: Path, file: str, old: str, new: str, key: str
) -> None:
    """Names and departments go into queues.conf and pjsip.conf comments: a line break, a
    control character or an overlong text is refused with the file and key."""
    config = broken_copy(tmp_path, {file: (old, new)})
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    assert [f"{p.file.rsplit('/', 1)[-1]}: {p.key}" for p in info.value.problems] == [
        f"{file}: {key}"]


@pytest.mark.parametrize("value", ["auto", "always", "never"])
def test_secure_cookies_takes_three_values(tmp_path: Path, value: str) -> None:
    """`[web] secure_cookies`: auto (over TLS), always or never; anything else is refused."""
    config = broken_copy(tmp_path, {"ivr.toml": ('secure_cookies = "auto"',
                                                 f'secure_cookies = "{value}"')})
    assert settings.load(config).web_secure_cookies == value


def test_secure_cookies_refuses_other_values(tmp_path: Path) -> None:
    """A typo is a clear error naming the key, not a silently insecure cookie."""
    config = broken_copy(tmp_path, {"ivr.toml": ('secure_cookies = "auto"',
                                                 'secure_cookies = "yes"')})
    with pytest.raises(ConfigError, match=r"web\.secure_cookies"):
        settings.load(config)


def test_the_agi_command_timeout_leaves_room_for_prompts(tmp_path: Path) -> None:
    """Under 10 s a bulletin or a long prompt could never play: refused with the key."""
    config = broken_copy(tmp_path, {"ivr.toml": ("command_timeout = 60.0",
                                                 "command_timeout = 5.0")})
    with pytest.raises(ConfigError, match=r"agi\.command_timeout: at least 10 s"):
        settings.load(config)


@pytest.mark.parametrize(("line", "problem"), [
    ("factor = 1.0", "surges.factor: must be above 1"),
    ("weeks = 0", "surges.weeks: must be 1-52"),
    ("min_count = \"five\"", "surges.min_count: must be int"),
    ("window_minutes = 2", "surges.window_minutes: must be 5-1440"),
    ("floor = 0", "surges.floor: must be above 0"),
])
def test_surge_thresholds_are_checked(tmp_path: Path, line: str, problem: str) -> None:
    key = line.split(" = ", maxsplit=1)[0]
    shipped = (CONFIG / "ivr.toml").read_text(encoding="utf-8")
    old = next(x for x in shipped.splitlines() if x.startswith(f"{key} = ")
               and shipped.index(x) > shipped.index("[surges]"))
    config = broken_copy(tmp_path, {"ivr.toml": (old, line)})
    with pytest.raises(ConfigError) as info:
        settings.load(config)
    assert problem in str(info.value)


def test_privacy_retention_is_read_and_checked(tmp_path: Path) -> None:
    """``[privacy] keep_days``: off (0) as shipped; a number of days is taken; a negative, an
    absurd or a non-integer value is refused with the key."""
    assert settings.load(CONFIG).privacy_keep_days == 0
    config = broken_copy(tmp_path / "ok", {"ivr.toml": ("keep_days = 0", "keep_days = 180")})
    assert settings.load(config).privacy_keep_days == 180
    for bad, problem in (("-1", "must be 0 (kept for ever) to 36500"),
                         ("99999", "must be 0 (kept for ever) to 36500"),
                         ('"180"', "must be int")):
        config = broken_copy(tmp_path / bad.strip('"-'), {"ivr.toml": ("keep_days = 0",
                                                                       f"keep_days = {bad}")})
        with pytest.raises(ConfigError) as info:
            settings.load(config)
        assert f"privacy.keep_days: {problem}" in str(info.value)


def test_recordings_are_read_and_checked(tmp_path: Path) -> None:
    """``[recordings]``: on, wav, kept for ever as shipped; a format Asterisk is not asked
    for, a directory that could not be written into the dialplan safely, or a negative
    retention is refused with the key."""
    rec = settings.load(CONFIG).recordings
    assert (rec.enabled, rec.format, rec.keep_days, rec.directory) == (True, "wav", 0, None)
    assert rec.asterisk_directory == "/var/spool/asterisk/recordings"
    shipped = 'asterisk_directory = "/var/spool/asterisk/recordings"'
    for old, new, problem in (
        ('format = "wav"', 'format = "mp3"', "recordings.format: must be one of"),
        (shipped, 'asterisk_directory = "/tmp/x,y)"', "recordings.asterisk_directory"),
        (shipped, 'asterisk_directory = "/var/../etc"', "recordings.asterisk_directory"),
        (shipped, 'asterisk_directory = "relative"', "recordings.asterisk_directory"),
        ("disk_full_percent = 90", "disk_full_percent = 0", "recordings.disk_full_percent"),
    ):
        config = broken_copy(tmp_path / str(abs(hash(new))), {"ivr.toml": (old, new)})
        with pytest.raises(ConfigError) as info:
            settings.load(config)
        assert problem in str(info.value)
    config = broken_copy(tmp_path / "days", {"ivr.toml": (
        "keep_days = 0                 # recordings", "keep_days = 90  # recordings")})
    assert settings.load(config).recordings.keep_days == 90
