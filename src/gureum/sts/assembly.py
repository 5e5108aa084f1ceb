"""STS, built from the kernel and IAM's principals: its session service (the front door finds
session credentials through it) and its query endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from gureum.aws.frontend import ServiceEndpoint
from gureum.aws.kernel import Assembly, Kernel
from gureum.aws.key_files import key_file
from gureum.aws.protocols.query import QUERY_AUTH_ERRORS, QueryProtocol
from gureum.iam.services.principals import Principals
from gureum.sts.api import StsApi
from gureum.sts.services.sessions import SessionService


@dataclass(eq=False)
class Sts(Assembly):
    sessions: SessionService
    endpoint: ServiceEndpoint


def assemble(kernel: Kernel, principals: Principals) -> Sts:
    settings = kernel.settings
    # In the shared directory: every process of a cluster must open the tokens the others seal.
    key = key_file(settings.shared / "sts.key")  # 32 bytes; sessions outlive a restart
    enforce = settings.iam == "enforce"
    sessions = SessionService(principals, kernel.clock, key, settings.time_scale, enforce)
    endpoint = ServiceEndpoint(
        "sts",
        QueryProtocol(kernel.model("sts"), QUERY_AUTH_ERRORS),
        StsApi(sessions).handlers(),
        # STS accepts a request signed up to 15 minutes away from its clock.
        signature_window=timedelta(minutes=15),
    )
    return Sts(sessions, endpoint)
