#!/usr/bin/env python3
"""A fault-injecting static HTTP server for httpcloop's host tests.

httpcloop's fetch engine must survive every way a real HTTP server or network
can misbehave: error statuses, resets, short bodies, flipped bytes, slow or
stalled transfers, 200 instead of 206, wrong Content-Range. nginx serves files
correctly, so tests use this server instead: it serves a directory like a plain
static server and, driven by rules that a test sets at start-up or changes at
run time through a small control API, breaks chosen responses in chosen ways.

Python 3.11 standard library only, so it runs on any Debian 12 machine and
inside the test VM without installing anything.

Usage:
  fault_server.py --root DIR [--port N] [--bind 127.0.0.1] [--access-log FILE]
                  [--port-file FILE] [--rules FILE.json] [--verbose]
  fault_server.py ctl (--port N | --port-file FILE) COMMAND [ARG]

See docs/testing.md for the rule format and the control API.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, BinaryIO

# Only loopback: these servers hand out arbitrary bytes and broken responses,
# and the test machines are shared, so nothing outside the host may reach them.
ALLOWED_BIND = "127.0.0.1"
CONTROL_PREFIX = "/__control/"
# Every wait the server does on a client's behalf is capped, so a bad rule can
# slow a test down but never hang it.
MAX_WAIT_S = 120.0
CHUNK = 64 * 1024
MAX_CONTROL_BODY = 1 << 20
# An idle keep-alive connection is dropped after this long, so threads of
# clients that vanished without closing do not pile up.
IDLE_TIMEOUT_S = 60.0

# Actions that take no argument, and those that are an object with one key.
BARE_ACTIONS = ("reset", "corrupt", "ignore_range", "wrong_range")
ARG_ACTIONS = ("status", "truncate", "trickle", "stall", "redirect", "delay_ms")
# These only make sense for a Range request, so only Range requests match them:
# a rule "ignore_range, count 1" then hits the next Range request, whatever
# whole-file requests come in between.
RANGE_ONLY_ACTIONS = ("ignore_range", "wrong_range")


class RuleError(ValueError):
    """A rule (from a file or the control API) that does not follow the format."""


@dataclass(frozen=True)
class Action:
    """What a rule does to a response: `kind` plus its argument, if any."""

    kind: str
    arg: int | float | str | None = None

    @property
    def number(self) -> float:
        """The numeric argument (status, bytes, bytes/s, seconds or ms)."""
        if isinstance(self.arg, str) or self.arg is None:
            raise TypeError(f"action {self.kind} has no numeric argument")
        return self.arg

    @property
    def name(self) -> str:
        """The token written to the access log and counted in stats (no spaces)."""
        if self.kind == "none":
            return "-"
        if self.arg is None or self.kind == "redirect":
            return self.kind
        arg = self.arg
        if isinstance(arg, float) and arg.is_integer():
            arg = int(arg)
        return f"{self.kind}:{arg}"


# The action of a request no rule matched: keeps the code free of None checks.
NO_FAULT = Action("none")


@dataclass
class Rule:
    """One rule with its live counters; `after` and `count` go down as it matches."""

    pattern: re.Pattern[str]
    action: Action
    count: int | None
    after: int
    spec: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        """The rule as given plus what is left of it, for GET /__control/rules."""
        return {**self.spec, "remaining": self.count, "skip_left": self.after}


def _number(value: Any, what: str, *, integer: bool, minimum: float) -> int | float:
    """Check a JSON number; bools are ints in Python but never what a rule means."""
    ok_types = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, ok_types):
        kind = "an integer" if integer else "a number"
        raise RuleError(f"{what} must be {kind}, got {value!r}")
    number: int | float = value
    if number < minimum:
        raise RuleError(f"{what} must be >= {minimum:g}, got {number!r}")
    return number


def parse_action(raw: Any) -> Action:
    """Turn the JSON form of an action into an Action, rejecting anything unknown."""
    if isinstance(raw, str):
        if raw not in BARE_ACTIONS:
            raise RuleError(f"unknown action {raw!r}")
        return Action(raw)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise RuleError(f"action must be one of {BARE_ACTIONS} or an object with one key, got {raw!r}")
    ((kind, value),) = raw.items()
    if kind == "status":
        status = _number(value, "status", integer=True, minimum=200)
        if status > 599:
            raise RuleError(f"status must be 200..599, got {status}")
        return Action(kind, status)
    if kind == "truncate":
        return Action(kind, _number(value, "truncate", integer=True, minimum=0))
    if kind == "trickle":
        return Action(kind, _number(value, "trickle", integer=True, minimum=1))
    if kind in ("stall", "delay_ms"):
        return Action(kind, _number(value, kind, integer=False, minimum=0))
    if kind == "redirect":
        if not isinstance(value, str) or not value or any(c in value for c in "\r\n\0 "):
            raise RuleError(f"redirect needs a non-empty URL or path without spaces, got {value!r}")
        return Action(kind, value)
    raise RuleError(f"unknown action {kind!r}")


def parse_rule(raw: Any) -> Rule:
    """Validate one rule object; unknown keys are errors so typos do not pass silently."""
    if not isinstance(raw, dict):
        raise RuleError(f"a rule must be an object, got {raw!r}")
    unknown = set(raw) - {"match", "action", "count", "after"}
    if unknown:
        raise RuleError(f"unknown rule keys {sorted(unknown)}")
    if not isinstance(raw.get("match"), str):
        raise RuleError("a rule needs 'match', a regular expression string")
    try:
        pattern = re.compile(raw["match"])
    except re.error as exc:
        raise RuleError(f"bad regex {raw['match']!r}: {exc}") from exc
    if "action" not in raw:
        raise RuleError("a rule needs 'action'")
    action = parse_action(raw["action"])
    count = raw.get("count")
    if count is not None:
        count = int(_number(count, "count", integer=True, minimum=0))
    after = int(_number(raw.get("after", 0) or 0, "after", integer=True, minimum=0))
    return Rule(pattern, action, count, after, dict(raw))


def parse_rules(raw: Any) -> list[Rule]:
    """Validate a whole rule list; all or nothing, so a bad list changes nothing."""
    if not isinstance(raw, list):
        raise RuleError("rules must be a JSON list")
    return [parse_rule(item) for item in raw]


class RuleSet:
    """The live rules, shared by all request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []

    def replace(self, rules: list[Rule]) -> None:
        with self._lock:
            self._rules = list(rules)

    def add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def pick(self, path: str, is_range: bool) -> Action | None:
        """The action for this request, consuming the rules' counters.

        Rules are tried in order. A rule whose regex matches and is not spent
        either still has requests to skip (`after`): it counts this one and
        matching goes on with the next rule; or it applies: its count goes down
        and it wins. Range-only actions ignore requests without a Range header.
        """
        with self._lock:
            for rule in self._rules:
                if rule.count == 0 or not rule.pattern.search(path):
                    continue
                if rule.action.kind in RANGE_ONLY_ACTIONS and not is_range:
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.count is not None:
                    rule.count -= 1
                return rule.action
        return None


