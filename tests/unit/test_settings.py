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
    first = settings.ensure_secret(tmp_path)
    assert len(first) >= 24
    assert settings.ensure_secret(tmp_path) == first
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    monkeypatch.setenv("IVR_AMI_SECRET", "from-env")
    assert settings.load_secret(tmp_path) == "from-env"


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
