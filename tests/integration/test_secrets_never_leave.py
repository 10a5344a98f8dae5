"""No form of any configured secret appears in any byte sorabeat writes.

Random secrets are configured in every place a secret can be: Sora module headers, a Sora
URL's ``user:password@``, a Sora username/password from the keystore (``${NAME}``),
Elasticsearch username/password, api_key and headers, Kibana credentials, ssl
key_passphrase. Stand-ins for Sora, Elasticsearch and Kibana (real sockets on 127.0.0.1)
reflect every request header and the URL into their error bodies in every way: raw, in
JSON strings, percent-encoded, base64. Real ``sorabeat`` processes then run against them;
every byte they write (events in the file output, log files, stdout, stderr, the
monitoring endpoint) is searched for every travel form of every secret.

Sora's successful replies are data and are shipped as they are: the stand-in echoes in
error replies and in bodies that are not JSON, which is where sorabeat quotes a response.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import shutil
import string
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sorabeat.config.secrets import MASK, MIN_MASKED_LENGTH, travel_forms
from tests.integration.procs import Proc, wait_for

# Visible ASCII a header value and a YAML (JSON) string can carry; "$" would start a
# ${NAME} reference and is left out.
ALPHABET = "".join(c for c in string.ascii_letters + string.digits + string.punctuation if c != "$")
SECRET = st.text(alphabet=ALPHABET, min_size=8, max_size=16).filter(
    lambda s: not any(f in MASK for f in travel_forms(s) if len(f) >= MIN_MASKED_LENGTH)
)
HARMLESS = {"content-type", "accept", "user-agent", "accept-encoding", "content-length"}


def _echo_variants(text: str, values: list[str]) -> list[str]:
    """The ways a careless server or proxy reflects what it was sent."""
    return [
        text,
        json.dumps({"error": text}),
        quote(text, safe=""),
        base64.b64encode(text.encode()).decode(),
        " ".join(base64.b64encode(v.encode()).decode() for v in values),
        json.dumps({"error": {"reason": " ".join(values)}}),
    ]


class EchoServer:
    """Answers every request with ``status`` and a body reflecting the request; the echo
    form rotates from one request to the next, so each form is quoted in some message."""

    def __init__(self, status: int, content_type: str = "text/plain", prefix: str = "") -> None:
        self.requests: list[dict[str, str]] = []
        self.counter = itertools.count()
        echo = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                echo.requests.append(headers)
                values = [v for k, v in headers.items() if k not in HARMLESS]
                for value in list(values):
                    scheme, _, credential = value.partition(" ")
                    if scheme == "Basic":  # what a proxy logging the user would show
                        values.append(base64.b64decode(credential).decode(errors="replace"))
                text = f"{self.command} {self.path} " + " ".join(
                    f"{k}={v}" for k, v in headers.items() if k not in HARMLESS
                )
                forms = _echo_variants(text, values)
                body = (prefix + forms[next(echo.counter) % len(forms)]).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("WWW-Authenticate", text.encode().decode("latin-1"))
                self.end_headers()
                if self.command != "HEAD":
                    with contextlib.suppress(ConnectionError):  # a poll given up on
                        self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _answer  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])

    @contextmanager
    def running(self) -> Iterator[EchoServer]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(10)


def sorabeat(
    *args: str, home: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sorabeat", *args, "--path.home", str(home)],
        cwd=home,
        capture_output=True,
        input=stdin.encode() if stdin is not None else None,
        timeout=60,
    )


def write(path: Path, doc: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))  # JSON is YAML, and quotes any secret safely
    path.chmod(0o600)


def every_form(secrets: list[str]) -> set[str]:
    return {
        form
        for secret in secrets
        for form in travel_forms(secret)
        if len(form) >= MIN_MASKED_LENGTH and form not in MASK
    }


def assert_clean(written: dict[str, bytes], secrets: list[str]) -> None:
    forms = every_form(secrets)
    for where, data in written.items():
        text = data.decode("utf-8", "replace")
        leaked = sorted(f for f in forms if f in text)
        shown = [text[max(0, text.index(f) - 200) : text.index(f) + 100] for f in leaked[:3]]
        assert not leaked, f"{where} carries {leaked!r}: {shown!r}"


@contextmanager
def home_dir() -> Iterator[Path]:
    # hypothesis runs many examples in one test: each gets its own directory
    path = Path(tempfile.mkdtemp(prefix="sorabeat-secrets-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.timeout(300)
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.generate],  # shrinking re-runs processes for minutes; the seed replays
)
@given(secrets=st.lists(SECRET, min_size=11, max_size=11, unique=True))
def test_no_secret_leaves_sorabeat_run(secrets: list[str]) -> None:
    # user names are not secrets (a proxy's log shows them); passwords and tokens are
    url_user = "sora-url-user"
    bearer, token, url_password, keystore_pw, keystore_header, es_password = secrets[:6]
    kibana_password, passphrase, api_key_id, api_key, es_header = secrets[6:]
    sora = EchoServer(502)
    # 200 with a body that is not JSON (a JSON 200 is Sora's data, shipped as it is)
    sora_json = EchoServer(200, "application/json", prefix="<html>")
    kibana = EchoServer(401, "application/json")
    with home_dir() as home, sora.running(), sora_json.running(), kibana.running():
        address = f"127.0.0.1:{sora.port}"
        modules = [
            {
                "module": "sora",
                "period": "100ms",
                "hosts": [address, f"127.0.0.1:{sora_json.port}"],
                "headers": {
                    "Authorization": f"Bearer {bearer}",
                    "X-Auth-Token": token,
                    "X-Custom": "${SORA_HEADER}",
                },
            },
            {
                "module": "sora",
                "period": "100ms",
                "hosts": [
                    f"http://{quote(url_user, safe='')}:{quote(url_password, safe='')}@{address}",
                    f"http://{quote(url_user, safe='')}:{quote(url_password, safe='')}"
                    f"@127.0.0.1:{sora_json.port}",
                ],
            },
            {
                "module": "sora",
                "period": "100ms",
                "hosts": [address],
                "username": "sora-user",
                "password": "${SORA_PASSWORD}",
            },
        ]
        write(home / "modules.d" / "sora.yml", modules)
        write(
            home / "sorabeat.yml",
            {
                "output.file": {"path": "out", "filename": "events"},
                "queue.mem": {},
                "http": {"enabled": True, "host": "127.0.0.1", "port": 0},
                "logging.level": "debug",
                "setup.kibana": {
                    "host": f"127.0.0.1:{kibana.port}",
                    "username": "kibana-user",
                    "password": kibana_password,
                    "ssl": {"enabled": False, "key_passphrase": passphrase},
                },
            },
        )
        assert sorabeat("keystore", "create", home=home).returncode == 0
        for name, value in (("SORA_PASSWORD", keystore_pw), ("SORA_HEADER", keystore_header)):
            added = sorabeat("keystore", "add", name, "--stdin", home=home, stdin=value + "\n")
            assert added.returncode == 0, added.stderr

        run = Proc(["run", "--path.home", str(home), "-d", "*"], home, "run")
        try:
            # every echo form of every module's credentials quoted in some error event
            wait_for(lambda: len(sora.requests) >= 60, 60, "polls of the echoing Sora", run)
            wait_for(lambda: len(sora_json.requests) >= 24, 60, "polls of the other Sora", run)
            port = int(
                wait_for(
                    lambda: re.search(r"monitoring endpoint on http://127.0.0.1:(\d+)", logs(home)),
                    30,
                    "the monitoring endpoint",
                    run,
                ).group(1)
            )
            endpoint = {
                path: httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10).content
                for path in ("/", "/stats", "/metrics", "/health")
            }
        finally:
            code = run.stop()
        assert code == 0, run.stderr()
        # the credentials did reach the stand-ins, so they had something to echo
        sent = {v for request in sora.requests for v in request.values()}
        assert f"Bearer {bearer}" in sent and keystore_header in sent
        basic = base64.b64encode(f"sora-user:{keystore_pw}".encode()).decode()
        assert f"Basic {basic}" in sent
        events = (home / "out").glob("events*")
        shipped = b"".join(p.read_bytes() for p in events)
        assert shipped.count(b'"error":{"message"') >= 60

        # the commands that print: each against the same stand-ins
        outputs: dict[str, bytes] = {"events": shipped, "log files": logs(home).encode()}
        for where, data in endpoint.items():
            outputs[f"http {where}"] = data
        outputs["run stdout"] = run.stdout()
        outputs["run stderr"] = run.stderr().encode()
        for command in (
            ("test", "modules"),
            ("test", "config"),
            ("export", "config"),
            ("setup", "--dashboards"),
        ):
            result = sorabeat(*command, "-e", home=home)
            outputs[f"{' '.join(command)} stdout"] = result.stdout
            outputs[f"{' '.join(command)} stderr"] = result.stderr
        exported = outputs["export config stdout"].decode()
        assert "key_passphrase: xxxxx" in exported and "X-Auth-Token: xxxxx" in exported

        # Elasticsearch: Basic credentials and headers, then an API key, each echoed back in
        # a 401 by `test output`
        for auth in (
            {"username": "elastic", "password": es_password, "headers": {"X-Es-Key": es_header}},
            {"api_key": f"{api_key_id}:{api_key}"},
        ):
            es = EchoServer(401, "application/json")
            with es.running():
                settings_file = json.loads((home / "sorabeat.yml").read_text())
                settings_file.pop("output.file", None)
                settings_file["output.elasticsearch"] = {
                    "hosts": [f"127.0.0.1:{es.port}"],
                    "ssl": {"enabled": False, "key_passphrase": passphrase},
                    **auth,
                }
                write(home / "sorabeat.yml", settings_file)
                result = sorabeat("test", "output", "-e", home=home)
                assert es.requests, result.stdout + result.stderr
                assert result.returncode == 1
                outputs[f"test output {sorted(auth)} stdout"] = result.stdout
                outputs[f"test output {sorted(auth)} stderr"] = result.stderr
        assert kibana.requests  # setup --dashboards reached Kibana, which echoed

    assert_clean(outputs, secrets)


def logs(home: Path) -> str:
    directory = home / "logs"
    if not directory.exists():
        return ""
    return "".join(p.read_text(errors="replace") for p in sorted(directory.iterdir()))
