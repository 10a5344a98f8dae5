"""The one scrubber: every travel form of random secrets, overlapping secrets, secrets
inside each other, and the rule for short ones."""

from __future__ import annotations

import ast
import base64
import binascii
import contextlib
import io
import json
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus, unquote, unquote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sorabeat.config.secrets import mask_secrets, secret_values
from sorabeat.credentials import (
    MASK,
    MIN_CUT_LENGTH,
    MIN_MASKED_LENGTH,
    ScrubbingWriter,
    SecretScrubber,
    install_scrubber,
    reply_head,
    travel_forms,
)
from sorabeat.es.response import classify
from sorabeat.pipeline.settings import Settings

secret_text = st.text(min_size=MIN_MASKED_LENGTH, max_size=24).filter(
    # a secret the mask itself spells ("xxxx") cannot be told from masked text
    lambda s: not any(f in MASK for f in travel_forms(s) if len(f) >= MIN_MASKED_LENGTH)
)
filler = st.text(max_size=12)


def _base64_runs(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9+/=_-]{4,}", text)


def _decoded_base64(text: str) -> list[bytes]:
    """Every byte string a base64 reader could get out of the runs in ``text``."""
    out = []
    for run in _base64_runs(text.replace(MASK, " ")):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 4 * 4]
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    out.append(decode(chunk.replace("=", "A")))
    return out


# How an echoing server or sorabeat's own messages may carry a text: encode, and decode
# back what a reader of the output would recover.
ENCODINGS = {
    "raw": (lambda t: t, lambda t: t),
    "json": (lambda t: json.dumps(t), lambda t: json.loads(t)),
    "json-utf8": (lambda t: json.dumps(t, ensure_ascii=False), lambda t: json.loads(t)),
    "repr": (repr, ast.literal_eval),
    "percent": (lambda t: quote(t, safe=""), unquote),
    "percent-path": (quote, unquote),
    "percent-plus": (lambda t: quote_plus(t, safe=""), unquote_plus),
    "percent-lower": (
        lambda t: re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(t, safe="")),
        unquote,
    ),
    "repr-of-json": (lambda t: repr(json.dumps(t)), lambda t: json.loads(ast.literal_eval(t))),
}


