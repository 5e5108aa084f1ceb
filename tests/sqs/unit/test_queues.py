"""SQS's pure rules: names, URLs, attributes, message limits, digests, receipts and batches."""

from __future__ import annotations

import base64

import pytest

from gureum.aws.errors import ClientError
from gureum.sqs.domain.batches import check_batch, check_batch_size
from gureum.sqs.domain.messages import (
    Message,
    MessageAttribute,
    check_delay,
    check_message,
    check_standard_message,
    check_trace_header,
    md5_of_attributes,
    md5_of_body,
    message_size,
)
from gureum.sqs.domain.queues import (
    DEFAULTS,
    Queue,
    QueueCounts,
    QueueKey,
    RedrivePolicy,
    attribute_view,
    canonical_attribute,
    check_queue_name,
    check_same_attributes,
    key_from_arn,
    key_from_url,
    list_page,
    parse_redrive_policy,
    with_changes,
)
from gureum.sqs.domain.receives import (
    SYSTEM_ATTRIBUTES,
    MessageState,
    Receipt,
    check_visibility,
    check_wait_time,
    message_state,
    parse_receipt,
    receive_options,
    select_attributes,
    system_selection,
)

ACCOUNT = "123456789012"
REGION = "eu-west-1"
KEY = QueueKey(ACCOUNT, REGION, "orders")
ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:orders"
CHARACTERS = (
    "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | "
    "#xE000 to #xFFFD | #x10000 to #x10FFFF"
)


BIG = "4563442423554324324264524243.32543234"


def s(value: str, kind: str = "String") -> MessageAttribute:
    return MessageAttribute(kind, value)


def refused(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return error.value.code, error.value.message


# --- digests ---------------------------------------------------------------------------------
# botocore 1.44 does not check these digests, but the Java, .NET and Go SDKs do. The expected
# values are published by three independent implementations: wcharczuk/sqslite (Go, built on
# aws-sdk-go-v2), LocalStack's unit tests, and the aws-md5-of-message-attributes npm package.


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        pytest.param(
            {"ordinal": s("1", "Number"), "category": s("test")},
            "d21ae90c49061e927f57df5f5d72be1f",
            id="sqslite-number-and-string",
        ),
        pytest.param(
            {"timestamp": s("1493147359900", "Number")},
            "235c5c510d26fb653d073faed50ae77c",
            id="localstack-number",
        ),
        pytest.param(
            {"attribName1": s("attribValue 1")}, "19e27d4e946b072f3f58da80d94fd778", id="string"
        ),
        pytest.param(
            {"customNumberTypeAttrib": s(BIG, "Number.float")},
            "9fe1b90bbd9965bdf77bac517c7d2495",
            id="custom-number-type",
        ),
        pytest.param(
            {"binaryAttribute": MessageAttribute("Binary", None, b"Hello binary world!")},
            "31a92b15d92f8db860eda32aceb656c3",
            id="binary",
        ),
        pytest.param(
            {
                "attribName1": s("attribValue 1"),
                "customNumberTypeAttrib": s(BIG, "Number.float"),
                "binaryAttribute": MessageAttribute("Binary", None, b"Hello binary world!"),
            },
            "c932db14a896c663f83c260297d594ff",
            id="three-sorted-by-name",
        ),
    ],
)
def test_md5_of_message_attributes(attributes: dict[str, MessageAttribute], expected: str) -> None:
    assert md5_of_attributes(attributes) == expected


def test_no_attributes_have_no_digest() -> None:
    assert md5_of_attributes({}) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("hello", "5d41402abc4b2a76b9719d911017c592"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),  # RFC 1321's test suite
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("été", "deaf6a1e9612a4d8c221e68ee23d58d2"),
    ],
)
def test_md5_of_body_is_of_its_utf8_bytes(body: str, expected: str) -> None:
    assert md5_of_body(body) == expected


# --- names, URLs and ARNs ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "orders", "my_queue-2", "x" * 80])
def test_valid_queue_names(name: str) -> None:
    check_queue_name(name)


