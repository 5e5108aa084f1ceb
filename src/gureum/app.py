"""The composition root: builds the shared kernel, then each service from its own assembly, and
serves them all on one port.

Nothing else in gureum constructs a store, a clock or a service. `GureumApp` is an ASGI app with
an explicit order: startup (each service starts, in the order built) -> serve -> shutdown (each
stops in reverse, the shared worker threads drain, then each closes what it holds open).
"""

from __future__ import annotations

import asyncio
import faulthandler
import json
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from gureum import __version__
from gureum.autoscaling import assembly as autoscaling
from gureum.aws import payloads, sql
from gureum.aws.accounts import DEFAULT_ACCESS_KEY, AccountDirectory
from gureum.aws.catalog import ServiceCatalog
from gureum.aws.frontend import CallContext, Frontend
from gureum.aws.http import BodyFile, HttpResponse
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.models import ServiceModels
from gureum.aws.policy import Decision, Policy
from gureum.aws.sigv4 import HttpRequest
from gureum.aws.singletons import LocalSingletons, Singletons
from gureum.clock import Clock, SystemClock
from gureum.cloudwatch import assembly as cloudwatch
from gureum.config import Settings
from gureum.console import assembly as console
from gureum.console.services.sources import Sources as ConsoleSources
from gureum.ec2 import assembly as ec2
from gureum.ec2.domain.errors import SubnetNotFound
from gureum.ec2.services.network import NetworkService
from gureum.efs import assembly as efs
from gureum.efs.domain.errors import EfsError, MountRefused
from gureum.efs.domain.mount_targets import MountTarget
from gureum.efs.domain.mount_targets import Subnet as EfsSubnet
from gureum.efs.services.access_points import AccessPointService
from gureum.efs.services.file_systems import FileSystemService
from gureum.efs.services.mount_targets import MountTargetService
from gureum.iam import assembly as iam
from gureum.iam.services.authorizer import Authorizer, denial
from gureum.kms import assembly as kms
from gureum.lambda_ import assembly as lambda_
from gureum.lambda_.assembly import CREATE_FUNCTION_LIMIT
from gureum.lambda_.domain import file_systems as lambda_fs
from gureum.lambda_.domain.arns import FunctionRef, parse_function_name
from gureum.lambda_.domain.credentials import RoleCredentials
from gureum.lambda_.domain.errors import InvalidParameterValue as LambdaInvalidParameter
from gureum.lambda_.domain.errors import ProvisionedConcurrencyConfigNotFound
from gureum.lambda_.domain.errors import ResourceNotFound as LambdaResourceNotFound
from gureum.lambda_.services.container_credentials import PATH as CREDENTIALS_PATH
from gureum.lambda_.services.context import Caller
from gureum.lambda_.services.invoker import Invoker, Target, check_invocable
from gureum.lambda_.services.packages import PackageUnavailable, S3Location
from gureum.lambda_.services.provisioned import ProvisionedConcurrencyService
from gureum.logs import assembly as logs
from gureum.s3 import assembly as s3
from gureum.s3.domain.errors import S3Error
from gureum.s3.services.objects import ObjectService
from gureum.s3.services.ports import UndeliverableNotification
from gureum.sqs import assembly as sqs
from gureum.sts import assembly as sts
from gureum.sts.services.sessions import SessionService

log = logging.getLogger("gureum")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The largest request any operation accepts; anything longer is refused unread.
BODY_CAP = CREATE_FUNCTION_LIMIT + 1
# How much of a streamed response body (S3's GetObject) is read from disk at a time.
STREAM_SLICE = 1 << 20
# A stop still going after this many seconds logs where every thread is (see `draining`).
SLOW_STOP = 10.0


def _log_pending_tasks() -> None:
    """Each task still pending, and the chain of awaits it is suspended in (a stop that takes
    too long: `draining`). A task's own stack shows only its outermost coroutine."""
    lines = []
    for task in asyncio.all_tasks():
        if task.done():
            continue
        chain: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and len(chain) < 20:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
                chain.append(f"{frame.f_code.co_name} ({where})")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        lines.append(f"  {task.get_name()}: {' > '.join(chain) or 'not started'}")
    log.warning("still stopping after %.0f s; tasks pending:\n%s", SLOW_STOP, "\n".join(lines))