@settings(max_examples=150, deadline=None)
@given(
    secrets=st.lists(secret_text, min_size=1, max_size=3),
    before=filler,
    between=filler,
    after=filler,
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
def test_no_secret_survives_any_text_encoding(
    secrets: list[str], before: str, between: str, after: str, encoding: str
) -> None:
    encode, decode = ENCODINGS[encoding]
    scrubber = SecretScrubber(secrets)
    text = before + between.join(secrets) + after + secrets[0]
    scrubbed = scrubber.scrub(encode(text))
    try:
        recovered = decode(scrubbed)
    except (ValueError, SyntaxError):  # a mask cut an escape in two: read the text as is
        recovered = scrubbed
    for secret in secrets:
        assert secret not in recovered
        assert secret not in scrubbed


@settings(max_examples=150, deadline=None)
@given(secrets=st.lists(secret_text, min_size=1, max_size=3), before=filler, after=filler)
def test_no_secret_survives_inside_base64(secrets: list[str], before: str, after: str) -> None:
    scrubber = SecretScrubber(secrets)
    data = (before + "".join(secrets) + after).encode("utf-8", "surrogatepass")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        scrubbed = scrubber.scrub(encode(data).decode())
        for decoded in _decoded_base64(scrubbed):
            for secret in secrets:
                assert secret.encode("utf-8", "surrogatepass") not in decoded


@settings(max_examples=100, deadline=None)
@given(base=secret_text, cut=st.integers(0, 24), extra=filler)
def test_secrets_inside_or_overlapping_each_other_are_masked_whole(
    base: str, cut: int, extra: str
) -> None:
    inner = base[cut % len(base) :][:MIN_MASKED_LENGTH]  # a secret inside another
    overlap = base[-2:] + extra + "tail"  # one that starts inside the other's end
    secrets = [s for s in (base, inner, overlap) if len(s) >= MIN_MASKED_LENGTH]
    assume(all(s not in MASK for s in secrets))
    scrubber = SecretScrubber(secrets)
    text = f"a={base}{extra}tail, b={inner}, c={base}"
    scrubbed = scrubber.scrub(text)
    for secret in secrets:
        assert secret not in scrubbed


def test_the_rule_for_short_secrets() -> None:
    """One or two characters ("1", "ab") would mask half of every line: such a secret is
    masked where it is the whole value, never inside other text."""
    scrubber = SecretScrubber(["ab", "1", "long-enough"])
    assert scrubber.scrub("ab") == MASK
    assert scrubber.scrub("1") == MASK
    assert scrubber.scrub("a table with labels 1, 2, 3") == "a table with labels 1, 2, 3"
    assert scrubber.scrub("token long-enough here") == f"token {MASK} here"


def test_the_mask_next_to_an_overlap_does_not_spell_a_secret_again() -> None:
    # "Axxxx" is a secret; masking "Axxxx" inside "AAxxxx" would leave "A" + "xxxxx"
    scrubber = SecretScrubber(["Axxxx"])
    assert "Axxxx" not in scrubber.scrub("AAxxxx AAAAxxxx")


def test_travel_forms_cover_what_clients_and_servers_do() -> None:
    forms = travel_forms("p@ss w/rd\"'")
    assert "p@ss w/rd\"'" in forms
    assert "p%40ss%20w%2Frd%22%27" in forms  # percent-encoded, nothing safe
    assert "p%40ss%20w/rd%22%27" in forms  # as a URL path keeps "/"
    assert "p%40ss+w%2Frd%22%27" in forms  # form-encoded
    assert "p@ss w/rd\\\"'" in forms  # inside a JSON string
    assert "p@ss w/rd\"\\'" in forms  # inside repr's single quotes
    assert base64.b64encode(b"p@ss w/rd\"'").decode() in forms


def test_secret_values_know_every_place_a_secret_is_configured() -> None:
    data = {
        "sorabeat": {
            "modules": [
                {
                    "hosts": ["http://sora:p%40ss-word@sora:3000"],
                    "headers": {"X-Auth-Token": "tok-123456", "Accept": "application/json"},
                    "username": "u",
                    "password": "module-pw",
                }
            ]
        },
        "output": {
            "elasticsearch": {
                "api_key": "id:the-key",
                "headers": {"Authorization": "ApiKey c2VjcmV0"},
            }
        },
    }
    found = secret_values(data, Settings)
    assert {"tok-123456", "module-pw", "id:the-key", "c2VjcmV0", "ApiKey c2VjcmV0"} <= found
    assert "application/json" not in found  # a harmless header
    assert "p%40ss-word" in found and "p@ss-word" in found
    assert base64.b64encode(b"sora:p@ss-word").decode() in found  # what httpx sends
    assert base64.b64encode(b"u:module-pw").decode() in found
    masked = mask_secrets(data, Settings)
    headers = masked["sorabeat"]["modules"][0]["headers"]
    assert headers == {"X-Auth-Token": MASK, "Accept": "application/json"}


def test_the_writer_scrubs_secrets_cut_across_writes() -> None:
    out = io.StringIO()
    writer = ScrubbingWriter(out, SecretScrubber(["s3cret-value"]))
    writer.write("password: s3cr")
    writer.write("et-value\nnext ")
    assert out.getvalue() == f"password: {MASK}\n"
    writer.write("s3cret-value")
    writer.flush()
    assert out.getvalue() == f"password: {MASK}\nnext {MASK}"


@settings(max_examples=150, deadline=None)
@given(
    secret=st.text(min_size=MIN_CUT_LENGTH + 1, max_size=24).filter(lambda s: "x" not in s),
    before=filler,
    cut=st.integers(MIN_CUT_LENGTH, 23),
    encoding=st.sampled_from(["raw", "json", "percent", "repr"]),
)
def test_a_secret_cut_short_by_a_snippet_is_masked(
    secret: str, before: str, cut: int, encoding: str
) -> None:
    """Error messages quote bodies cut to N characters: what is left of a secret at the
    end is masked when at least MIN_CUT_LENGTH characters of its form remain."""
    form = ENCODINGS[encoding][0](secret)
    if encoding in ("json", "repr"):
        form = form[1:-1]
    assume(cut < len(form))
    scrubbed = SecretScrubber([secret]).scrub(f"{before}{form[:cut]}...")
    assert form[:MIN_CUT_LENGTH] not in scrubbed


def test_the_monitoring_endpoint_is_scrubbed() -> None:
    from sorabeat.event import AgentInfo
    from sorabeat.monitoring.registry import Registry
    from sorabeat.monitoring.server import MonitoringServer
    from sorabeat.monitoring.settings import HttpSettings

    registry = Registry()
    # a label quoting a setting or a server's words
    registry.add("sora.polls.failed", 1, host="proxy-token-s3cret@127.0.0.1:3000")
    agent = AgentInfo(name="n", hostname="h", id="i", ephemeral_id="e", version="1")
    server = MonitoringServer(
        HttpSettings(), agent, registry, scrubber=SecretScrubber(["proxy-token-s3cret"])
    )
    for path in ("/stats", "/metrics", "/nope-proxy-token-s3cret"):
        body = server.respond(path).body
        assert b"proxy-token-s3cret" not in body
    assert MASK.encode() in server.respond("/metrics").body


SECRET = "Tok3nSecretValue123"


@pytest.fixture
def installed() -> Iterator[None]:
    install_scrubber(SecretScrubber([SECRET]))
    yield
    install_scrubber(SecretScrubber(()))


@pytest.mark.parametrize("offset", range(190, 201))
def test_a_reply_quoted_in_a_message_is_scrubbed_before_it_is_cut(
    installed: None, offset: int
) -> None:
    # a server echoing a secret across the 200-character cut: cutting first would leave its
    # first characters, too few for the stream scrubber to recognise as a cut-off secret
    body = b"x" * offset + SECRET.encode() + b" and more"
    head = reply_head(body, 200)
    assert len(head) <= 200 and SECRET[:3] not in head
    verdict = classify(401, body, ["create"])  # the bulk answer's message goes to the log
    assert SECRET[:3] not in verdict.message
