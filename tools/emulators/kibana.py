"""A Kibana emulator for ``sorabeat setup --dashboards``: ``GET /api/status`` and ``POST
[/s/<space>]/api/saved_objects/_import`` over real HTTP on 127.0.0.1, answering as Kibana's
docs say (docs/api/saved-objects/import.asciidoc, the status API):

- errors are Hapi/Boom JSON ``{statusCode, error, message}``: 400 without ``kbn-xsrf``, for a
  file that is not ``.ndjson`` or a line that is not JSON; 401 for missing or wrong
  credentials (Basic or ApiKey); 404 for an unknown space or path; 413 over the payload limit;
- the import answer is ``{success, successCount, successResults, errors?}``; an object whose
  references exist neither in the file nor in the space gets ``missing_references``, an
  existing object without ``overwrite=true`` a ``conflict``, an unknown type
  ``unsupported_type``, a document newer than this Kibana an ``unknown`` 400 error, and tests
  may force any error on an object id;
- the status has ``version.number`` and ``status.overall.level``; anonymous callers get the
  redacted ``{status: {overall: {level}}}`` when ``anonymous_status`` allows it, else 401.

Whatever a client does that Kibana would not accept is also listed in ``problems``.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any

import orjson

from tools.emulators.http11 import HttpServer, Request, Response

JSON = dict[str, Any]
TYPES = frozenset({"index-pattern", "lens", "dashboard", "visualization", "search", "config"})
ICONS = {"index-pattern": "indexPatternApp", "lens": "lensApp", "dashboard": "dashboardApp"}
IMPORT = "/api/saved_objects/_import"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("-")[0].split("."))


@dataclass
class ImportCall:
    space: str
    query: dict[str, str]
    filename: str
    lines: list[JSON]
    authorization: str


@dataclass
class KibanaEmulator:
    version: str = "8.15.0"
    users: dict[str, str] | None = None  # Basic credentials; None and api_keys None: no auth
    api_keys: set[str] | None = None  # "id:key" values accepted as ApiKey base64(id:key)
    spaces: set[str] = field(default_factory=lambda: {"default"})
    base_path: str = ""
    level: str = "available"
    anonymous_status: bool = False  # security on: redacted status for anonymous callers
    forced_errors: dict[str, JSON] = field(default_factory=dict)  # object id -> error
    non_json: bool = False  # answer like a proxy's HTML error page
    max_payload: int = 26_214_400  # savedObjects.maxImportPayloadBytes default
    ssl_context: ssl.SSLContext | None = None
    max_runtime: float = 300.0
    objects: dict[tuple[str, str, str], JSON] = field(default_factory=dict)  # (space,type,id)
    imports: list[ImportCall] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = HttpServer(self._handle, self.ssl_context)
        self._watchdog: asyncio.Task[None] | None = None

    async def __aenter__(self) -> KibanaEmulator:
        await self.server.start("127.0.0.1", 0)
        self._watchdog = asyncio.get_running_loop().create_task(self._expire())
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop()
        if self._watchdog is not None:
            self._watchdog.cancel()

    async def _expire(self) -> None:
        await asyncio.sleep(self.max_runtime)
        await self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url + self.base_path

    def ids(self, space: str = "default") -> set[tuple[str, str]]:
        return {(t, i) for s, t, i in self.objects if s == space}

    # ----------------------------------------------------------------- answers
    @staticmethod
    def _boom(status: int, error: str, message: str, **headers: str) -> Response:
        body = {"statusCode": status, "error": error, "message": message}
        return Response(status, orjson.dumps(body), headers)

    def _authorized(self, request: Request) -> tuple[bool, str]:
        """(allowed, who) for the Authorization header."""
        header = request.headers.get("authorization", "")
        if self.users is None and self.api_keys is None:
            return True, "anonymous"
        scheme, _, value = header.partition(" ")
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            decoded = ""
        if scheme == "Basic" and self.users is not None:
            user, _, password = decoded.partition(":")
            return self.users.get(user) == password, user
        if scheme == "ApiKey" and self.api_keys is not None:
            return decoded in self.api_keys, "api key"
        return False, ""

    def _unauthorized(self, request: Request) -> Response:
        who = self._authorized(request)[1]
        message = (
            f"[security_exception]: unable to authenticate user [{who}] for REST request "
            "[/_security/_authenticate]"
            if request.headers.get("authorization")
            else "[security_exception]: missing authentication credentials for REST request"
        )
        return self._boom(401, "Unauthorized", message, **{"www-authenticate": "Basic, ApiKey"})

    async def _handle(self, request: Request) -> Response:
        self.requests.append(request)
        if self.non_json:
            return Response(
                502,
                b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                {"content-type": "text/html"},
            )
        path = request.path
        if self.base_path:
            if not path.startswith(self.base_path + "/"):
                return self._boom(404, "Not Found", "Not Found")
            path = path[len(self.base_path) :]
        if path == "/api/status" and request.method == "GET":
            return self._status(request)
        space = "default"
        if path.startswith("/s/"):
            space, _, rest = path[3:].partition("/")
            path = "/" + rest
        if path == IMPORT and request.method == "POST":
            if space not in self.spaces:
                return self._boom(404, "Not Found", f"Saved object [space/{space}] not found")
            return self._import(request, space)
        self.problems.append(f"unexpected {request.method} {request.path}")
        return self._boom(404, "Not Found", "Not Found")

    def _status(self, request: Request) -> Response:
        allowed, _ = self._authorized(request)
        anonymous = not request.headers.get("authorization")
        code = 503 if self.level in ("unavailable", "critical") else 200
        if not allowed:
            if anonymous and self.anonymous_status:
                return Response(code, orjson.dumps({"status": {"overall": {"level": self.level}}}))
            return self._unauthorized(request)
        body = {
            "name": "kibana-emulator",
            "uuid": "5b2de169-2785-441b-ae8c-186a1936b17d",
            "version": {
                "number": self.version,
                "build_hash": "0" * 40,
                "build_number": 1,
                "build_snapshot": False,
                "build_flavor": "traditional",
            },
            "status": {
                "overall": {"level": self.level, "summary": f"Kibana is {self.level}"},
                "core": {},
                "plugins": {},
            },
            "metrics": {
                "last_updated": "2026-01-02T03:04:05.000Z",
                "collection_interval_in_millis": 5000,
            },
        }
        return Response(code, orjson.dumps(body))

    def _file_part(self, request: Request) -> tuple[str, bytes] | Response:
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data") or "boundary=" not in ctype:
            self.problems.append(f"import body is {ctype or 'untyped'}, not multipart/form-data")
            return self._boom(415, "Unsupported Media Type", "Unsupported Media Type")
        message = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + request.body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                return part.get_filename() or "", payload if isinstance(payload, bytes) else b""
        self.problems.append("import body has no 'file' part")
        return self._boom(
            400,
            "Bad Request",
            "[request body.file]: expected value of type [Stream] but got [undefined]",
        )

    def _import(self, request: Request, space: str) -> Response:
        if request.headers.get("kbn-xsrf") is None:
            self.problems.append("import without kbn-xsrf")
            return self._boom(400, "Bad Request", "Request must contain a kbn-xsrf header.")
        if not self._authorized(request)[0]:
            return self._unauthorized(request)
        if len(request.body) > self.max_payload:
            return self._boom(
                413,
                "Request Entity Too Large",
                f"Payload content length greater than maximum allowed: {self.max_payload}",
            )
        part = self._file_part(request)
        if isinstance(part, Response):
            return part
        filename, data = part
        if not filename.endswith(".ndjson"):
            self.problems.append(f"import file named {filename!r}")
            return self._boom(
                400, "Bad Request", f"Invalid file extension {filename.rpartition('.')[2]}"
            )
        lines: list[JSON] = []
        for n, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                self.problems.append(f"line {n} is not JSON: {exc}")
                return self._boom(400, "Bad Request", f"Unexpected token in JSON at line {n}")
            if not isinstance(obj, dict):
                self.problems.append(f"line {n} is not an object")
                return self._boom(400, "Bad Request", f"line {n} is not an object")
            lines.append(obj)
        overwrite = request.query.get("overwrite") == "true"
        self.imports.append(
            ImportCall(
                space,
                dict(request.query),
                filename,
                lines,
                request.headers.get("authorization", ""),
            )
        )
        return Response(200, orjson.dumps(self._apply(space, lines, overwrite)))

    def _error_of(
        self, space: str, obj: JSON, in_file: set[tuple[str, str]], overwrite: bool
    ) -> JSON | None:
        oid, otype = obj.get("id"), obj.get("type")
        if oid in self.forced_errors:
            return self.forced_errors[oid]
        if otype not in TYPES:
            return {"type": "unsupported_type"}
        for key in ("coreMigrationVersion", "typeMigrationVersion"):
            claimed = obj.get(key)
            if isinstance(claimed, str) and _version(claimed) > _version(self.version):
                return {
                    "type": "unknown",
                    "statusCode": 400,
                    "message": f'Document "{oid}" has property "{otype}" which belongs to a more '
                    f"recent version of Kibana [{claimed}]. The last known version is "
                    f"[{self.version}]",
                }
        missing = [
            {"type": r.get("type"), "id": r.get("id")}
            for r in obj.get("references", [])
            if (r.get("type"), r.get("id")) not in in_file
            and (space, r.get("type"), r.get("id")) not in self.objects
        ]
        if missing:
            return {"type": "missing_references", "references": missing}
        if not overwrite and (space, otype, oid) in self.objects:
            return {"type": "conflict"}
        return None

    def _apply(self, space: str, lines: list[JSON], overwrite: bool) -> JSON:
        # as Kibana: objects of a type it does not support leave the import set before
        # references are checked, so what references them gets missing_references
        in_file = {
            (o.get("type"), o.get("id"))
            for o in lines
            if o.get("type") in TYPES
            and self.forced_errors.get(o.get("id"), {}).get("type") != "unsupported_type"
        }
        results, errors = [], []
        for obj in lines:
            title = obj.get("attributes", {}).get("title", "")
            meta = {"title": title, "icon": ICONS.get(obj.get("type", ""), "questionInCircle")}
            error = self._error_of(space, obj, in_file, overwrite)
            if error is not None:
                errors.append(
                    {
                        "id": obj.get("id"),
                        "type": obj.get("type"),
                        "title": title,
                        "meta": meta,
                        "error": error,
                    }
                )
                continue
            self.objects[(space, obj["type"], obj["id"])] = obj
            results.append({"id": obj["id"], "type": obj["type"], "meta": meta})
        answer: JSON = {
            "success": not errors,
            "successCount": len(results),
            "successResults": results,
        }
        if errors:
            answer["errors"] = errors
        return answer
