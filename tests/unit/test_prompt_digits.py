"""Asterisk ships no Mandarin ``digits/`` files: the prompt build makes them from the
catalog's number words, so app_queue reads a waiting caller's place in Mandarin."""

from __future__ import annotations

from pathlib import Path

from ivr.tools.prompts import asterisk_digit_files


def test_mandarin_digits_are_copies_of_the_number_words(tmp_path: Path) -> None:
    zh = tmp_path / "zh"
    (zh / "ivr").mkdir(parents=True)
    for n in (2, 10, 20, 100):
        (zh / "ivr" / f"num-{n}.wav").write_bytes(f"audio {n}".encode())
    asterisk_digit_files(zh)
    assert (zh / "digits" / "2.wav").read_bytes() == b"audio 2"
    assert (zh / "digits" / "20.wav").read_bytes() == b"audio 20"
    assert (zh / "digits" / "hundred.wav").read_bytes() == b"audio 100"
    assert not (zh / "digits" / "3.wav").exists()  # no number word built: nothing made up
    (zh / "ivr" / "num-2.wav").write_bytes(b"rebuilt 2")
    asterisk_digit_files(zh)
    assert (zh / "digits" / "2.wav").read_bytes() == b"rebuilt 2"
