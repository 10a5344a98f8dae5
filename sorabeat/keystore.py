"""The secrets keystore (``path.data/sorabeat.keystore``), as metricbeat keeps one.

Settings refer to its keys as ``${NAME}``; the loader looks there before the environment.

File format (version 1)::

    sorabeat-keystore-v1\\n
    base64( salt[16] | nonce[12] | AES-256-GCM(JSON {key: value}) )\\n

The key is PBKDF2-HMAC-SHA256 (``ITERATIONS`` rounds) of a passphrase and the salt; the
first line is authenticated data, so any change to the file is detected as corruption.

Threat model, honestly: without ``SORABEAT_KEYSTORE_PASSPHRASE`` the passphrase is empty, so
anyone who can read the file can decrypt it (as with metricbeat's keystore): the encryption
only keeps secrets out of casual sight (``grep``, a screen share, a config dump). What
protects them is the file mode 0600 and its owner, which are enforced. With the passphrase
set in the environment of every sorabeat command, a copy of the file (a backup) is useless
without it; but whoever can read the process environment (root, the sorabeat user, or a
systemd ``EnvironmentFile``) can read the passphrase.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import stat
from collections.abc import Mapping

import orjson

from sorabeat.agent import write_atomically

FILE_NAME = "sorabeat.keystore"
HEADER = b"sorabeat-keystore-v1\n"
PASSPHRASE_ENV = "SORABEAT_KEYSTORE_PASSPHRASE"
ITERATIONS = 200_000
SALT_SIZE = 16
NONCE_SIZE = 12
KEY_PATTERN = re.compile(r"[A-Za-z0-9_.\-]+")


class KeystoreError(Exception):
    """The keystore cannot be used; the message says why and what to do."""


def keystore_path(data_dir: str) -> str:
    return os.path.join(data_dir, FILE_NAME)


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key):
        raise KeystoreError(
            f"invalid key {key!r}: use letters, digits, '_', '.' and '-' (e.g. ES_PASSWORD)"
        )
    return key


# cryptography is imported where a keystore is read or written: every command loads the
# configuration, and most nodes have no keystore (its bindings cost ~8 MiB of RSS)


def _derive(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=ITERATIONS)
    return kdf.derive(passphrase.encode("utf-8"))


def encrypt(values: Mapping[str, str], passphrase: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    salt = os.urandom(SALT_SIZE)
    nonce = os.urandom(NONCE_SIZE)
    plain = orjson.dumps(dict(sorted(values.items())))
    sealed = AESGCM(_derive(passphrase, salt)).encrypt(nonce, plain, HEADER)
    return HEADER + base64.b64encode(salt + nonce + sealed) + b"\n"


def decrypt(data: bytes, passphrase: str, label: str) -> dict[str, str]:
    """The keystore's values; KeystoreError naming ``label`` if the bytes are not one."""
    if not data.startswith(HEADER):
        raise KeystoreError(f"{label} is not a sorabeat keystore (or is corrupt): bad header")
    try:
        blob = base64.b64decode(data[len(HEADER) :].strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeystoreError(f"{label} is corrupt: not base64 after the header") from None
    if len(blob) < SALT_SIZE + NONCE_SIZE + 16:
        raise KeystoreError(f"{label} is corrupt: truncated")
    salt, nonce = blob[:SALT_SIZE], blob[SALT_SIZE : SALT_SIZE + NONCE_SIZE]
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        plain = AESGCM(_derive(passphrase, salt)).decrypt(
            nonce, blob[SALT_SIZE + NONCE_SIZE :], HEADER
        )
    except InvalidTag:
        hint = (
            f"{PASSPHRASE_ENV} is not the passphrase it was created with"
            if passphrase
            else f"it was created with {PASSPHRASE_ENV} set"
        )
        raise KeystoreError(f"{label} cannot be decrypted: it is corrupt, or {hint}") from None
    values = orjson.loads(plain)
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise KeystoreError(f"{label} is corrupt: unexpected content")
    return values


def check_permissions(path: str) -> None:
    """strict.perms for the keystore: owned by us or root, readable by the owner only."""
    st = os.stat(path)
    uid = os.geteuid()
    # root may use a keystore the service user owns (it can read it anyway)
    if uid != 0 and st.st_uid not in (uid, 0):
        raise KeystoreError(
            f"keystore {path} must be owned by the user running sorabeat (uid={uid}) or root, "
            f"not uid={st.st_uid} (to ignore this check, use --strict.perms=false)"
        )
    if st.st_mode & 0o077:
        raise KeystoreError(
            f"keystore {path} must be accessible by its owner only, but its permissions are "
            f'"{stat.filemode(st.st_mode)}" (to fix them use: chmod 600 {path})'
        )


class Keystore:
    def __init__(self, path: str, values: dict[str, str], passphrase: str) -> None:
        self.path = path
        self.values = values
        self.passphrase = passphrase

    @staticmethod
    def passphrase_from(environ: Mapping[str, str]) -> str:
        return environ.get(PASSPHRASE_ENV, "")

    @classmethod
    def open(cls, path: str, passphrase: str = "", *, strict_perms: bool = True) -> Keystore | None:
        """The keystore at ``path``, None if there is none; KeystoreError if unusable."""
        try:
            if strict_perms:
                check_permissions(path)
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except PermissionError:
            raise KeystoreError(
                f"keystore {path} is not readable by this user (uid={os.geteuid()}): run "
                "sorabeat as the user that owns it"
            ) from None
        except OSError as exc:
            raise KeystoreError(f"keystore {path} cannot be read: {exc.strerror}") from None
        return cls(path, decrypt(data, passphrase, f"keystore {path}"), passphrase)

    @classmethod
    def create(cls, path: str, passphrase: str = "", *, force: bool = False) -> Keystore:
        if os.path.exists(path) and not force:
            raise KeystoreError(f"keystore {path} already exists; use --force to overwrite it")
        store = cls(path, {}, passphrase)
        store.save()
        return store

    def save(self) -> None:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o750, exist_ok=True)
        write_atomically(self.path, encrypt(self.values, self.passphrase), mode=0o600)
        os.chmod(self.path, 0o600)  # an existing file keeps its mode through os.replace
        owner = os.stat(directory)
        if os.geteuid() == 0 and owner.st_uid != 0:
            # `sudo sorabeat keystore add` in the service's path.data: the service user,
            # who owns that directory, must be able to read what root wrote
            os.chown(self.path, owner.st_uid, owner.st_gid)

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def add(self, key: str, value: str, *, force: bool = False) -> None:
        check_key(key)
        if key in self.values and not force:
            raise KeystoreError(
                f"the key {key} already exists in the keystore; use --force to overwrite it"
            )
        self.values[key] = value
        self.save()

    def remove(self, key: str) -> None:
        if key not in self.values:
            raise KeystoreError(f"could not find key {key!r} in the keystore")
        del self.values[key]
        self.save()

    def sorted_keys(self) -> list[str]:
        return sorted(self.values)
