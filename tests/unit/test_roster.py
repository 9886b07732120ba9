"""A roster at Beijing size: `ivr operators import roster.csv` checks the whole roster with the
whole configuration, reports every problem with its CSV line and writes all or nothing;
`ivr operators generate` makes the benchmark's 1,700 operators."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ivr import settings
from ivr.core.settings import Settings
from ivr.operators.roster import generate_roster, import_roster, parse_roster

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def cfg() -> Settings:
    return settings.load(CONFIG)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target)
    return target


def test_the_generated_roster_has_1700_operators_with_1_to_3_known_skills(cfg: Settings) -> None:
    text = generate_roster(cfg, 1700)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1700
    assert len({r["id"] for r in rows}) == 1700
    assert len({r["contact"] for r in rows}) == 1700
    for r in rows:
        skills = dict(item.split(":") for item in r["skills"].split(";"))
        assert 1 <= len(skills) <= 3
        assert set(skills) <= set(cfg.skills)
        assert all(1 <= int(level) <= 5 for level in skills.values())
        assert r["languages"].split(";")[0] == cfg.languages[0]
    ports = {r["contact"].rsplit(":", 1)[1] for r in rows}
    assert ports == {str(6000 + i) for i in range(20)}  # one phone answers for 85 operators
    assert generate_roster(cfg, 1700) == text  # the same seed, the same roster


def test_an_imported_roster_is_the_configuration(cfg: Settings, config_dir: Path) -> None:
    report = import_roster(cfg, config_dir, generate_roster(cfg, 300))
    assert (report.operators, report.problems) == (300, ())
    loaded = settings.load(config_dir)
    assert len(loaded.operators) == 300
    first = loaded.operators["op2001"]
    assert first.contact == "sip:op2001@127.0.0.1:6000"
    assert first.interface == "PJSIP/op2001"


BAD = (
    "id,name,languages,skills,contact\n"
    "op1,Wang Fang,zh;en,inquiry:5;report:3,sip:op1@127.0.0.1:6000\n"
    "op2,Li Wei,zh;xx,inquiry=5;bogus:3,sip:op2@127.0.0.1:6001\n"
    "op1,Zhang Min,zh,report:9,sip:op1@127.0.0.1:6000\n"
    "op4,,zh,report:2,sip:op4@127.0.0.1:6003\n"
)


def test_every_problem_is_reported_with_its_line_and_nothing_is_written(
    cfg: Settings, config_dir: Path
) -> None:
    before = (config_dir / "operators.yaml").read_bytes()
    report = import_roster(cfg, config_dir, BAD)
    said = [str(p) for p in report.problems]
    for expected in (
        "line 3: skill 'inquiry=5': write skill:level",
        "line 3: languages: 'xx' is not an enabled language",
        "line 3: skills.bogus: unknown skill",
        "line 4: id: duplicate operator id",
        "line 4: contact: same contact as operator op1",
        "line 5: name: ",
    ):
        assert any(s.startswith(expected) for s in said), (expected, said)
    assert any(s.startswith("line 4: ") and "9" in s for s in said), said  # level 9
    assert [p.line for p in report.problems] == sorted(p.line for p in report.problems)
    assert (config_dir / "operators.yaml").read_bytes() == before


def test_a_name_cannot_add_a_line_to_the_configuration(cfg: Settings, config_dir: Path) -> None:
    """A quoted CSV field with a line break stays one (refused) name, not a new key."""
    before = (config_dir / "operators.yaml").read_bytes()
    hostile = ('id,name,languages,skills,contact\n'
               'op1,"Wang\n  - id: evil",zh,inquiry:5,sip:op1@127.0.0.1:6000\n')
    report = import_roster(cfg, config_dir, hostile)
    assert report.problems
    assert all(p.line == 3 for p in report.problems), report.problems
    assert (config_dir / "operators.yaml").read_bytes() == before


@pytest.mark.parametrize(("text", "message"), [
    ("id,name,skills\nop1,Wang,inquiry:5\n", "line 1: missing column(s) languages"),
    ("id,name,languages,skills\nop1,Wang,zh,inquiry:5\n", "line 1: no contact column"),
    ("id,name,languages,skills,contact\n", "the roster has no operators"),
    ("id,name,languages,skills,contact,team\nop1,W,zh,inquiry:5,sip:a@h:1,x\n",
     "line 1: unknown column(s) team"),
])
def test_roster_file_problems(text: str, message: str) -> None:
    _, _, problems = parse_roster(text)
    assert any(str(p).startswith(message) for p in problems), problems


def test_a_contact_template_fills_rows_without_one() -> None:
    entries, _, problems = parse_roster("id,name,languages,skills\nop7,Wang,zh,inquiry:5\n",
                                        contact_template="sip:{id}@10.0.0.5:5060")
    assert problems == []
    assert entries[0]["contact"] == "sip:op7@10.0.0.5:5060"


def test_the_cli_reports_problems_and_exits_1(tmp_path: Path, config_dir: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(BAD, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "--config", str(config_dir), "operators", "import",
         str(roster)], capture_output=True, text=True, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "IVR_STATE_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert f"{roster}: line 3: skill 'inquiry=5'" in done.stderr
    assert "operators.yaml not changed" in done.stderr