def _stores(settings: Settings) -> sql.Backend:
    """Where the services' stores are: SQLite files in the data directory, or the `--store`
    PostgreSQL database."""
    if not settings.store:
        return sql.SqliteBackend(settings.data_dir)
    # Imported only here: psycopg costs a tenth of a second at start-up, for nothing in the
    # embedded deployment.
    from gureum.aws.postgres import PostgresBackend  # noqa: PLC0415

    return PostgresBackend(settings.store)


def _singletons(settings: Settings) -> Singletons:
    """Leases for the background work one process runs at a time: PostgreSQL's advisory locks
    when several processes share the `--store`, else every singleton is this process's."""
    if not settings.store:
        return LocalSingletons()
    from gureum.aws.postgres import PostgresSingletons  # noqa: PLC0415

    return PostgresSingletons(settings.store)


class GureumApp:
    """Everything one gureum server is, wired together."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        # Request bodies streamed to disk (S3's uploads); what a killed server left is garbage.
        self.spool_dir = settings.data_dir / "spool"
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        self.spool_dir.mkdir()
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        # Before anything starts a thread (a PostgreSQL store's pool does): isolation moves the
        # server into a mount namespace of its own, which unshare(2) refuses once threads run.
        isolation = lambda_.decide_isolation(settings.isolation, settings.sandboxes)
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gureum-worker")
        self.kernel = Kernel(
            settings,
            clock or SystemClock(),
            self.executor,
            f"http://{host}:{settings.port}",
            ServiceModels(),
            _stores(settings),
            _singletons(settings),
        )
        self._following: asyncio.Task[None] | None = None
        # IAM and STS first (stopped last): the front door finds IAM users' keys and STS
        # sessions through them.
        self.iam = iam.assemble(self.kernel)
        self.sts = sts.assemble(self.kernel, self.iam.principals)
        # The services, each from its own package; Lambda uses the others' public services.
        self.kms = kms.assemble(self.kernel)
        self.sqs = sqs.assemble(self.kernel)
        self.logs = logs.assemble(self.kernel)
        self.cloudwatch = cloudwatch.assemble(self.kernel)
        self.ec2 = ec2.assemble(self.kernel)
        # EFS reads subnets and security groups from EC2 through its own port, and tells EC2
        # which of them its mount targets hold.
        self.efs = efs.assemble(self.kernel, Ec2Network(self.ec2.network))
        self.ec2.network.register(self.efs.mount_targets)
        # S3 notifies Lambda, and Lambda reads packages from S3, each through its own port:
        # S3 is built first, its port connected to Lambda once Lambda exists.
        notifications = LambdaNotifications(settings.async_payload_limit)
        self.s3 = s3.assemble(self.kernel, notifications)
        # Lambda reads EC2 and EFS through its own ports, and tells EC2 what its functions hold.
        self.lambda_ = lambda_.assemble(
            self.kernel,
            self.kms.keys,
            self.sqs.queues,
            self.logs.streams,
            self.cloudwatch.metrics,
            network=LambdaNetwork(self.ec2.network),
            file_systems=LambdaFileSystems(
                self.ec2.network,
                self.efs.file_systems,
                self.efs.mount_targets,
                self.efs.access_points,
                # Under `--iam enforce` the execution role's own policies count too (spec 8).
                self.iam.principals.identity_policies if settings.iam == "enforce" else None,
            ),
            # Each environment gets a session of its function's execution role from STS;
            # under `enforce` IAM decides what the role may do as Lambda acts for it.
            roles=LambdaRoles(self.sts.sessions, self.kernel.clock),
            permissions=(
                RoleAuthority(self.iam.authorizer) if self.iam.authorizer is not None else None
            ),
            packages=S3Packages(self.s3.objects),
            isolated=isolation,
        )
        notifications.connect(self.lambda_.invoker)
        self.ec2.network.register(self.lambda_.interfaces)
        if self.iam.authorizer is not None and self.lambda_.permissions is not None:
            # Functions' policies allow principals of their own account too (`enforce`).
            self.iam.authorizer.add_resource_policies("lambda", self.lambda_.permissions)
        self.services: list[Assembly] = [
            self.iam,
            self.sts,
            self.kms,
            self.sqs,
            self.logs,
            self.cloudwatch,
            self.ec2,
            self.efs,
            self.lambda_,
            # After Lambda: started once Lambda takes events, stopped before it.
            self.s3,
        ]
        # Application Auto Scaling changes Lambda's provisioned concurrency through its port.
        self.autoscaling = autoscaling.assemble(
            self.kernel, self.cloudwatch.metrics, LambdaCapacity(self.lambda_.provisioned)
        )
        self.services.append(self.autoscaling)
        self.accounts = AccountDirectory(
            [DEFAULT_ACCESS_KEY], [self.iam.principals, self.sts.sessions]
        )
        self.frontend = Frontend(
            {s.endpoint.signing_name: s.endpoint for s in self.services},
            self.accounts,
            self.kernel.clock,
            self.executor,
            default_service="lambda",
            catalog=ServiceCatalog(self.kernel.botocore),
            authorizer=self.iam.authorizer,
        )
        # The web console reads and acts through the services above, never around them.
        assert self.lambda_.functions is not None
        assert self.lambda_.aliases is not None
        assert self.lambda_.event_configs is not None
        self.console = console.assemble(
            self.kernel,
            ConsoleSources(
                accounts=self.accounts,
                functions=self.lambda_.functions,
                aliases=self.lambda_.aliases,
                event_configs=self.lambda_.event_configs,
                provisioned=self.lambda_.provisioned,
                invoker=self.lambda_.invoker,
                limits=self.lambda_.ledger.limits,
                queues=self.sqs.queues,
                keys=self.kms.keys,
                metrics=self.cloudwatch.metrics,
                scaling=self.autoscaling.scaling,
                logs=self.logs.streams,
                lambda_model=self.kernel.model("lambda"),
                executor=self.executor,
                now=lambda: self.kernel.clock.now().timestamp(),
                time_scale=settings.time_scale,
            ),
        )

    @property
    def endpoint_url(self) -> str:
        return self.kernel.endpoint_url

    # --- lifecycle --------------------------------------------------------------------------

    async def startup(self) -> None:
        self._following = asyncio.create_task(self.kernel.stores.follow())
        for service in self.services:
            await service.start()

    def draining(self) -> None:
        """The server stops taking connections: end the console's live streams, which would
        otherwise hold the graceful shutdown open. A stop that takes longer than `SLOW_STOP`
        seconds logs what it waits for, once: every thread's stack, and every task's.

        Called from a signal handler, between two bytecodes of the loop's thread: the task
        report is scheduled through the loop's thread-safe door."""
        faulthandler.dump_traceback_later(SLOW_STOP)
        loop = asyncio.get_running_loop()
        loop.call_soon_threadsafe(loop.call_later, SLOW_STOP, _log_pending_tasks)
        self.console.stop()

    async def shutdown(self) -> None:
        self.console.stop()
        for service in reversed(self.services):
            await service.stop()
        if self._following is not None:
            self._following.cancel()
            await asyncio.gather(self._following, return_exceptions=True)
        self.executor.shutdown(wait=True)
        for service in reversed(self.services):
            service.close()
        self.kernel.stores.close()
        faulthandler.cancel_dump_traceback_later()

    # --- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.console.handles(scope["path"]):
            await self.console.web(scope, receive, send)  # pages, forms and live streams
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        head = HttpRequest(
            method=scope["method"],
            raw_path=raw_path.decode("latin-1").partition("?")[0],
            raw_query=scope["query_string"].decode("latin-1"),
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
            body=b"",
        )
        # S3's bodies go to disk as they arrive, up to S3's own limit; the others into memory
        # under the server's cap.
        spool_limit = self.frontend.spooled_body_limit(head) if _has_body(head) else None
        payload: BodyFile | None = None
        try:
            if spool_limit is not None:
                payload = await payloads.spool(receive, self.spool_dir, spool_limit, self.executor)
                oversized = payload is None
                request = replace(head, payload=payload)
            else:
                body = await _read_body(receive, BODY_CAP)
                oversized = body is None
                request = replace(head, body=body or b"")
        except payloads.ClientDisconnected:
            return  # a request that never arrived whole is never acted on
        try:
            response = await self._respond(request, oversized)
        finally:
            payloads.discard(payload)  # unless the service took it over
        await self._send(response, receive, send)

    async def _send(self, response: HttpResponse, receive: Receive, send: Send) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if response.stream is not None:
            await _send_stream(response, headers, receive, send)
            return
        content = response.content
        if not any(k.lower() == "content-length" for k, _ in response.headers):
            length = len(response.body) if content is None else content.length
            headers.append((b"content-length", str(length).encode()))
        start = {"type": "http.response.start", "status": response.status, "headers": headers}
        if content is None:
            await send(start)
            await send({"type": "http.response.body", "body": response.body})
            return
        loop = asyncio.get_running_loop()
        try:
            await send(start)
            offset, end = content.offset, content.offset + content.length
            fd = content.file.fileno()
            while offset < end:
                size = min(STREAM_SLICE, end - offset)
                data = await loop.run_in_executor(self.executor, os.pread, fd, size, offset)
                if not data:
                    break  # the file is shorter than it was said to be: end the body here
                offset += len(data)
                await send({"type": "http.response.body", "body": data, "more_body": offset < end})
            if offset < end:
                await send({"type": "http.response.body", "body": b""})
        finally:
            content.file.close()

    async def _respond(self, request: HttpRequest, oversized: bool) -> HttpResponse:
        if request.raw_path.startswith("/_gureum/"):
            response = await self._internal(request)
        elif (
            url := await self.lambda_.function_url(request, self.accounts.find, oversized)
        ) is not None:
            response = url  # a function URL, path- or host-based: not an AWS API call
        else:
            host = next((v for k, v in request.headers if k.lower() == "host"), "localhost")
            response = await self.frontend.handle(request, f"http://{host}", oversized)
        return response

    async def _internal(self, request: HttpRequest) -> HttpResponse:
        json_type = [("Content-Type", "application/json")]
        if request.raw_path == "/_gureum/health":
            health = {
                "status": "ok",
                "version": __version__,
                "services": [s.endpoint.signing_name for s in self.services],
                **self.lambda_.health(),
            }
            health["stores"] = {**health["stores"], "logs": self.logs.location}
            return HttpResponse(200, json_type, json.dumps(health).encode())
        if request.raw_path == CREDENTIALS_PATH:
            return self.lambda_.container_credentials(request)
        if request.raw_path == "/_gureum/metrics":
            return self.lambda_.metrics_page()
        download = await self.lambda_.download(request)
        if download is not None:
            return download
        return HttpResponse(404, json_type, b'{"message":"Not Found"}')


