"""Call kinde-gateway from Python: create an organization and a user, stream its members.

Usage: python3 kinde_client.py [--addr HOST:PORT] [--key API_KEY] [COMMAND ...]

Commands (default `demo`):
  demo                        create an organization, a user in it, then stream its members
  create-org NAME             create an organization and print its code
  create-user --org CODE --email EMAIL [--given NAME] [--family NAME]
  find-user --email EMAIL     look users up by email
  stream-users --org CODE     stream the members of an organization

The address and key default to GATEWAY_ADDRESS and GATEWAY_API_KEY, else to what
`kinde-gateway --emulator` uses (127.0.0.1:50051 and its loopback-only demo key).

Each step prints one line ending with the gateway's request id (`x-request-id`). Errors are
handled as the gateway's status details ask:
  RESOURCE_EXHAUSTED with RetryInfo  wait the RetryInfo delay, then try again;
  UNAVAILABLE                        nothing reached Kinde (or the call is a read): retry with
                                     exponential backoff and jitter, at least the RetryInfo delay;
  UNKNOWN, reason OUTCOME_UNKNOWN    a create may have happened: look the user up by email and
                                     create it again only if it is not there;
  anything else                      one line naming the code, the reason and the request id,
                                     and exit status 1.

Stubs are generated from the repository's proto/ directory on first run (see generate_stubs.py).
"""

import argparse
import os
import random
import sys
import time
import uuid
from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from generate_stubs import ensure_stubs

ensure_stubs()

from kinde.management.v1 import organizations_pb2, organizations_pb2_grpc  # noqa: E402
from kinde.management.v1 import types_pb2, users_pb2, users_pb2_grpc  # noqa: E402

DEFAULT_ADDR = "127.0.0.1:50051"
# The key `kinde-gateway --emulator` prints: valid only in that mode, only on loopback.
DEMO_API_KEY = "kinde-gateway-demo-key-loopback-only"
ERROR_DOMAIN = "kinde-gateway"

# How long one call may take; the gateway answers DEADLINE_EXCEEDED a little before.
CALL_TIMEOUT_SECONDS = 20.0
# Tries per step, the first included, for RESOURCE_EXHAUSTED and UNAVAILABLE.
MAX_ATTEMPTS = 6
# UNAVAILABLE backoff: the ceiling doubles from BASE up to CAP; the wait is drawn from the
# upper half of it (jitter), and is never shorter than the RetryInfo delay.
BACKOFF_BASE_SECONDS = 0.25
BACKOFF_CAP_SECONDS = 8.0
# A RetryInfo delay longer than this is not waited: the step fails and says so.
MAX_RETRY_INFO_SECONDS = 60.0
# Creates per user when each ends in OUTCOME_UNKNOWN and the lookup then finds nobody: the
# second is sent only after the lookup showed the first had not happened.
MAX_CREATES = 2


class StepFailed(Exception):
    """A step that cannot go on; its message is the one line to print."""


@dataclass
class Problem:
    """What the gateway said about a failed call, from the status and its details."""

    code: grpc.StatusCode
    message: str
    reason: str | None
    retry_delay: float | None
    request_id: str | None

    def summary(self) -> str:
        reason = f" {self.reason}" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


def request_id_of(call) -> str | None:
    """The `x-request-id` the gateway answered with: in the headers, or the trailers of an
    error answered before any header."""
    for metadata in (call.initial_metadata(), call.trailing_metadata()):
        for key, value in metadata or ():
            if key == "x-request-id":
                return value
    return None


def problem_of(error: grpc.RpcError) -> Problem:
    """Decodes `grpc-status-details-bin` (a google.rpc.Status) into the ErrorInfo reason and
    the RetryInfo delay."""
    reason = None
    retry_delay = None
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        status = None  # details that contradict the status line: ignore them
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            if info.domain == ERROR_DOMAIN:
                reason = info.reason
        elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            retry_delay = info.retry_delay.ToTimedelta().total_seconds()
    return Problem(
        code=error.code(),
        message=error.details() or "",
        reason=reason,
        retry_delay=retry_delay,
        request_id=request_id_of(error),
    )


