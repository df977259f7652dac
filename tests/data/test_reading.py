"""Reading users' CSVs: whole or in chunks, with one clear error for each kind of trouble."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_detector.data.reading import read_csv, read_csv_chunks
from anomaly_detector.errors import InputError


def _error(call) -> InputError:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.reason == "invalid_request"
    return caught.value


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    error = _error(lambda: read_csv(tmp_path / "absent.csv"))
    assert "absent.csv does not exist" in error.message


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "No columns"), (b"\xff\xfe\x00bad", "codec"), (b'a,b\n1,"2\n', "EOF")],
    ids=["empty", "not-utf8", "open-quote"],
)
def test_unreadable_csv_says_what_pandas_found(tmp_path: Path, content: bytes, words) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    error = _error(lambda: read_csv(path))
    assert f"cannot read {path} as CSV" in error.message and words in error.message


def test_chunks_cover_the_file_and_keep_text_as_text(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("code,value\n" + "".join(f"{i:03d},{i}\n" for i in range(25)))
    chunks = list(read_csv_chunks(path, 10, dtype={"code": str}))
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert chunks[0]["code"].iloc[7] == "007"


def test_a_bad_row_in_a_later_chunk_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("a,b\n" + "1,2\n" * 30 + '3,"4\n')
    error = _error(lambda: list(read_csv_chunks(path, 10)))
    assert "cannot read" in error.message
