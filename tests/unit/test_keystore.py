"""The keystore file: round trips, permissions, corruption, passphrases."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorabeat import keystore
from sorabeat.keystore import Keystore, KeystoreError, decrypt, encrypt


def make(tmp_path: Path, passphrase: str = "") -> Keystore:
    store = Keystore.create(str(tmp_path / "sorabeat.keystore"), passphrase)
    store.add("ES_PWD", "s3cret value")
    store.add("token.api-key", "t0k\u00e9n\n")
    return store


def test_round_trip_and_file_mode(tmp_path: Path) -> None:
    store = make(tmp_path)
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    data = Path(store.path).read_bytes()
    assert b"s3cret" not in data and data.startswith(keystore.HEADER)
    again = Keystore.open(store.path)
    assert again is not None
    assert again.values == {"ES_PWD": "s3cret value", "token.api-key": "t0k\u00e9n\n"}
    again.remove("ES_PWD")
    assert Keystore.open(store.path).sorted_keys() == ["token.api-key"]  # type: ignore[union-attr]


def test_missing_keystore_is_none(tmp_path: Path) -> None:
    assert Keystore.open(str(tmp_path / "nope")) is None


def test_create_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    store = make(tmp_path)
    with pytest.raises(KeystoreError, match="already exists; use --force"):
        Keystore.create(store.path)
    Keystore.create(store.path, force=True)
    assert Keystore.open(store.path).values == {}  # type: ignore[union-attr]


def test_add_existing_key_needs_force_and_keys_are_checked(tmp_path: Path) -> None:
    store = make(tmp_path)
    with pytest.raises(KeystoreError, match="already exists"):
        store.add("ES_PWD", "other")
    store.add("ES_PWD", "other", force=True)
    assert Keystore.open(store.path).get("ES_PWD") == "other"  # type: ignore[union-attr]
    with pytest.raises(KeystoreError, match="invalid key"):
        store.add("BAD KEY", "x")
    with pytest.raises(KeystoreError, match="could not find"):
        store.remove("NOPE")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_wrong_permissions_are_refused(tmp_path: Path, mode: int) -> None:
    store = make(tmp_path)
    os.chmod(store.path, mode)
    with pytest.raises(KeystoreError, match="chmod 600"):
        Keystore.open(store.path)
    assert Keystore.open(store.path, strict_perms=False) is not None


def test_save_restores_0600_on_an_existing_file(tmp_path: Path) -> None:
    store = make(tmp_path)
    os.chmod(store.path, 0o644)
    store.add("MORE", "x1234")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: b"garbage" + d, "bad header"),
        (lambda d: d[:-20] + b"A" * 19 + b"\n", "cannot be decrypted"),
        (lambda d: d[: len(keystore.HEADER) + 8], "truncated"),
        (lambda d: d + b"!!", "not base64"),
        (lambda d: keystore.HEADER.replace(b"v1", b"v2") + d[len(keystore.HEADER) :], "header"),
    ],
)
def test_corrupt_keystore_is_a_clear_error(tmp_path: Path, mangle: object, message: str) -> None:
    store = make(tmp_path)
    data = Path(store.path).read_bytes()
    Path(store.path).write_bytes(mangle(data))  # type: ignore[operator]
    with pytest.raises(KeystoreError, match=message):
        Keystore.open(store.path)


def test_every_flipped_byte_is_detected(tmp_path: Path) -> None:
    data = encrypt({"K": "v" * 40}, "")
    for i in range(0, len(data) - 1, 7):
        flipped = bytearray(data)
        flipped[i] ^= 0x01
        with pytest.raises(KeystoreError):
            decrypt(bytes(flipped), "", "keystore")


def test_passphrase_is_needed_when_one_was_used(tmp_path: Path) -> None:
    store = make(tmp_path, passphrase="correct horse")
    with pytest.raises(KeystoreError, match="created with SORABEAT_KEYSTORE_PASSPHRASE set"):
        Keystore.open(store.path)
    with pytest.raises(KeystoreError, match="not the passphrase"):
        Keystore.open(store.path, "wrong")
    assert Keystore.open(store.path, "correct horse").get("ES_PWD") == "s3cret value"  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(
    values=st.dictionaries(
        st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True),
        st.text(st.characters(blacklist_categories=("Cs",)), max_size=50),
        max_size=5,
    ),
    passphrase=st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
)
def test_encrypt_decrypt_round_trip(values: dict[str, str], passphrase: str) -> None:
    assert decrypt(encrypt(values, passphrase), passphrase, "k") == values
