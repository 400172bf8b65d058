"""End-to-end run of kinde_client.py against a running gateway, with real faults injected into
its Kinde emulator through the emulator's control API.

Usage: python3 e2e.py ADDR API_KEY EMULATOR_BASE_URL   (e2e.sh prepares the venv and stubs first)

Scenarios, each checked on the client's output and on the emulator's request log and state:
  demo         create an organization and a user, stream the members: three lines, each with a
               request id that the emulator saw as `x-request-id`;
  429 burst    every createUser answered 429: the client waits the RetryInfo delay; the burst
               ends; the client's retry creates the user once;
  5xx on read  the members' list answers 5xx: the gateway says UNAVAILABLE, the client backs off
               and retries; the fault ends; the stream returns both members;
  lost answer  createUser is processed and its connection dropped: the gateway says UNKNOWN /
               OUTCOME_UNKNOWN; the client looks the user up instead of creating it again, and
               the emulator holds exactly one user with that email;
  lost create  createUser's connection is dropped before it is processed, twice: each time
               the client looks up, finds nobody, and creates once more only the first time,
               then fails in one line; the emulator saw two creates and holds no such user.
Faults are cleared and every client process is stopped at the end, whatever happens. Prints one line per scenario, or one line
saying what failed; exit status 1 on failure. The faults apply to every caller of that
emulator: run this against a gateway that no other test uses at the same time.
"""

import json
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

CLIENT = Path(__file__).resolve().parent / "kinde_client.py"
NAME = "python client e2e"
RID = r"\(request id ([0-9A-Za-z._-]+)\)"
# A line saying the client will try again (RESOURCE_EXHAUSTED or UNAVAILABLE).
RETRY_LINE = re.compile(r"^[a-z ]+: [A-Z_]+( [A-Z_]+)?, (waiting|retrying in) [0-9.]+s ")
# Bounds: generous, so a slow machine does not fail the run; they only stop a hang.
CLIENT_TIMEOUT = 90.0
LINE_TIMEOUT = 60.0


class Failed(Exception):
    """A scenario failed; the message is the one line to print."""


class Emulator:
    """The emulator's control API (`/_emulator/...`)."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def faults(self, faults: dict) -> None:
        self._call("PUT", "/_emulator/faults", faults)

    def clear_faults(self) -> None:
        self._call("PUT", "/_emulator/faults", {})

    def users_with_email(self, email: str) -> list:
        state = self._call("GET", "/_emulator/state")
        return [u for u in state["users"] if (u.get("email") or "").lower() == email.lower()]

    def requests_with_id(self, request_id: str) -> list:
        return [
            r
            for r in self._call("GET", "/_emulator/requests")
            if r.get("headers", {}).get("x-request-id") == request_id
        ]


class RunningClient:
    """A client process whose output lines are read as they come."""

    def __init__(self, base: list, args: list):
        self.process = subprocess.Popen(
            [*base, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout: float = LINE_TIMEOUT) -> re.Match:
        """The first new line matching `pattern`; fails if the client ends or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"no line matching {pattern!r} within {timeout:.0f}s: {self.output()}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise Failed(f"the client ended before printing {pattern!r}: {self.output()}")
            self.lines.append(line)
            match = re.search(pattern, line)
            if match:
                return match

    def stop(self) -> None:
        """Kills the process if it still runs (a scenario failed while waiting on it)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def finish(self, timeout: float = CLIENT_TIMEOUT) -> tuple[int, list[str]]:
        """Waits for the end; returns the exit status and every line."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise Failed(f"the client did not finish within {timeout:.0f}s: {self.output()}")
        while (line := self._queue.get(timeout=10)) is not None:
            self.lines.append(line)
        return code, self.lines

    def output(self) -> str:
        return " | ".join(self.lines) or "(no output)"


def expect_lines(lines: list[str], patterns: list[str]) -> list[re.Match]:
    """Matches the lines that are not retry notices, in order, against `patterns`."""
    essential = [line for line in lines if not RETRY_LINE.search(line)]
    if len(essential) != len(patterns):
        raise Failed(f"expected {len(patterns)} result lines, got {len(essential)}: {' | '.join(lines)}")
    matches = []
    for line, pattern in zip(essential, patterns):
        match = re.fullmatch(pattern, line)
        if not match:
            raise Failed(f"line {line!r} does not match {pattern!r}")
        matches.append(match)
    return matches


def assert_waited(failed: list, retried: list, seconds: str) -> None:
    """Checks that the retry reached the emulator at least the announced wait after the failed
    attempt (a lower bound only: a wait is never shorter, however slow the machine)."""
    if not retried:
        raise Failed("the retried call never reached the emulator")
    gap_ms = retried[0]["timestamp_ms"] - failed[-1]["timestamp_ms"]
    if gap_ms < 0.9 * float(seconds) * 1000:
        raise Failed(f"the client announced a {seconds}s wait but retried after {gap_ms} ms")


