"""One small HTTP/1.1 server core on h11, behind the simulator, the monitoring endpoint and
the test emulators.

``HttpServer`` owns sockets, keep-alive, pipelining, limits and shutdown; ``Exchange`` is
its sans-IO half (h11 plus the limits h11 leaves to its user). Handlers see a complete
``Request`` and answer a ``Response`` (or, to break the protocol on purpose, a
``RawResponse``).
"""

from sorabeat.httpd.exchange import Exchange, Limits
from sorabeat.httpd.messages import ProtocolError, RawResponse, Request, Response
from sorabeat.httpd.server import ErrorResponder, Handler, HttpServer

__all__ = [
    "ErrorResponder",
    "Exchange",
    "Handler",
    "HttpServer",
    "Limits",
    "ProtocolError",
    "RawResponse",
    "Request",
    "Response",
]