def rid(request_id: str | None) -> str:
    if request_id:
        return f"(request id {request_id})"
    return "(no request id: the gateway did not answer)"


def say(step: str, text: str, request_id: str | None) -> None:
    print(f"{step}: {text} {rid(request_id)}", flush=True)


def retry_wait(problem: Problem, attempt: int) -> tuple[str, float] | None:
    """What to say (a format string for the delay) and how long to wait before trying again, or
    None when retrying cannot help."""
    if problem.code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        if problem.retry_delay is None or problem.retry_delay > MAX_RETRY_INFO_SECONDS:
            return None
        return "waiting {:.1f}s as RetryInfo asks", problem.retry_delay
    if problem.code == grpc.StatusCode.UNAVAILABLE:
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        backoff = random.uniform(ceiling / 2, ceiling)
        if problem.retry_delay is not None:
            backoff = max(backoff, min(problem.retry_delay, MAX_RETRY_INFO_SECONDS))
        return "retrying in {:.1f}s (backoff)", backoff
    return None


def with_retries(step: str, attempt_call):
    """Runs `attempt_call` until it succeeds, retrying RESOURCE_EXHAUSTED and UNAVAILABLE as
    their status details ask. Other errors propagate as grpc.RpcError."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return attempt_call()
        except grpc.RpcError as error:
            problem = problem_of(error)
            wait = retry_wait(problem, attempt)
            if wait is None:
                raise
            if attempt == MAX_ATTEMPTS:
                raise StepFailed(
                    f"{step}: failed after {attempt} attempts: {problem.summary()} "
                    f"{rid(problem.request_id)}"
                ) from None
            how, delay = wait
            reason = f" {problem.reason}" if problem.reason else ""
            say(
                step,
                f"{problem.code.name}{reason}, {how.format(delay)} "
                f"(attempt {attempt} of {MAX_ATTEMPTS})",
                problem.request_id,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


def failed(step: str, error: grpc.RpcError) -> StepFailed:
    problem = problem_of(error)
    return StepFailed(f"{step}: failed: {problem.summary()} {rid(problem.request_id)}")


class Client:
    """The gateway's stubs with the caller's key on every call."""

    def __init__(self, addr: str, key: str):
        self.channel = grpc.insecure_channel(addr)
        self.metadata = (("authorization", f"Bearer {key}"),)
        self.users = users_pb2_grpc.UsersServiceStub(self.channel)
        self.organizations = organizations_pb2_grpc.OrganizationsServiceStub(self.channel)

    def unary(self, method, request):
        """Calls a unary RPC; returns the response and the request id."""
        response, call = method.with_call(
            request, metadata=self.metadata, timeout=CALL_TIMEOUT_SECONDS
        )
        return response, request_id_of(call)

    def create_organization(self, name: str) -> str:
        step = "create organization"
        request = organizations_pb2.CreateOrganizationRequest(name=name)
        try:
            response, request_id = with_retries(
                step, lambda: self.unary(self.organizations.CreateOrganization, request)
            )
        except grpc.RpcError as error:
            raise failed(step, error) from None
        code = response.organization.code
        say(step, f'created "{name}" as {code}', request_id)
        return code

    def find_users(self, email: str, step: str = "find user") -> list:
        request = users_pb2.GetUsersRequest(email=email)
        try:
            response, request_id = with_retries(
                step, lambda: self.unary(self.users.GetUsers, request)
            )
        except grpc.RpcError as error:
            raise failed(step, error) from None
        found = [user for user in response.users if user.email.lower() == email.lower()]
        ids = ", ".join(user.id for user in found) or "none"
        say(step, f"{len(found)} user(s) with email {email}: {ids}", request_id)
        return found

    def create_user(self, org: str, email: str, given: str, family: str) -> str:
        step = "create user"
        request = users_pb2.CreateUserRequest(
            profile=types_pb2.CreateUserRequestProfile(given_name=given, family_name=family),
            organization_code=org,
            identities=[
                types_pb2.CreateUserRequestIdentity(
                    type="email",
                    details=types_pb2.CreateUserRequestIdentityDetails(email=email),
                )
            ],
        )
        for create in range(1, MAX_CREATES + 1):
            try:
                response, request_id = with_retries(
                    step, lambda: self.unary(self.users.CreateUser, request)
                )
            except grpc.RpcError as error:
                problem = problem_of(error)
                if not (
                    problem.code == grpc.StatusCode.UNKNOWN and problem.reason == "OUTCOME_UNKNOWN"
                ):
                    raise failed(step, error) from None
                # The create may have happened: never repeat it blindly.
                say(
                    step,
                    "UNKNOWN OUTCOME_UNKNOWN, the user may exist: looking it up by email "
                    "instead of creating it again",
                    problem.request_id,
                )
                found = self.find_users(email, step="look up user")
                if len(found) == 1:
                    say(step, f"the create had happened: {email} is {found[0].id}", problem.request_id)
                    return found[0].id
                if len(found) > 1:
                    raise StepFailed(
                        f"{step}: failed: {len(found)} users have email {email} "
                        f"{rid(problem.request_id)}"
                    )
                if create == MAX_CREATES:
                    raise StepFailed(
                        f"{step}: failed: the create had not happened, and the outcome stayed "
                        f"unknown {MAX_CREATES} times for {email} {rid(problem.request_id)}"
                    )
                say(
                    step,
                    "the create had not happened: creating the user once more",
                    problem.request_id,
                )
                continue
            say(step, f"created {email} as {response.id} in {org}", request_id)
            return response.id
        raise AssertionError("unreachable")

    def stream_members(self, org: str) -> list:
        step = "stream organization users"
        request = organizations_pb2.StreamGetOrganizationUsersRequest(org_code=org)

        def attempt():
            # A retried stream starts over: items of a failed attempt are dropped, not merged.
            call = self.organizations.StreamGetOrganizationUsers(
                request, metadata=self.metadata, timeout=CALL_TIMEOUT_SECONDS
            )
            members = [item.organization_user for item in call]
            return members, request_id_of(call)

        try:
            members, request_id = with_retries(step, attempt)
        except grpc.RpcError as error:
            raise failed(step, error) from None
        emails = [member.email or member.id for member in members]
        shown = ", ".join(emails[:5]) + (f" and {len(emails) - 5} more" if len(emails) > 5 else "")
        say(step, f"{len(members)} member(s) of {org}: {shown or 'none'}", request_id)
        return members


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", default=os.environ.get("GATEWAY_ADDRESS", DEFAULT_ADDR))
    parser.add_argument("--key", default=os.environ.get("GATEWAY_API_KEY", DEMO_API_KEY))
    commands = parser.add_subparsers(dest="command")
    demo = commands.add_parser("demo", help="the whole walk-through (default)")
    demo.add_argument("--email", help="the new user's email (default: a fresh example.com one)")
    create_org = commands.add_parser("create-org", help="create an organization")
    create_org.add_argument("name")
    create_user = commands.add_parser("create-user", help="create a user in an organization")
    create_user.add_argument("--org", required=True)
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--given", default="Ada")
    create_user.add_argument("--family", default="Lovelace")
    find_user = commands.add_parser("find-user", help="look users up by email")
    find_user.add_argument("--email", required=True)
    stream = commands.add_parser("stream-users", help="stream an organization's members")
    stream.add_argument("--org", required=True)
    args = parser.parse_args(argv)

    client = Client(args.addr, args.key)
    try:
        match args.command:
            case None | "demo":
                email = getattr(args, "email", None) or f"ada.{uuid.uuid4().hex[:8]}@example.com"
                org = client.create_organization("Acme Robotics (Python example)")
                client.create_user(org, email, "Ada", "Lovelace")
                client.stream_members(org)
            case "create-org":
                client.create_organization(args.name)
            case "create-user":
                client.create_user(args.org, args.email, args.given, args.family)
            case "find-user":
                client.find_users(args.email)
            case "stream-users":
                client.stream_members(args.org)
    except StepFailed as failure:
        print(failure, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        client.channel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