NAME_RULE = "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("", "InvalidParameterValue", NAME_RULE),
        ("x" * 81, "InvalidParameterValue", NAME_RULE),
        ("a.b", "InvalidParameterValue", NAME_RULE),
        ("a/b", "InvalidParameterValue", NAME_RULE),
        ("é", "InvalidParameterValue", NAME_RULE),
        (
            "jobs.fifo",
            "UnsupportedOperation",
            "gureum serves standard queues only: FIFO queues (names ending in .fifo) are not "
            "implemented yet.",
        ),
    ],
)
def test_invalid_queue_names(name: str, code: str, message: str) -> None:
    with pytest.raises(ClientError) as error:
        check_queue_name(name)
    assert refused(error) == (code, message)


@pytest.mark.parametrize(
    "url",
    [
        f"http://127.0.0.1:4566/{ACCOUNT}/orders",
        f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/orders",
        f"http://gureum:9999/{ACCOUNT}/orders/",
        f"/{ACCOUNT}/orders",
    ],
)
def test_queue_urls_with_any_host(url: str) -> None:
    assert key_from_url(url, ACCOUNT, REGION) == KEY


@pytest.mark.parametrize(
    "url",
    [
        "orders",
        "http://whatever-incorrect-queue-address",
        f"http://127.0.0.1:4566/{ACCOUNT}",
        f"http://127.0.0.1:4566/{ACCOUNT}/orders/extra",
        "http://127.0.0.1:4566/000000000000/orders",  # another account's queue
        f"http://127.0.0.1:4566/{ACCOUNT}/bad.name",
    ],
)
def test_urls_that_name_no_queue_of_the_caller(url: str) -> None:
    with pytest.raises(ClientError) as error:
        key_from_url(url, ACCOUNT, REGION)
    assert refused(error) == ("QueueDoesNotExist", "The specified queue does not exist.")


def test_key_renders_its_url_and_arn() -> None:
    assert KEY.url("http://localhost:4566/") == f"http://localhost:4566/{ACCOUNT}/orders"
    assert KEY.arn == ARN


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (ARN, KEY),
        (f"arn:aws-cn:sqs:cn-north-1:{ACCOUNT}:q", QueueKey(ACCOUNT, "cn-north-1", "q")),
        (f"arn:aws:sns:{REGION}:{ACCOUNT}:orders", None),
        (f"arn:aws:sqs:{REGION}:1234:orders", None),
        ("orders", None),
    ],
)
def test_queue_arns(arn: str, expected: QueueKey | None) -> None:
    assert key_from_arn(arn) == expected


# --- queue attributes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("VisibilityTimeout", "0", "0"),
        ("VisibilityTimeout", "43200", "43200"),
        ("VisibilityTimeout", "030", "30"),
        ("DelaySeconds", "900", "900"),
        ("MaximumMessageSize", "1024", "1024"),
        ("MaximumMessageSize", "1048576", "1048576"),
        ("MessageRetentionPeriod", "60", "60"),
        ("MessageRetentionPeriod", "1209600", "1209600"),
        ("ReceiveMessageWaitTimeSeconds", "20", "20"),
        ("KmsDataKeyReusePeriodSeconds", "300", "300"),
        ("SqsManagedSseEnabled", "False", "false"),
        ("Policy", '{"Version": "2012-10-17"}', '{"Version": "2012-10-17"}'),
        ("RedrivePolicy", "", ""),
        (
            "RedrivePolicy",
            f'{{"maxReceiveCount": "5", "deadLetterTargetArn": "{ARN}"}}',
            f'{{"deadLetterTargetArn":"{ARN}","maxReceiveCount":5}}',
        ),
    ],
)
def test_canonical_attribute_values(name: str, value: str, expected: str) -> None:
    assert canonical_attribute(name, value) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VisibilityTimeout", "-1"),
        ("VisibilityTimeout", "43201"),
        ("VisibilityTimeout", "thirty"),
        ("VisibilityTimeout", "1.5"),
        ("DelaySeconds", "901"),
        ("MaximumMessageSize", "1023"),
        ("MaximumMessageSize", "1048577"),
        ("MessageRetentionPeriod", "59"),
        ("MessageRetentionPeriod", "1209601"),
        ("ReceiveMessageWaitTimeSeconds", "21"),
        ("SqsManagedSseEnabled", "yes"),
    ],
)
def test_attribute_values_out_of_range(name: str, value: str) -> None:
    with pytest.raises(ClientError) as error:
        canonical_attribute(name, value)
    assert refused(error) == ("InvalidAttributeValue", f"Invalid value for the parameter {name}.")


