"""``sorabeat keystore create|add|remove|list``: secrets for ``${NAME}`` in the settings."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from sorabeat.cli.common import CliError, load_paths, open_keystore
from sorabeat.keystore import Keystore, KeystoreError, check_key, keystore_path


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = sub.add_parser(
        "keystore", parents=[common], help="manage secrets referred to as ${NAME} in settings"
    )
    actions = parser.add_subparsers(dest="keystore_command", metavar="ACTION", required=True)
    create = actions.add_parser("create", parents=[common], help="create an empty keystore")
    create.add_argument("--force", action="store_true", help="overwrite an existing keystore")
    create.set_defaults(handler=create_keystore)
    add = actions.add_parser("add", parents=[common], help="add a secret")
    add.add_argument("key", metavar="KEY", help="the name settings use, as ${KEY}")
    add.add_argument("--force", action="store_true", help="overwrite an existing key")
    add.add_argument("--stdin", action="store_true", help="read the value from standard input")
    add.set_defaults(handler=add_key)
    remove = actions.add_parser("remove", parents=[common], help="remove secrets")
    remove.add_argument("keys", nargs="+", metavar="KEY")
    remove.set_defaults(handler=remove_keys)
    listing = actions.add_parser("list", parents=[common], help="list the keys (not the values)")
    listing.set_defaults(handler=list_keys)


def _path(args: argparse.Namespace) -> str:
    return keystore_path(load_paths(args).data)


def _existing(args: argparse.Namespace) -> Keystore:
    paths = load_paths(args)
    store = open_keystore(paths, args.strict_perms)
    if store is None:
        raise CliError(
            f"keystore {keystore_path(paths.data)} does not exist: create it with "
            "`sorabeat keystore create`"
        )
    return store


def create_keystore(args: argparse.Namespace) -> int:
    path = _path(args)
    try:
        Keystore.create(path, Keystore.passphrase_from(os.environ), force=args.force)
    except KeystoreError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot create keystore {path}: {exc.strerror}") from None
    print(f"Created sorabeat keystore {path}")
    return 0


def _read_value(key: str, from_stdin: bool) -> str:
    if from_stdin:
        value = sys.stdin.read()
        return value[:-1] if value.endswith("\n") else value
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the value on: pass it with --stdin")
    try:
        return getpass.getpass(f"Enter value for {key}: ")
    except EOFError:
        raise CliError("no value given") from None


def add_key(args: argparse.Namespace) -> int:
    try:
        check_key(args.key)
    except KeystoreError as exc:
        raise CliError(str(exc), 2) from None
    store = _existing(args)
    if args.key in store.values and not args.force:
        raise CliError(
            f"the key {args.key} already exists in the keystore; use --force to overwrite it"
        )
    value = _read_value(args.key, args.stdin)
    if not value:
        raise CliError(f"empty value for {args.key}: nothing added")
    try:
        store.add(args.key, value, force=args.force)
    except KeystoreError as exc:
        raise CliError(str(exc)) from None
    print(f"Successfully updated the keystore: added {args.key}")
    return 0


def remove_keys(args: argparse.Namespace) -> int:
    store = _existing(args)
    missing = [k for k in args.keys if k not in store.values]
    if missing:
        raise CliError(f"could not find {', '.join(repr(k) for k in missing)} in the keystore")
    for key in args.keys:
        store.remove(key)
    print(f"Successfully updated the keystore: removed {', '.join(args.keys)}")
    return 0


def list_keys(args: argparse.Namespace) -> int:
    for key in _existing(args).sorted_keys():
        print(key)
    return 0
