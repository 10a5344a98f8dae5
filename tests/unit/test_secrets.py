from __future__ import annotations

from sorabeat.config.secrets import MASK, mask_secrets


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
                    "headers": {"Authorization": "Bearer t", "X-Trace": "1"},
                }
            ]
        },
        "setup": {"kibana": {"password": "pw3"}},
    }
    masked = mask_secrets(data)
    text = repr(masked)
    for secret in ("pw1", "id:key", "kp", "pw2", "Bearer t", "pw3"):
        assert secret not in text
    assert masked["output"]["elasticsearch"]["password"] == MASK
    assert masked["sorabeat"]["modules"][0]["headers"]["X-Trace"] == "1"
    assert masked["output"]["elasticsearch"]["hosts"] == ["es"]
    assert data["output"]["elasticsearch"]["password"] == "pw1"  # the original is untouched
