from __future__ import annotations

import pytest

from sorabeat.config.secrets import mask_secrets
from sorabeat.credentials import MASK
from sorabeat.pipeline.settings import Settings


def test_secret_settings_and_auth_headers_are_masked() -> None:
    data = {
        "output": {
            "elasticsearch": {"hosts": ["es"], "password": "pw1", "api_key": "id:key"},
            "logstash": {"ssl": {"key_passphrase": "kp"}},
        },
        "sorabeat": {
            "modules": [
                {
                    "module": "sora",
                    "password": "pw2",
                    "headers": {
                        "Authorization": "Bearer t",
                        "X-Trace": "1",
                        "Content-Type": "application/json",
                    },
                }
            ]
        },
        "setup": {"kibana": {"password": "pw3"}},
    }
    masked = mask_secrets(data, Settings)
    text = repr(masked)
    for secret in ("pw1", "id:key", "kp", "pw2", "Bearer t", "pw3"):
        assert secret not in text
    assert masked["output"]["elasticsearch"]["password"] == MASK
    # header values are secret whatever the name; a few harmless headers stay readable
    headers = masked["sorabeat"]["modules"][0]["headers"]
    assert headers["X-Trace"] == MASK
    assert headers["Content-Type"] == "application/json"
    assert masked["output"]["elasticsearch"]["hosts"] == ["es"]
    assert data["output"]["elasticsearch"]["password"] == "pw1"  # the original is untouched


def test_passwords_written_into_urls_are_masked_and_known_as_secrets() -> None:
    import base64

    from sorabeat.config.secrets import secret_values
    from sorabeat.credentials import redact_url
    from sorabeat.es.hosts import parse_host_url

    data = {"output": {"elasticsearch": {"hosts": ["https://elastic:Sup3rS3cret@es:9200/"]}}}
    masked = mask_secrets(data, Settings)
    assert masked["output"]["elasticsearch"]["hosts"] == ["https://elastic:xxxxx@es:9200/"]
    found = secret_values(data, Settings)
    assert "Sup3rS3cret" in found
    assert base64.b64encode(b"elastic:Sup3rS3cret").decode() in found
    assert (
        redact_url("see http://u:p@h:1/x and https://h2/")
        == "see http://u:xxxxx@h:1/x and https://h2/"
    )
    with pytest.raises(ValueError, match="invalid port") as info:
        parse_host_url("https://elastic:Sup3rS3cret@es:99999")
    assert "Sup3rS3cret" not in str(info.value)


def test_proxy_credentials_are_secrets() -> None:
    """proxy_url userinfo and proxy_headers values, for every client that has them."""
    from sorabeat.config.secrets import secret_values
    from sorabeat.credentials import SecretScrubber

    data = {
        "output": {
            "logstash": {"proxy_url": "socks5://shipper:s0cks%40pw@proxy:1080"},
            "elasticsearch": {
                "proxy_url": "http://u:http-proxy-pw@proxy:3128",
                "proxy_headers": {"Proxy-Authorization": "Basic cHJveHk6cHc=", "X-Id": "tok-123"},
            },
        },
        "setup": {"kibana": {"proxy_headers": {"X-Kibana-Proxy": "kb-proxy-token"}}},
    }
    masked = mask_secrets(data, Settings)
    assert masked["output"]["logstash"]["proxy_url"] == f"socks5://shipper:{MASK}@proxy:1080"
    assert masked["output"]["elasticsearch"]["proxy_headers"] == {
        "Proxy-Authorization": MASK,
        "X-Id": MASK,
    }
    assert masked["setup"]["kibana"]["proxy_headers"] == {"X-Kibana-Proxy": MASK}
    secrets = secret_values(data, Settings)
    for value in ("s0cks@pw", "s0cks%40pw", "http-proxy-pw", "cHJveHk6cHc=", "tok-123"):
        assert value in secrets
    scrubber = SecretScrubber(secrets)
    line = "proxy said: kb-proxy-token s0cks@pw cHJveHk6cHc="
    assert scrubber.scrub(line) == f"proxy said: {MASK} {MASK} {MASK}"