@pytest.mark.parametrize(
    "name", ["QueueArn", "ApproximateNumberOfMessages", "All", "FifoQueue", "Foo"]
)
def test_attributes_a_standard_queue_cannot_set(name: str) -> None:
    with pytest.raises(ClientError) as error:
        canonical_attribute(name, "1")
    assert refused(error) == ("InvalidAttributeName", f"Unknown Attribute {name}.")


def redrive_error(policy: str, reason: str) -> tuple[str, str]:
    return (
        "InvalidParameterValue",
        f"Value {policy} for parameter RedrivePolicy is invalid. Reason: {reason}",
    )


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        ("{", "Redrive policy is not a valid JSON map."),
        ("[1]", "Redrive policy is not a valid JSON map."),
        (
            '{"maxReceiveCount": 3}',
            "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.",
        ),
        (
            f'{{"deadLetterTargetArn": "{ARN}"}}',
            "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
        ),
        (
            f'{{"deadLetterTargetArn": "{ARN}", "maxReceiveCount": 0}}',
            "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.",
        ),
        (
            f'{{"deadLetterTargetArn": "{ARN}", "maxReceiveCount": 1001}}',
            "Invalid value for maxReceiveCount: 1001, valid values are from 1 to 1000 both "
            "inclusive.",
        ),
        (
            '{"deadLetterTargetArn": "orders", "maxReceiveCount": 3}',
            "Invalid value for deadLetterTargetArn: orders.",
        ),
    ],
)
def test_invalid_redrive_policies(policy: str, reason: str) -> None:
    with pytest.raises(ClientError) as error:
        parse_redrive_policy(policy)
    assert refused(error) == redrive_error(policy, reason)


@pytest.mark.parametrize(("received", "exhausted"), [(0, False), (2, False), (3, True), (9, True)])
def test_redrive_after_max_receive_count(received: int, exhausted: bool) -> None:
    assert RedrivePolicy(ARN, 3).exhausted(received) is exhausted


def test_changes_merge_and_empty_texts_remove() -> None:
    current = {**DEFAULTS, "Policy": "{}", "VisibilityTimeout": "60"}
    merged = with_changes(current, {"Policy": "", "DelaySeconds": "5"})
    assert merged == {**DEFAULTS, "VisibilityTimeout": "60", "DelaySeconds": "5"}


def test_create_again_agrees_only_on_the_attributes_it_names() -> None:
    existing = {**DEFAULTS, "VisibilityTimeout": "60"}
    check_same_attributes(existing, {})
    check_same_attributes(existing, {"VisibilityTimeout": "60", "DelaySeconds": "0"})
    with pytest.raises(ClientError) as error:
        check_same_attributes(existing, {"VisibilityTimeout": "30"})
    assert refused(error) == (
        "QueueNameExists",
        "A queue already exists with the same name and a different value for attribute "
        "VisibilityTimeout",
    )


QUEUE = Queue(7, KEY, 1_700_000_000.9, 1_700_000_100.2, {**DEFAULTS, "Policy": "{}"})


def test_all_attributes_of_a_queue() -> None:
    view = attribute_view(QUEUE, QueueCounts(3, 2, 1), ["All"])
    assert view == {
        "QueueArn": ARN,
        "ApproximateNumberOfMessages": "3",
        "ApproximateNumberOfMessagesNotVisible": "2",
        "ApproximateNumberOfMessagesDelayed": "1",
        "CreatedTimestamp": "1700000000",
        "LastModifiedTimestamp": "1700000100",
        "DelaySeconds": "0",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "ReceiveMessageWaitTimeSeconds": "0",
        "VisibilityTimeout": "30",
        "SqsManagedSseEnabled": "true",
        "Policy": "{}",
    }


