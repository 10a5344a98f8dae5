"""Kibana over httpx: ``GET /api/status`` and the saved-objects import. Transport failures
become KibanaError with one clear sentence; answers are read by ``responses``."""

from __future__ import annotations

import httpx

from sorabeat import __version__
from sorabeat.kibana.connection import Connection
from sorabeat.kibana.responses import (
    ImportResult,
    KibanaError,
    KibanaStatus,
    read_import,
    read_status,
)
from sorabeat.tls import TLSConfigError, client_context, describe_tls_error

IMPORT_FILE_NAME = "sorabeat.ndjson"


class KibanaClient:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        https = connection.url.scheme == "https"
        try:
            verify: object = (
                client_context(connection.ssl) if connection.ssl.active(https) else True
            )
        except TLSConfigError as exc:
            raise KibanaError(f"{connection.ssl_from}: {exc}") from None
        headers = {
            "kbn-xsrf": "true",  # Kibana refuses state-changing API calls without it
            "Accept": "application/json",
            "User-Agent": f"Sorabeat/{__version__}",
        }
        if connection.authorization:
            headers["Authorization"] = connection.authorization
        self.client = httpx.AsyncClient(
            base_url=connection.url.base,
            headers=headers,
            verify=verify,  # type: ignore[arg-type]
            timeout=httpx.Timeout(connection.timeout),
            proxy=connection.proxy,
            trust_env=not connection.proxy_disable,
        )

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self.client.send(request)
        except httpx.TimeoutException:
            raise KibanaError(
                f"Kibana at {self.connection.url} did not answer within "
                f"{self.connection.timeout:g}s (setup.kibana.timeout)"
            ) from None
        except httpx.ProxyError as exc:  # the proxy's answer to CONNECT
            raise KibanaError(
                f"the proxy refused the tunnel to Kibana at {self.connection.url}: {exc} "
                "(setup.kibana.proxy_url)"
            ) from None
        except httpx.HTTPError as exc:
            cause: BaseException | None = exc
            for _ in range(8):  # the TLS failure is a few causes down, if there is one
                if cause is None:
                    break
                tls = describe_tls_error(cause)
                if tls:
                    raise KibanaError(f"TLS to Kibana at {self.connection.url}: {tls}") from None
                cause = cause.__cause__ or cause.__context__
            reason = str(exc) or type(exc).__name__
            raise KibanaError(
                f"cannot reach Kibana at {self.connection.url}: {reason} (is Kibana running, "
                "and setup.kibana.host right?)"
            ) from None

    async def status(self) -> KibanaStatus:
        response = await self._send(self.client.build_request("GET", "/api/status"))
        return read_status(
            response.status_code, response.headers.get("content-type", ""), response.content
        )

    async def import_objects(self, ndjson: bytes) -> ImportResult:
        request = self.client.build_request(
            "POST",
            self.connection.api("/api/saved_objects/_import"),
            params={"overwrite": "true"},
            files={"file": (IMPORT_FILE_NAME, ndjson, "application/ndjson")},
        )
        response = await self._send(request)
        return read_import(
            response.status_code, response.headers.get("content-type", ""), response.content
        )

    async def close(self) -> None:
        await self.client.aclose()
