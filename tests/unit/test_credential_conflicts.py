"""Two credentials for one host are refused: the URL's ``user:password@`` would
replace a configured Authorization header (or username) without a word."""

from __future__ import annotations

from sorabeat.sora.settings import SoraModuleSettings


def test_url_userinfo_and_authorization_header_are_refused() -> None:
    module = SoraModuleSettings(
        module="sora",
        hosts=["127.0.0.1:3000", "http://admin:pw-secret@127.0.0.1:3001"],
        headers={"authorization": "Bearer tok-secret"},
    )
    problems = module.problems()
    assert problems == [
        ("hosts.1", "user:password@ in the URL and headers.Authorization are both set; keep one")
    ]
    assert "secret" not in repr(problems)


def test_username_and_authorization_header_are_refused() -> None:
    module = SoraModuleSettings(
        module="sora", username="u", password="p", headers={"Authorization": "Basic abc"}
    )
    assert module.problems() == [
        ("username", "username/password and headers.Authorization are both set; keep one")
    ]


def test_url_userinfo_and_username_are_refused() -> None:
    module = SoraModuleSettings(
        module="sora", hosts=["http://a:b@127.0.0.1:3000"], username="u", password="p"
    )
    assert [key for key, _ in module.problems()] == ["hosts.0"]


def test_one_credential_is_fine() -> None:
    for module in (
        SoraModuleSettings(module="sora", hosts=["http://a:b@127.0.0.1:3000"]),
        SoraModuleSettings(module="sora", headers={"Authorization": "Bearer t"}),
        SoraModuleSettings(module="sora", username="u", password="p"),
    ):
        assert module.problems() == []


def test_elasticsearch_refuses_an_authorization_header_with_other_credentials() -> None:
    from sorabeat.es.settings import ElasticsearchSettings

    header = {"Authorization": "Bearer tok-secret"}
    url = ElasticsearchSettings(hosts=["http://elastic:pw-secret@127.0.0.1:9200"], headers=header)
    assert url.problems() == [
        ("hosts.0", "user:password@ in the URL and headers.Authorization are both set; keep one")
    ]
    for other in ({"username": "elastic", "password": "pw"}, {"api_key": "id:key"}):
        settings = ElasticsearchSettings(hosts=["127.0.0.1:9200"], headers=header, **other)  # type: ignore[arg-type]
        assert [key for key, _ in settings.problems()] == ["headers"]
    assert ElasticsearchSettings(hosts=["127.0.0.1:9200"], headers=header).problems() == []