def test_named_attributes_leave_out_the_unset_ones() -> None:
    names = ["QueueArn", "RedrivePolicy", "VisibilityTimeout"]
    assert attribute_view(QUEUE, QueueCounts(), names) == {
        "QueueArn": ARN,
        "VisibilityTimeout": "30",
    }
    with pytest.raises(ClientError) as error:
        attribute_view(QUEUE, QueueCounts(), ["Bogus"])
    assert refused(error) == ("InvalidAttributeName", "Unknown Attribute Bogus.")


def test_fifo_attributes_of_a_standard_queue_are_left_out() -> None:
    assert attribute_view(QUEUE, QueueCounts(), ["FifoQueue", "ContentBasedDeduplication"]) == {}


def test_list_pages_follow_names_in_order() -> None:
    names = [f"q{i}" for i in range(5)]
    page, token = list_page(list(reversed(names)), None, 2)
    assert (page, token is not None) == (["q0", "q1"], True)
    page, token = list_page(names, token, 2)
    assert page == ["q2", "q3"]
    assert list_page(names, token, 2) == (["q4"], None)
    # Without MaxResults: up to 1,000 and never a token.
    assert list_page(names, None, None) == (names, None)


@pytest.mark.parametrize(("max_results", "token"), [(0, None), (1001, None), (5, "not base64!")])
def test_invalid_list_parameters(max_results: int, token: str | None) -> None:
    with pytest.raises(ClientError) as error:
        list_page(["a"], token, max_results)
    assert error.value.code == "InvalidParameterValue"


# --- messages --------------------------------------------------------------------------------

MAX = 1024
TOO_LONG = f"One or more parameters are invalid. Reason: Message must be shorter than {MAX} bytes."
RESERVED = (
    "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings are "
    "reserved for internal use. Additionally, they cannot start or end with '.' or contain "
    "consecutive periods."
)


def test_message_size_counts_names_types_and_values() -> None:
    attributes = {"ab": s("xyz"), "n": s("12", "Number")}
    assert message_size("héllo", attributes) == 6 + (2 + 6 + 3) + (1 + 6 + 2)
    check_message("x" * (MAX - 8), {"k": s("v")}, MAX)  # exactly the limit: 1016 + 1 + 6 + 1


@pytest.mark.parametrize(
    ("body", "attributes", "code", "message"),
    [
        ("", {}, "MissingParameter", "The request must contain the parameter MessageBody."),
        ("bell \x07", {}, "InvalidMessageContents", CHARACTERS),
        ("lone \ud800 surrogate", {}, "InvalidMessageContents", CHARACTERS),
        ("x" * (MAX + 1), {}, "InvalidParameterValue", TOO_LONG),
        ("x" * (MAX - 7), {"k": s("v")}, "InvalidParameterValue", TOO_LONG),
        (
            "x",
            {f"a{i}": s("v") for i in range(11)},
            "InvalidParameterValue",
            "Number of message attributes [11] exceeds the allowed maximum [10].",
        ),
        ("x", {"AWS.trace": s("v")}, "InvalidParameterValue", RESERVED),
        ("x", {"amazon.x": s("v")}, "InvalidParameterValue", RESERVED),
        ("x", {".a": s("v")}, "InvalidParameterValue", RESERVED),
        ("x", {"a.": s("v")}, "InvalidParameterValue", RESERVED),
        ("x", {"a..b": s("v")}, "InvalidParameterValue", RESERVED),
        (
            "x",
            {"a b": s("v")},
            "InvalidParameterValue",
            "Message (user) attributes name can only contain upper and lower score characters, "
            "digits, periods, hyphens and underscores. ",
        ),
        (
            "x",
            {"a" * 257: s("v")},
            "InvalidParameterValue",
            "Message (user) attribute names must be shorter than 256 Bytes",
        ),
        (
            "x",
            {"a": s("v", "Text")},
            "InvalidParameterValue",
            "Type for parameter MessageAttributes.Attribute_name.DataType must be prefixed with "
            '"String", "Binary", or "Number", but was: Text',
        ),
        (
            "x",
            {"a": s("")},
            "InvalidParameterValue",
            "Message (user) attribute 'a' must contain a non-empty value of type 'String'.",
        ),
        (
            "x",
            {"a": MessageAttribute("Binary.gif", "text instead")},
            "InvalidParameterValue",
            "Message (user) attribute 'a' must contain a non-empty value of type 'Binary'.",
        ),
        (
            "x",
            {"n": s("twelve", "Number")},
            "InvalidParameterValue",
            "Could not cast message attribute 'n' value to number.",
        ),
        ("x", {"a": s("\x00")}, "InvalidParameterValue", CHARACTERS),
    ],
)
def test_refused_messages(
    body: str, attributes: dict[str, MessageAttribute], code: str, message: str
) -> None:
    with pytest.raises(ClientError) as error:
        check_message(body, attributes, MAX)
    assert refused(error) == (code, message)


