"""The catalog finds the service a SigV4 scope's signing name means, over botocore's real models:
the name a service signs as is often not botocore's name for it, and several services share one."""

from __future__ import annotations

import botocore
import pytest

from gureum.aws.catalog import ServiceCatalog
from gureum.aws.errors import UnknownOperation, UnservedService
from gureum.aws.models import ServiceModels
from gureum.aws.protocols.cbor import CborErrors
from gureum.aws.protocols.json import JsonErrors
from gureum.aws.protocols.restjson import RestJsonErrors
from gureum.aws.protocols.xml import Ec2Errors, QueryErrors, RestXmlErrors
from gureum.aws.sigv4 import HttpRequest

FORM = ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")


@pytest.fixture(scope="module")
def catalog() -> ServiceCatalog:
    return ServiceCatalog(ServiceModels())


def targeted(target: str) -> HttpRequest:
    return HttpRequest("POST", "/", "", [("X-Amz-Target", target)], b"{}")


def form(body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", [FORM], body)


@pytest.mark.parametrize(
    ("signing_name", "request_", "service", "operation", "codec"),
    [
        ("ec2", form(b"Action=DescribeVpcs&Version=2016-11-15"), "ec2", "DescribeVpcs", Ec2Errors),
        ("s3", HttpRequest("GET", "/", "", [], b""), "s3", "ListBuckets", RestXmlErrors),
        ("iam", form(b"Action=ListRoles&Version=2010-05-08"), "iam", "ListRoles", QueryErrors),
        ("sts", form(b"Action=GetCallerIdentity"), "sts", "GetCallerIdentity", QueryErrors),
        (
            "dynamodb",
            targeted("DynamoDB_20120810.ListTables"),
            "dynamodb",
            "ListTables",
            JsonErrors,
        ),
        # Signed as another service's name, or as a name several services share.
        (
            "monitoring",
            targeted("GraniteServiceVersion20100801.ListMetrics"),
            "cloudwatch",
            "ListMetrics",
            JsonErrors,
        ),
        ("monitoring", form(b"Action=ListMetrics"), "cloudwatch", "ListMetrics", QueryErrors),
        (
            "cloudwatch",
            HttpRequest(
                "POST",
                "/service/CloudWatchOmniFrontend/operation/ListAccessGrants",
                "",
                [("smithy-protocol", "rpc-v2-cbor")],
                b"",
            ),
            "cloudwatchomni",
            "ListAccessGrants",
            CborErrors,
        ),
        (
            "dynamodb",
            targeted("DynamoDBStreams_20120810.ListStreams"),
            "dynamodbstreams",
            "ListStreams",
            JsonErrors,
        ),
        (
            "ses",
            HttpRequest("POST", "/v2/email/list-identities", "", [], b"{}"),
            "sesv2",
            "ListEmailIdentities",
            RestJsonErrors,
        ),
        (
            "states",
            targeted("AWSStepFunctions.ListActivities"),
            "stepfunctions",
            "ListActivities",
            JsonErrors,
        ),
    ],
)
def test_the_service_and_operation_are_named_in_their_protocol(
    catalog: ServiceCatalog,
    signing_name: str,
    request_: HttpRequest,
    service: str,
    operation: str,
    codec: type,
) -> None:
    refusal = catalog.refusal(signing_name, request_)
    assert isinstance(refusal.error, UnservedService)
    assert refusal.error.message == (
        f"gureum does not serve the {service} service (operation {operation}) yet."
    )
    assert isinstance(refusal.errors, codec)


def test_an_operation_no_model_has_still_names_the_service(catalog: ServiceCatalog) -> None:
    refusal = catalog.refusal("ses", form(b"Action=NoSuchThing"))
    assert refusal.error.message == "gureum does not serve the ses service yet."
    assert isinstance(refusal.errors, QueryErrors)


def test_a_service_botocore_does_not_know_is_refused_in_json(catalog: ServiceCatalog) -> None:
    refusal = catalog.refusal("nosuchservice", targeted("X.Y"))
    assert isinstance(refusal.error, UnknownOperation)
    assert refusal.error.message == (
        f"gureum does not serve 'nosuchservice', and botocore {botocore.__version__} knows no "
        "service that signs requests as 'nosuchservice'."
    )
    assert isinstance(refusal.errors, JsonErrors)