class LambdaCapacity:
    """Application Auto Scaling's `ProvisionedCapacity`, over Lambda's provisioned concurrency
    (the one place the two meet: neither package imports the other). Lambda's errors pass
    through: the scaler records their message in a Failed activity."""

    def __init__(self, service: ProvisionedConcurrencyService) -> None:
        self._service = service

    def get(self, account: str, region: str, function: str, qualifier: str) -> int | None:
        try:
            view = self._service.get(Caller(account, region), FunctionRef(function, qualifier))
        except ProvisionedConcurrencyConfigNotFound:
            return None
        return view.config.requested

    def set(self, account: str, region: str, function: str, qualifier: str, capacity: int) -> None:
        caller, ref = Caller(account, region), FunctionRef(function, qualifier)
        if capacity == 0:  # Lambda has no configuration of zero: none at all
            self._service.delete(caller, ref)
        else:
            self._service.put(caller, ref, capacity)


class LambdaRoles:
    """Lambda's `ExecutionRoles`, over STS's session service: the session a new execution
    environment acts as (neither package imports the other)."""

    def __init__(self, sessions: SessionService, clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    def credentials(self, role_arn: str, session_name: str, seconds: int) -> RoleCredentials:
        issued = self._clock.now()
        made = self._sessions.for_service(role_arn, session_name, seconds)
        session = made.session
        return RoleCredentials(
            session.access_key_id, made.secret, made.token, issued, session.expires
        )


class RoleAuthority:
    """Lambda's `RolePermissions`, over IAM's authorizer (`--iam enforce`): what a function's
    execution role may do when Lambda acts as it (dead-letter queues, destinations, KMS), and
    whether a signer may call an AWS_IAM function URL of its own account."""

    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer

    def denied(
        self,
        principal: str,
        action: str,
        resource: str,
        keys: Mapping[str, str] | None = None,
    ) -> str | None:
        parts = principal.split(":")
        account = parts[4] if len(parts) > 4 else ""
        region = resource.split(":")[3] if resource.count(":") >= 5 else ""
        context = CallContext(account, region, "", "", principal=principal)
        service = action.split(":", maxsplit=1)[0]
        # The resource's own policy too, in the principal's account (IAM's same-account rule).
        found = self._authorizer.resource_policy(service, resource, account)
        decision = self._authorizer.decide(principal, action, resource, context, found, keys)
        if decision is Decision.ALLOW:
            return None
        return denial(service, principal, action, resource, decision).message


class LambdaNotifications:
    """S3's `NotificationTarget`, over Lambda's asynchronous invocation: each notification is
    an Event invocation accepted into Lambda's durable event queue, so retries, maximum age,
    dead-letter queues, destinations and throttling are those of any Event invoke."""

    def __init__(self, payload_limit: int) -> None:
        self._invoker: Invoker | None = None
        self._limit = payload_limit  # Event invocations' (a record is about 1 KB)

    def connect(self, invoker: Invoker) -> None:
        self._invoker = invoker

    def _target(self, account: str, region: str, function_arn: str) -> tuple[Target, FunctionRef]:
        if self._invoker is None:
            raise RuntimeError("S3's notifications are not connected to Lambda yet")
        try:
            ref = parse_function_name(function_arn)
        except LambdaInvalidParameter:
            raise UndeliverableNotification(function_arn) from None
        # S3 notifies functions of the bucket's own account and region only.
        if (ref.account or account, ref.region or region) != (account, region):
            raise UndeliverableNotification(function_arn)
        ref = FunctionRef(ref.name, ref.qualifier, region, account)
        try:
            return self._invoker.target(Caller(account, region), ref), ref
        except LambdaResourceNotFound:
            raise UndeliverableNotification(function_arn) from None

    def function_exists(self, account: str, region: str, function_arn: str) -> bool:
        try:
            self._target(account, region, function_arn)
        except UndeliverableNotification:
            return False
        return True

    async def deliver(
        self,
        account: str,
        region: str,
        function_arn: str,
        payload: bytes,
        request_id: str,
        trace_header: str | None = None,
    ) -> None:
        assert self._invoker is not None
        target, ref = self._target(account, region, function_arn)
        check_invocable(target.version)  # a Pending function: retried by the notifier
        # The uploader's trace header: a function writing to a bucket that notifies it again is
        # a loop Lambda sees (domain.recursion).
        await self._invoker.accept(target, ref, payload, request_id, self._limit, trace_header)


class S3Packages:
    """Lambda's `PackageSource`, over S3's object service: a deployment package is an object in
    one of the caller's buckets, its S3 error passed on in Lambda's wording."""

    def __init__(self, objects: ObjectService) -> None:
        self._objects = objects

    def read(self, account: str, region: str, location: S3Location, limit: int) -> bytes:
        if location.version not in (None, "null"):
            raise PackageUnavailable("NoSuchVersion", "The specified version does not exist.")
        try:
            opened = self._objects.open(account, location.bucket, location.key)
        except S3Error as error:  # NoSuchBucket, NoSuchKey, AccessDenied
            raise PackageUnavailable(error.code, error.message) from None
        assert opened.file is not None
        with opened.file as file:
            if opened.item.size > limit:
                raise PackageUnavailable(
                    "EntityTooLarge", f"The object is larger than {limit} bytes."
                )
            return file.read()


class Ec2Network:
    """EFS's `NetworkModel`, over EC2's network service: the subnets, groups and default groups
    mount targets are placed with (neither package imports the other)."""

    def __init__(self, network: NetworkService) -> None:
        self._network = network

    def subnet(self, account: str, region: str, subnet_id: str) -> EfsSubnet | None:
        try:
            (found,) = self._network.subnets(account, region, [subnet_id])
        except SubnetNotFound:
            return None
        zone = found.zone
        return EfsSubnet(found.id, found.vpc_id, zone.name, zone.id, found.cidr)

    def security_groups(
        self, account: str, region: str, group_ids: Sequence[str]
    ) -> Mapping[str, str]:
        groups = self._network.network(account, region).groups
        return {g: groups[g].vpc_id for g in group_ids if g in groups}

    def default_group(self, account: str, region: str, vpc_id: str) -> str | None:
        network = self._network.network(account, region)
        found = [g.id for g in network.groups_of(vpc_id) if g.name == "default"]
        return found[0] if found else None


class LambdaNetwork:
    """Lambda's `FunctionNetwork`, over EC2's network service."""

    def __init__(self, network: NetworkService) -> None:
        self._network = network

    def subnet_vpcs(self, account: str, region: str, ids: Sequence[str]) -> Mapping[str, str]:
        subnets = self._network.network(account, region).subnets
        return {i: subnets[i].vpc_id for i in ids if i in subnets}

    def group_vpcs(self, account: str, region: str, ids: Sequence[str]) -> Mapping[str, str]:
        groups = self._network.network(account, region).groups
        return {i: groups[i].vpc_id for i in ids if i in groups}


class LambdaFileSystems:
    """Lambda's `FileSystems`, over EFS's services and EC2's network model and its reachability
    (`ec2.services.network.NetworkService.reaches`): which mount target an environment reaches,
    what the file system policy (and under `--iam enforce` the execution role's own policies)
    let it do, and the access point's root. The access point may be another account's (spec 8):
    its ARN names the account whose EFS and network are read."""

    def __init__(
        self,
        network: NetworkService,
        file_systems: FileSystemService,
        mount_targets: MountTargetService,
        access_points: AccessPointService,
        identity: Callable[[str], list[Policy]] | None = None,
    ) -> None:
        self._network = network
        self._file_systems = file_systems
        self._mount_targets = mount_targets
        self._access_points = access_points
        # The role's identity policies, when IAM is enforced (None: the file system's policy
        # alone decides, `--iam off`).
        self._identity = identity

    def check_access_point(self, account: str, region: str, arn: str, vpc_id: str) -> None:
        owner = _owner_of(arn, account)
        try:
            point = self._access_points.get(owner, region, arn)
            targets, _ = self._mount_targets.describe(
                owner, region, file_system=point.file_system_id
            )
        except EfsError:
            raise LambdaInvalidParameter(f"Access point {arn} does not exist.") from None
        # In the function's VPC, or in a VPC peered with it (whether the peering carries NFS
        # is for each environment's mount to find out).
        near = {(account, vpc_id)} | self._network.peered(account, region, vpc_id)
        if not any((owner, t.subnet.vpc_id) in near for t in targets):
            raise LambdaInvalidParameter(
                f"EFS file system {point.file_system_id} referenced by access point {arn} has "
                f"no mount target in the function's VPC {vpc_id}."
            )

    def mount(
        self,
        account: str,
        region: str,
        arn: str,
        local_path: str,
        vpc: Mapping[str, Any],
        role: str,
    ) -> lambda_fs.Mount:
        owner = _owner_of(arn, account)
        try:
            point = self._access_points.get(owner, region, arn)
            fs_id = point.file_system_id
            targets, _ = self._mount_targets.describe(owner, region, file_system=fs_id)
        except EfsError:
            raise lambda_fs.mount_refused(arn) from None
        if not self._reached(account, owner, region, targets, vpc):
            raise lambda_fs.unreachable(arn)
        try:
            identity = None if self._identity is None else self._identity(role)
            access = self._file_systems.client_access(owner, region, fs_id, role, arn, identity)
            if not access.mount:
                raise lambda_fs.mount_refused(arn)
            source, user = self._access_points.root_directory(owner, region, arn)
        except (EfsError, MountRefused):
            raise lambda_fs.mount_refused(arn) from None
        if user is None:  # the environment's own uid
            return lambda_fs.Mount(
                fs_id, str(source), local_path, None, None, (), access.write, owner, arn
            )
        client = lambda_fs.client_identity(
            user.uid, user.gid, user.secondary_gids, root_access=access.root
        )
        return lambda_fs.Mount(
            fs_id,
            str(source),
            local_path,
            client.uid,
            client.gid,
            client.secondary_gids,
            access.write,
            owner,
            arn,
        )

    def access_point_exists(self, account: str, region: str, arn: str) -> bool:
        try:
            self._access_points.get(_owner_of(arn, account), region, arn)
        except EfsError:
            return False
        return True

    def present(self, mount: lambda_fs.Mount, region: str) -> bool:
        try:
            self._file_systems.get(mount.account, region, mount.file_system_id)
        except EfsError:
            return False
        return True

    def _reached(
        self,
        account: str,
        owner: str,
        region: str,
        targets: Sequence[MountTarget],
        vpc: Mapping[str, Any],
    ) -> bool:
        """Whether one of the file system's mount targets, in an AZ (by id: names differ between
        accounts) of one of the function's subnets, takes TCP 2049 from the function's groups
        through the network: in its VPC, or a peered one routed both ways (spec 7.2, 8)."""
        network = self._network.network(account, region)
        subnet_ids = [str(s) for s in vpc.get("SubnetIds", [])]
        group_ids = [str(g) for g in vpc.get("SecurityGroupIds", [])]
        subnets = [network.subnets[i] for i in subnet_ids if i in network.subnets]
        for target in targets:
            for subnet in subnets:
                if subnet.zone.id != target.subnet.availability_zone_id:
                    continue
                server = (owner, target.subnet.subnet_id, target.security_groups, target.ip_address)
                if self._network.reaches(region, (account, subnet.id, group_ids), server):
                    return True
        return False


def _has_body(head: HttpRequest) -> bool:
    """Whether the request says it has a body (a GET or HEAD usually does not: no file then)."""
    length = next((v for k, v in head.headers if k.lower() == "content-length"), None)
    if length is not None:
        return length.strip() != "0"
    return any(k.lower() == "transfer-encoding" for k, _ in head.headers)


async def _send_stream(
    response: HttpResponse, headers: list[tuple[bytes, bytes]], receive: Receive, send: Send
) -> None:
    """Sends a streamed body piece by piece as its producer makes it (chunked: no length), and
    stops the producer the moment the client goes away, even while it waits for its next
    piece (a function sleeping between writes): its environment is freed at once."""
    stream = response.stream
    assert stream is not None

    async def pump() -> None:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.body:
            await send({"type": "http.response.body", "body": response.body, "more_body": True})
        async for piece in stream:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # the request body was read whole already: nothing else is expected

    pumping = asyncio.ensure_future(pump())
    watching = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pumping, watching):
            task.cancel()
        await asyncio.gather(pumping, watching, return_exceptions=True)
        await stream.aclose()
    if pumping.done() and not pumping.cancelled() and pumping.exception() is not None:
        log.error("a streamed response failed", exc_info=pumping.exception())


def _owner_of(access_point_arn: str, default: str) -> str:
    """The account an access point's ARN names (checked against Lambda's pattern already)."""
    ref = lambda_fs.parse_access_point_arn(access_point_arn)
    return default if ref is None else ref.account


async def _read_body(receive: Receive, cap: int) -> bytes | None:
    """The whole request body, or None once it grows past `cap` (the rest is drained)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise payloads.ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= cap:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if size <= cap else None