@pytest.mark.parametrize(
    "attributes",
    [
        {"Name.With-dots_1": s("x")},
        {"n": s("-1.5e3", "Number")},
        {"n": s(".5", "Number.float")},
        {"b": MessageAttribute("Binary", None, b"\x00\xff")},
        {"t": s("tab\tnewline\n emoji 🙂")},
    ],
)
def test_accepted_messages(attributes: dict[str, MessageAttribute]) -> None:
    check_message("body 🙂", attributes, MAX)


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (check_delay, -1, "Value -1 for parameter DelaySeconds is invalid. Reason: "
         "DelaySeconds must be >= 0 and <= 900."),
        (check_delay, 901, "Value 901 for parameter DelaySeconds is invalid. Reason: "
         "DelaySeconds must be >= 0 and <= 900."),
        (check_wait_time, 21, "Value 21 for parameter WaitTimeSeconds is invalid. Reason: "
         "Must be >= 0 and <= 20, if provided."),
    ],
)  # fmt: skip
def test_parameters_out_of_range(check: object, value: int, message: str) -> None:
    assert callable(check)
    with pytest.raises(ClientError) as error:
        check(value)
    assert refused(error) == ("InvalidParameterValue", message)


@pytest.mark.parametrize(
    ("max_messages", "visibility", "message"),
    [
        (0, None, "Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between "
         "1 and 10, if provided."),
        (11, None, "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be "
         "between 1 and 10, if provided."),
        (1, 43201, "Value 43201 for parameter VisibilityTimeout is invalid. Reason: Must be "
         "between 0 and 43200, if provided."),
    ],
)  # fmt: skip
def test_receive_options_out_of_range(
    max_messages: int, visibility: int | None, message: str
) -> None:
    with pytest.raises(ClientError) as error:
        receive_options(max_messages, visibility)
    assert refused(error) == ("InvalidParameterValue", message)


def test_a_visibility_change_needs_its_timeout() -> None:
    assert check_visibility(0) == 0
    with pytest.raises(ClientError) as error:
        check_visibility(None)
    assert refused(error) == (
        "MissingParameter",
        "The request must contain the parameter VisibilityTimeout.",
    )


def test_receive_defaults_to_one_message() -> None:
    options = receive_options(None, None, ["SentTimestamp", "Policy"], ["a.*"])
    assert (options.max_messages, options.visibility_timeout) == (1, None)
    assert (options.system_names, options.attribute_patterns) == (("SentTimestamp",), ("a.*",))


def test_standard_queues_refuse_deduplication_ids() -> None:
    check_standard_message(None)
    with pytest.raises(ClientError) as error:
        check_standard_message("d-1")
    assert refused(error) == (
        "InvalidParameterValue",
        "Value d-1 for parameter MessageDeduplicationId is invalid. Reason: The request includes "
        "a parameter that is not valid for this queue type.",
    )


def test_trace_header_is_the_only_system_attribute_a_sender_sets() -> None:
    assert check_trace_header({}) is None
    assert check_trace_header({"AWSTraceHeader": s("Root=1-abc")}) == "Root=1-abc"
    with pytest.raises(ClientError) as error:
        check_trace_header({"SenderId": s("me")})
    assert refused(error) == (
        "InvalidParameterValue",
        "Message system attribute name 'SenderId' is invalid.",
    )