def succeed(client: RunningClient) -> list[str]:
    code, lines = client.finish()
    if code != 0:
        last = lines[-1] if lines else "(no output)"
        raise Failed(f"the client exited with {code}: {last}")
    return lines


def fail_once(client: RunningClient) -> list[str]:
    code, lines = client.finish()
    if code != 1:
        raise Failed(f"the client exited with {code}, not 1: {client.output()}")
    return lines


def main(addr: str, key: str, emulator_url: str) -> int:
    emulator = Emulator(emulator_url)
    base = [sys.executable, str(CLIENT), "--addr", addr, "--key", key]
    tag = uuid.uuid4().hex[:8]
    email = lambda n: f"py-e2e-{tag}-{n}@example.com"  # noqa: E731

    clients: list[RunningClient] = []

    def start(*args: str) -> RunningClient:
        client = RunningClient(base, list(args))
        clients.append(client)
        return client

    def create_under(fault: dict, finish, n: int) -> list[str]:
        """Creates user `n` while `fault` targets createUser; the fault is cleared once the
        client has ended. `finish` waits for the end and checks the exit status."""
        emulator.faults({"target": {"operation": "createUser"}, **fault})
        client = start("create-user", "--org", org, "--email", email(n))
        try:
            return finish(client)
        finally:
            emulator.clear_faults()

    try:
        emulator.clear_faults()

        # Demo: the whole walk-through, no fault.
        lines = succeed(start("demo", "--email", email(1)))
        org_line, user_line, stream_line = expect_lines(
            lines,
            [
                rf'create organization: created "[^"]+" as (org_\w+) {RID}',
                rf"create user: created {re.escape(email(1))} as (kp_\w+) in (org_\w+) {RID}",
                rf"stream organization users: 1 member\(s\) of (org_\w+): {re.escape(email(1))} {RID}",
            ],
        )
        org = org_line.group(1)
        if user_line.group(2) != org or stream_line.group(1) != org:
            raise Failed(f"the steps used different organizations: {' | '.join(lines)}")
        ids = {org_line.group(2), user_line.group(3), stream_line.group(2)}
        if len(ids) != 3:
            raise Failed(f"the three steps did not have three request ids: {ids}")
        seen = emulator.requests_with_id(user_line.group(3))
        if [(r["method"], r["path"], r["status"]) for r in seen] != [("POST", "/api/v1/user", 200)]:
            raise Failed(f"the emulator did not see the create with its request id: {seen}")
        print(f"{NAME}: demo ok ({org}, 3 steps, request ids seen by the emulator)", flush=True)

        # A 429 burst on createUser: wait the RetryInfo delay, then succeed once the burst ends.
        emulator.faults({"target": {"operation": "createUser"}, "rate_limited_ratio": 1.0})
        client = start("create-user", "--org", org, "--email", email(2))
        waited = client.wait_for(
            rf"^create user: RESOURCE_EXHAUSTED RATE_LIMITED, waiting ([0-9.]+)s as RetryInfo "
            rf"asks \(attempt \d+ of \d+\) {RID}$"
        )
        emulator.clear_faults()
        throttled = emulator.requests_with_id(waited.group(2))
        if not throttled or any(r["status"] != 429 for r in throttled):
            raise Failed(f"the throttled create did not meet 429s at the emulator: {throttled}")
        (created,) = expect_lines(
            succeed(client),
            [rf"create user: created {re.escape(email(2))} as (kp_\w+) in {org} {RID}"],
        )
        # The emulator's 429 says `RateLimit-Reset: 1`; the gateway passes it on as RetryInfo.
        if float(waited.group(1)) < 0.5:
            raise Failed(f"the client waited {waited.group(1)}s, not the RetryInfo delay")
        assert_waited(throttled, emulator.requests_with_id(created.group(2)), waited.group(1))
        found = emulator.users_with_email(email(2))
        if [u["id"] for u in found] != [created.group(1)]:
            raise Failed(f"after the 429 burst the emulator holds {found} for {email(2)}")
        print(
            f"{NAME}: 429 burst ok (waited {waited.group(1)}s as RetryInfo asked, "
            f"{len(throttled)} x 429, then created once)",
            flush=True,
        )

        # 5xx on an idempotent read: UNAVAILABLE, retried with backoff until the fault ends.
        emulator.faults({"target": {"operation": "GetOrganizationUsers"}, "error_ratio": 1.0})
        client = start("stream-users", "--org", org)
        backoff = client.wait_for(
            rf"^stream organization users: UNAVAILABLE KINDE_UNAVAILABLE, retrying in ([0-9.]+)s "
            rf"\(backoff\) \(attempt \d+ of \d+\) {RID}$"
        )
        emulator.clear_faults()
        failing = emulator.requests_with_id(backoff.group(2))
        if not failing or any(r["status"] < 500 for r in failing):
            raise Failed(f"the failed read did not meet 5xx at the emulator: {failing}")
        (members,) = expect_lines(
            succeed(client),
            [rf"stream organization users: 2 member\(s\) of {org}: ([^ ]+), ([^ ]+) {RID}"],
        )
        assert_waited(failing, emulator.requests_with_id(members.group(3)), backoff.group(1))
        if {members.group(1), members.group(2)} != {email(1), email(2)}:
            raise Failed(f"the stream returned {members.group(0)!r}, not the two users")
        print(
            f"{NAME}: 5xx on a read ok (UNAVAILABLE after {len(failing)} x 5xx at the emulator, "
            f"retried in {backoff.group(1)}s, then 2 members)",
            flush=True,
        )

        # A create whose answer is lost: UNKNOWN / OUTCOME_UNKNOWN, looked up, never repeated.
        lines = create_under({"close_after_ratio": 1.0}, succeed, 3)
        unknown, looked_up, resolved = expect_lines(
            lines,
            [
                rf"create user: UNKNOWN OUTCOME_UNKNOWN, the user may exist: looking it up by "
                rf"email instead of creating it again {RID}",
                rf"look up user: 1 user\(s\) with email {re.escape(email(3))}: (kp_\w+) {RID}",
                rf"create user: the create had happened: {re.escape(email(3))} is (kp_\w+) {RID}",
            ],
        )
        user_id = looked_up.group(1)
        if resolved.group(1) != user_id or resolved.group(2) != unknown.group(1):
            raise Failed(f"the lookup and the outcome disagree: {' | '.join(lines)}")
        creates = emulator.requests_with_id(unknown.group(1))
        if [(r["method"], r["path"], r["connection_closed"]) for r in creates] != [
            ("POST", "/api/v1/user", True)
        ]:
            raise Failed(f"the create whose answer was lost reached the emulator as {creates}, not once")
        found = emulator.users_with_email(email(3))
        if [u["id"] for u in found] != [user_id]:
            raise Failed(f"the emulator holds {len(found)} users with {email(3)}, not exactly one")
        print(
            f"{NAME}: lost answer ok (OUTCOME_UNKNOWN, found {user_id} by email, "
            "exactly one user at the emulator)",
            flush=True,
        )

        # A create that never happens: looked up, created once more, then given up on.
        lines = create_under({"close_before_ratio": 1.0}, fail_once, 4)
        unknown = (
            rf"create user: UNKNOWN OUTCOME_UNKNOWN, the user may exist: looking it up by "
            rf"email instead of creating it again {RID}"
        )
        nobody = rf"look up user: 0 user\(s\) with email {re.escape(email(4))}: none {RID}"
        first, _, again, second, _, gave_up = expect_lines(
            lines,
            [
                unknown,
                nobody,
                rf"create user: the create had not happened: creating the user once more {RID}",
                unknown,
                nobody,
                rf"create user: failed: the create had not happened, and the outcome stayed "
                rf"unknown 2 times for {re.escape(email(4))} {RID}",
            ],
        )
        if again.group(1) != first.group(1) or gave_up.group(1) != second.group(1):
            raise Failed(f"the outcome lines name the wrong requests: {' | '.join(lines)}")
        for create in (first, second):
            seen = emulator.requests_with_id(create.group(1))
            if [(r["method"], r["path"]) for r in seen] != [("POST", "/api/v1/user")]:
                raise Failed(f"create {create.group(1)} reached the emulator as {seen}, not once")
        if emulator.users_with_email(email(4)):
            raise Failed(f"the emulator holds a user with {email(4)} though no create happened")
        print(
            f"{NAME}: lost create ok (OUTCOME_UNKNOWN twice, nobody found, created once more "
            "as announced, then failed in one line)",
            flush=True,
        )
    except Failed as failure:
        print(f"{NAME}: FAILED: {failure}", file=sys.stderr, flush=True)
        return 1
    except OSError as error:
        print(f"{NAME}: FAILED: cannot reach the emulator at {emulator_url}: {error}", file=sys.stderr)
        return 1
    finally:
        for client in clients:
            client.stop()
        try:
            emulator.clear_faults()
        except OSError:
            pass
    print(f"{NAME}: all 5 scenarios passed", flush=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: e2e.py ADDR API_KEY EMULATOR_BASE_URL", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(*sys.argv[1:]))