@dataclass
class Record:
    """What happened to one data request, for the access log and the stats."""

    method: str
    path: str
    range: str
    fault: str
    status: str = "-"
    sent: int = 0
    done: bool = False

    def line(self) -> str:
        return f"{self.method} {self.path} {self.range} {self.status} {self.sent} {self.fault}\n"


@dataclass
class Stats:
    """Counters for GET /__control/stats; guarded by the server's lock."""

    requests: int = 0
    bytes_sent: int = 0
    faults_applied: int = 0
    per_path: dict[str, int] = field(default_factory=dict)
    per_status: dict[str, int] = field(default_factory=dict)
    faults: dict[str, int] = field(default_factory=dict)

    def add(self, rec: Record) -> None:
        self.requests += 1
        self.bytes_sent += rec.sent
        self.per_path[rec.path] = self.per_path.get(rec.path, 0) + 1
        self.per_status[rec.status] = self.per_status.get(rec.status, 0) + 1
        if rec.fault != "-":
            self.faults_applied += 1
            self.faults[rec.fault] = self.faults.get(rec.fault, 0) + 1


class FaultServer(ThreadingHTTPServer):
    """ThreadingHTTPServer plus the state every handler thread shares."""

    daemon_threads = True  # exit promptly on SIGTERM even with stalled responses
    request_queue_size = 128  # concurrency tests open many connections at once

    def __init__(self, port: int, root: str, access_log: BinaryIO | None, verbose: bool) -> None:
        super().__init__((ALLOWED_BIND, port), FaultHandler)
        self.root = os.path.realpath(root)
        self.rules = RuleSet()
        self.stopping = threading.Event()
        self.verbose = verbose
        self._access_log = access_log
        self._lock = threading.Lock()
        self._stats = Stats()

    def record(self, rec: Record) -> None:
        """Count a finished data request and log it, once, flushed at once."""
        if rec.done:
            return
        rec.done = True
        with self._lock:
            self._stats.add(rec)
            if self._access_log is not None:
                self._access_log.write(rec.line().encode("utf-8", "backslashreplace"))
                self._access_log.flush()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            s = self._stats
            return {
                "requests": s.requests,
                "bytes_sent": s.bytes_sent,
                "faults_applied": s.faults_applied,
                "per_path": dict(s.per_path),
                "per_status": dict(s.per_status),
                "faults": dict(s.faults),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = Stats()

    def wait(self, seconds: float) -> None:
        """Sleep for a fault, capped, and cut short when the server shuts down."""
        self.stopping.wait(min(max(seconds, 0.0), MAX_WAIT_S))

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients vanishing mid-response is normal here; only report real bugs."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


UNSATISFIABLE = "unsatisfiable"
# One range, ASCII digits only (str.isdigit would let "²" through to int()).
RANGE_RE = re.compile(r"\s*bytes\s*=\s*(?P<first>[0-9]*)\s*-\s*(?P<last>[0-9]*)\s*", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A single `bytes=` range as (first, last) inclusive, UNSATISFIABLE, or None.

    None means "send the whole file with 200": no header, a header this server
    does not parse (RFC 9110 says ignore it) or several ranges, which we answer
    with the whole file rather than multipart/byteranges.
    """
    if header is None:
        return None
    m = RANGE_RE.fullmatch(header)
    if m is None or not (m["first"] or m["last"]):
        return None
    first_s, last_s = m["first"], m["last"]
    if not first_s:  # suffix: the last N bytes
        length = int(last_s)
        if length == 0 or size == 0:
            return UNSATISFIABLE
        return (max(0, size - length), size - 1)
    first = int(first_s)
    if last_s and int(last_s) < first:
        return None  # syntactically invalid: ignored, like a server must
    if first >= size:
        return UNSATISFIABLE
    last = int(last_s) if last_s else size - 1
    return (first, min(last, size - 1))


def wrong_range(first: int, last: int, size: int) -> tuple[int, int]:
    """Another range of the same file, as a buggy server might send instead.

    Same length when the file has room for it (the next or the previous span),
    else one byte further on and one byte shorter, so the Content-Range always
    differs from what was asked for (except for a one-byte file).
    """
    length = last - first + 1
    if last + length < size:
        return (first + length, last + length)
    if first - length >= 0:
        return (first - length, last - length)
    if length > 1:
        return (first + 1, last)
    return (first, last)


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


class FaultHandler(BaseHTTPRequestHandler):
    """Serves files under the root, applying at most one fault per request."""

    protocol_version = "HTTP/1.1"
    server: FaultServer
    timeout = IDLE_TIMEOUT_S

    # --- plumbing -----------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        """Quiet by default: the access log is the record tests read."""
        if self.server.verbose:
            super().log_message(format, *args)

    def url_path(self) -> str:
        """The path part of the request target, still percent-encoded."""
        return urllib.parse.urlsplit(self.path).path or "/"

    def send_plain(self, status: int, body: bytes, rec: Record | None = None,
                   headers: dict[str, str] | None = None, content_type: str = "text/plain") -> None:
        """A complete small response with a correct Content-Length (keep-alive safe)."""
        head_only = self.command == "HEAD"
        if status in (204, 304):
            body = b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if rec is not None:
            rec.status = str(status)
        if not head_only and body:
            self.wfile.write(body)
            if rec is not None:
                rec.sent = len(body)

    def close_abruptly(self) -> None:
        """Drop the connection with an RST: SO_LINGER 0, then close the real fd.

        The request's rfile holds a reference to the socket, and Python only
        closes the descriptor when the last reference goes, so close it first.
        """
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    def close_after_short_body(self) -> None:
        """End a response early with a FIN, so the client sees a short body."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # --- methods ------------------------------------------------------------

    def do_GET(self) -> None:
        self.dispatch()

    def do_HEAD(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        if self.url_path().startswith(CONTROL_PREFIX):
            self.handle_control()
            return
        try:
            self.read_body()  # so the connection stays usable for the next request
        except RuleError:
            pass  # read_body marked the connection for closing
        self.send_plain(405, b"method not allowed\n", headers={"Allow": "GET, HEAD"})

    def dispatch(self) -> None:
        if self.url_path().startswith(CONTROL_PREFIX):
            self.handle_control()
        else:
            self.handle_data()

    # --- control API --------------------------------------------------------

    def read_body(self) -> bytes:
        """The request body by Content-Length (no chunked uploads), capped."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_CONTROL_BODY:
            self.close_connection = True
            raise RuleError("bad or too large Content-Length")
        return self.rfile.read(length) if length else b""

    def reply_json(self, status: int, obj: Any) -> None:
        self.send_plain(status, (json.dumps(obj, sort_keys=True) + "\n").encode(),
                        content_type="application/json")

    def handle_control(self) -> None:
        """The control API: never faulted, never in the access log or the stats."""
        name = self.url_path()[len(CONTROL_PREFIX):].strip("/")
        try:
            body = self.read_body() if self.command == "POST" else b""
            result = self.control(name, body)
        except RuleError as exc:
            self.reply_json(400, {"error": str(exc)})
            return
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.reply_json(400, {"error": f"bad JSON: {exc}"})
            return
        if result is None:
            self.reply_json(404, {"error": f"no control endpoint {self.command} {name!r}"})
        else:
            self.reply_json(200, result)

    def control(self, name: str, body: bytes) -> Any:
        """Run one control command; None when there is no such endpoint."""
        srv = self.server
        post = self.command == "POST"
        if post and name == "rules":
            srv.rules.replace(parse_rules(json.loads(body)))
        elif post and name == "add":
            srv.rules.add(parse_rule(json.loads(body)))
        elif post and name == "clear":
            srv.rules.replace([])
        elif post and name == "reset-stats":
            srv.reset_stats()
        elif not post and name == "stats":
            return srv.stats()
        elif not post and name == "rules":
            return {"rules": srv.rules.describe()}
        else:
            return None
        return {"ok": True, "rules": len(srv.rules.describe())}

    # --- data requests ------------------------------------------------------

    def handle_data(self) -> None:
        path = self.url_path()
        range_header = self.headers.get("Range")
        action = self.server.rules.pick(path, range_header is not None) or NO_FAULT
        rec = Record(
            method=self.command,
            path=path,
            range=re.sub(r"\s+", "", range_header) if range_header else "-",
            fault=action.name,
        )
        try:
            self.respond(path, range_header, action, rec)
        except (ConnectionError, TimeoutError, OSError):
            # The client went away (or timed out) mid-response: not our problem,
            # but this connection cannot carry another response.
            self.close_connection = True
        finally:
            self.server.record(rec)

    def respond(self, path: str, range_header: str | None, action: Action, rec: Record) -> None:
        """Answer one data request, applying `action` (NO_FAULT = behave)."""
        kind = action.kind
        if kind == "delay_ms":
            self.server.wait(action.number / 1000.0)
        elif kind == "reset":
            self.server.record(rec)  # before the RST, so a test that sees it sees the log line
            self.close_abruptly()
            return
        elif kind == "status":
            status = int(action.number)
            self.send_plain(status, f"injected fault: status {status}\n".encode(), rec)
            return
        elif kind == "redirect":
            self.send_plain(302, b"redirected\n", rec, {"Location": str(action.arg)})
            return

        file_path, error = self.resolve(path)
        f = None
        if file_path is not None:
            try:
                f = open(file_path, "rb")
            except OSError:
                error = 403
        if f is None:
            self.send_plain(error, f"{error} {'forbidden' if error == 403 else 'not found'}\n".encode(), rec)
            return
        with f:
            self.send_file(f, os.fstat(f.fileno()), range_header, action, rec)

    def resolve(self, path: str) -> tuple[str | None, int]:
        """The real file under the root for a URL path, or (None, 403/404).

        `..` segments are refused outright; the real path (symlinks resolved)
        must still be inside the root; directories are not listed.
        """
        decoded = urllib.parse.unquote(path)
        if "\0" in decoded or "\\" in decoded:
            return None, 403
        parts = [p for p in decoded.split("/") if p not in ("", ".")]
        if ".." in parts:
            return None, 403
        real = os.path.realpath(os.path.join(self.server.root, *parts))
        if os.path.commonpath([self.server.root, real]) != self.server.root:
            return None, 403
        if not os.path.isfile(real):
            return None, 404
        return real, 0

    def send_file(self, f: BinaryIO, st: os.stat_result, range_header: str | None,
                  action: Action, rec: Record) -> None:
        """Headers and body for a file, with range handling and body faults."""
        size = st.st_size
        kind = action.kind
        rng = None if kind == "ignore_range" else parse_range(range_header, size)
        if rng == UNSATISFIABLE:
            self.send_plain(416, b"range not satisfiable\n", rec, {"Content-Range": f"bytes */{size}"})
            return
        if isinstance(rng, tuple) and kind == "wrong_range":
            rng = wrong_range(rng[0], rng[1], size)
        first, last = rng if isinstance(rng, tuple) else (0, size - 1)
        length = last - first + 1
        status = 206 if isinstance(rng, tuple) else 200

        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", f'"{size:x}-{st.st_mtime_ns:x}"')
        self.send_header("Last-Modified", http_date(st.st_mtime))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        rec.status = str(status)

        if kind == "stall":
            self.server.record(rec)
            self.server.wait(action.number)
            self.close_after_short_body()
            return
        if self.command == "HEAD":
            return
        f.seek(first)
        self.send_body(f, length, action, rec)

    def send_body(self, f: BinaryIO, length: int, action: Action, rec: Record) -> None:
        """Stream `length` bytes from f, truncated, corrupted or paced as the action says."""
        kind = action.kind
        limit = min(length, int(action.number)) if kind == "truncate" else length
        flip_at = length // 2 if kind == "corrupt" else -1
        rate = int(action.number) if kind == "trickle" else 0
        chunk_size = max(1, min(CHUNK, rate // 20)) if rate else CHUNK
        start = time.monotonic()

        while rec.sent < limit:
            if rate:
                # Pace so that after each chunk at most rate*elapsed bytes are out.
                due = start + (rec.sent + min(chunk_size, limit - rec.sent)) / rate
                if due - start > MAX_WAIT_S:
                    break
                self.server.wait(due - time.monotonic())
                if self.server.stopping.is_set():
                    break
            data = f.read(min(chunk_size, limit - rec.sent))
            if not data:
                break  # the file shrank under us; the client sees a short body
            if rec.sent <= flip_at < rec.sent + len(data):
                buf = bytearray(data)
                buf[flip_at - rec.sent] ^= 0xFF
                data = bytes(buf)
            self.wfile.write(data)
            rec.sent += len(data)

        if rec.sent < length:
            self.server.record(rec)
            self.close_after_short_body()


# --- server entry point ------------------------------------------------------

def write_port_file(path: str, port: int) -> None:
    """Write atomically, so a test polling for the file never reads half a number."""
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="ascii") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)


def load_rules_file(path: str) -> list[Rule]:
    with open(path, encoding="utf-8") as f:
        return parse_rules(json.load(f))


def serve_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fault_server.py",
        description="Fault-injecting static HTTP server for tests (loopback only). "
        "Subcommand 'ctl' drives a running server: fault_server.py ctl --help")
    parser.add_argument("--root", required=True, help="directory to serve")
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one (default)")
    parser.add_argument("--bind", default=ALLOWED_BIND, help="must be 127.0.0.1")
    parser.add_argument("--access-log", help="append one line per data request to this file")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--rules", help="JSON file with the initial rule list")
    parser.add_argument("--verbose", action="store_true", help="log requests to stderr too")
    args = parser.parse_args(argv)

    if args.bind != ALLOWED_BIND:
        print(f"fault_server: refusing to bind {args.bind!r}: only {ALLOWED_BIND} is allowed",
              file=sys.stderr)
        return 2
    if not os.path.isdir(args.root):
        print(f"fault_server: --root {args.root!r} is not a directory", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"fault_server: bad --port {args.port}", file=sys.stderr)
        return 2
    try:
        rules = load_rules_file(args.rules) if args.rules else []
    except (OSError, ValueError) as exc:
        print(f"fault_server: --rules {args.rules}: {exc}", file=sys.stderr)
        return 2

    access_log = open(args.access_log, "ab") if args.access_log else None
    try:
        server = FaultServer(args.port, args.root, access_log, args.verbose)
    except OSError as exc:
        print(f"fault_server: cannot listen on {ALLOWED_BIND}:{args.port}: {exc}", file=sys.stderr)
        return 1
    server.rules.replace(rules)
    return run(server, args.port_file)


def run(server: FaultServer, port_file: str | None) -> int:
    """Serve until SIGTERM/SIGINT; handler threads are daemons, so exit is prompt."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="serve", daemon=True)
    thread.start()
    port = server.server_address[1]
    print(f"listening on {ALLOWED_BIND}:{port}", flush=True)
    if port_file:
        write_port_file(port_file, port)
    while not stop.wait(0.5):
        if not thread.is_alive():
            return 1
    server.stopping.set()  # wakes stalled, delayed and trickling responses
    server.shutdown()
    server.server_close()
    return 0


# --- ctl: drive a running server from shell tests ---------------------------

CTL_COMMANDS = {
    # name: (method, endpoint, takes a JSON argument)
    "rules": ("POST", "rules", True),
    "add": ("POST", "add", True),
    "clear": ("POST", "clear", False),
    "reset-stats": ("POST", "reset-stats", False),
    "stats": ("GET", "stats", False),
    "show": ("GET", "rules", False),
}


def ctl_request(port: int, method: str, endpoint: str, body: bytes | None, timeout: float) -> tuple[int, bytes]:
    """One control call; proxies are bypassed, since *_proxy variables would break loopback."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    req = urllib.request.Request(f"http://{ALLOWED_BIND}:{port}{CONTROL_PREFIX}{endpoint}",
                                 data=body, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with opener.open(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def ctl_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fault_server.py ctl",
        description="Drive a running fault_server through its control API.",
        epilog="commands: rules JSON|@FILE, add JSON|@FILE, clear, reset-stats, stats, show, "
        "wait N (until N data requests are counted)")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--port", type=int)
    where.add_argument("--port-file")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per call (and for wait)")
    parser.add_argument("command", choices=[*CTL_COMMANDS, "wait"])
    parser.add_argument("arg", nargs="?")
    args = parser.parse_args(argv)

    port = args.port
    if port is None:
        with open(args.port_file, encoding="ascii") as f:
            port = int(f.read().strip())
    try:
        if args.command == "wait":
            return ctl_wait(port, args.arg, args.timeout)
        method, endpoint, takes_arg = CTL_COMMANDS[args.command]
        if takes_arg != (args.arg is not None):
            parser.error(f"{args.command} {'needs a JSON argument' if takes_arg else 'takes no argument'}")
        body = ctl_payload(args.arg) if takes_arg else (b"" if method == "POST" else None)
        status, reply = ctl_request(port, method, endpoint, body, args.timeout)
    except (OSError, ValueError) as exc:
        print(f"fault_server ctl: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(reply.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


def ctl_payload(arg: str) -> bytes:
    """The JSON argument, inline or from @FILE; checked here for a clearer error."""
    text = arg
    if arg.startswith("@"):
        with open(arg[1:], encoding="utf-8") as f:
            text = f.read()
    json.loads(text)
    return text.encode()


def ctl_wait(port: int, arg: str | None, timeout: float) -> int:
    """Poll stats until at least N data requests are counted, bounded by timeout.

    A data request is counted when its response is finished, which can be a
    moment after the client has its last byte; tests that then read the
    access log or the stats wait here first.
    """
    if arg is None or not arg.isdigit():
        print("fault_server ctl: wait needs a request count", file=sys.stderr)
        return 2
    want = int(arg)
    deadline = time.monotonic() + timeout
    while True:
        _, reply = ctl_request(port, "GET", "stats", None, timeout)
        seen = json.loads(reply)["requests"]
        if seen >= want:
            print(seen)
            return 0
        if time.monotonic() >= deadline:
            print(f"fault_server ctl: {seen} requests after {timeout:g}s, wanted {want}", file=sys.stderr)
            return 1
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    if argv[:1] == ["ctl"]:
        return ctl_main(argv[1:])
    return serve_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