@pytest.mark.parametrize(
    ("visible_at", "receive_count", "state"),
    [
        (100.0, 0, MessageState.VISIBLE),
        (99.0, 3, MessageState.VISIBLE),
        (101.0, 0, MessageState.DELAYED),
        (101.0, 1, MessageState.IN_FLIGHT),
    ],
)
def test_message_states(visible_at: float, receive_count: int, state: MessageState) -> None:
    assert message_state(visible_at, receive_count, now=100.0) is state


ATTRIBUTES = {"city": s("Seoul"), "city.zip": s("04524"), "count": s("3", "Number")}


@pytest.mark.parametrize(
    ("patterns", "names"),
    [
        ([], []),
        (["All"], ["city", "city.zip", "count"]),
        ([".*"], ["city", "city.zip", "count"]),
        (["*"], ["city", "city.zip", "count"]),
        (["city.*"], ["city", "city.zip"]),
        (["co.*"], ["count"]),
        (["count", "missing"], ["count"]),
    ],
)
def test_message_attribute_selection(patterns: list[str], names: list[str]) -> None:
    assert sorted(select_attributes(ATTRIBUTES, patterns)) == names


@pytest.mark.parametrize(
    ("names", "selected"),
    [
        (["All"], SYSTEM_ATTRIBUTES),
        (["SentTimestamp", "SenderId", "VisibilityTimeout"], ("SenderId", "SentTimestamp")),
        ([], ()),
    ],
)
def test_system_attribute_selection(names: list[str], selected: tuple[str, ...]) -> None:
    assert system_selection(names) == selected


def test_system_attributes_in_milliseconds() -> None:
    message = Message("m-1", "b", 1_700_000_000.1234, ACCOUNT, receive_count=2,
                      first_received=1_700_000_001.5)  # fmt: skip
    assert message.system_attributes(SYSTEM_ATTRIBUTES) == {
        "SenderId": ACCOUNT,
        "SentTimestamp": "1700000000123",
        "ApproximateReceiveCount": "2",
        "ApproximateFirstReceiveTimestamp": "1700000001500",
    }
    assert message.md5_of_system_attributes is None


# --- receipt handles -------------------------------------------------------------------------


def test_receipt_handles_round_trip() -> None:
    receipt = Receipt(12, "5fea7756-0ea4-451a-a703-a558b933e274", "9f86d081884c7d65")
    assert parse_receipt(receipt.handle()) == receipt


@pytest.mark.parametrize(
    "handle",
    [
        "garbage",
        "",
        base64.b64encode(b"x:m:t").decode(),
        base64.b64encode(b"12:m").decode(),
        base64.b64encode(b"\xff\xfe").decode(),
    ],
)
def test_malformed_receipt_handles(handle: str) -> None:
    with pytest.raises(ClientError) as error:
        parse_receipt(handle)
    assert refused(error) == (
        "ReceiptHandleIsInvalid",
        f'The input receipt handle "{handle}" is not a valid receipt handle.',
    )


# --- batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "code", "message"),
    [
        (
            [],
            "EmptyBatchRequest",
            "There should be at least one SendMessageBatchRequestEntry in the request.",
        ),
        (
            [str(i) for i in range(11)],
            "TooManyEntriesInBatchRequest",
            "Maximum number of entries per request are 10. You have sent 11.",
        ),
        (
            ["ok", "not ok"],
            "InvalidBatchEntryId",
            "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
            "It can be at most 80 letters long.",
        ),
        (["a" * 81], "InvalidBatchEntryId", None),
        (["a", "b", "a"], "BatchEntryIdsNotDistinct", "Id a repeated."),
    ],
)
def test_refused_batches(ids: list[str], code: str, message: str | None) -> None:
    with pytest.raises(ClientError) as error:
        check_batch(ids, "SendMessageBatchRequestEntry")
    assert error.value.code == code
    assert message is None or error.value.message == message


def test_batches_share_one_message_size() -> None:
    check_batch([str(i) for i in range(10)], "SendMessageBatchRequestEntry")
    check_batch_size([524_288, 524_288])
    with pytest.raises(ClientError) as error:
        check_batch_size([524_288, 524_289])
    assert refused(error) == (
        "BatchRequestTooLong",
        "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.",
    )
