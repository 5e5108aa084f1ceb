"""SQS operations over the json protocol: each parses, calls one queue service method, renders.

Queue URLs in answers point at the endpoint the client called (`CallContext.endpoint`), so a
client that reached gureum through a port mapping or a container name can use them as they are.
ReceiveMessage is a coroutine: a long poll waits on the event loop, never in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gureum.aws.errors import ClientError
from gureum.aws.frontend import CallContext, Handler
from gureum.sqs.domain.batches import check_batch, check_batch_size
from gureum.sqs.domain.errors import QueueDoesNotExist
from gureum.sqs.domain.messages import (
    MessageAttribute,
    md5_of_attributes,
    md5_of_body,
    message_size,
)
from gureum.sqs.domain.queues import QueueKey, key_from_url
from gureum.sqs.domain.receives import receive_options, select_attributes
from gureum.sqs.services.messages import Delivery, OutgoingMessage, SentMessage
from gureum.sqs.services.queues import QueueService

Params = dict[str, Any]
Result = dict[str, Any]

# Members whose model constraints SQS does not apply as a ValidationException: unknown queue
# attribute names are `InvalidAttributeName` ("Unknown Attribute X."), and ReceiveMessage's
# deprecated `AttributeNames` takes message system attribute names (`SentTimestamp`) although its
# model declares queue attribute names. For `ServiceEndpoint(..., unvalidated=UNVALIDATED)`.
UNVALIDATED: Mapping[str, frozenset[str]] = {
    "CreateQueue": frozenset({"Attributes"}),
    "SetQueueAttributes": frozenset({"Attributes"}),
    "GetQueueAttributes": frozenset({"AttributeNames"}),
    "ReceiveMessage": frozenset({"AttributeNames"}),
}


def _attribute(value: Mapping[str, Any]) -> MessageAttribute:
    return MessageAttribute(value["DataType"], value.get("StringValue"), value.get("BinaryValue"))


def _attributes(values: Mapping[str, Mapping[str, Any]] | None) -> dict[str, MessageAttribute]:
    return {name: _attribute(value) for name, value in (values or {}).items()}


def _wire(attribute: MessageAttribute) -> dict[str, Any]:
    rendered: dict[str, Any] = {"DataType": attribute.data_type}
    if attribute.binary_value is not None:
        rendered["BinaryValue"] = attribute.binary_value
    else:
        rendered["StringValue"] = attribute.string_value
    return rendered


def _outgoing(params: Params, trace_header: str | None = None) -> OutgoingMessage:
    """A message to send. Without an AWSTraceHeader of its own, it keeps the request's
    X-Amzn-Trace-Id (an AWS SDK inside a Lambda function sends its invocation's), as SQS
    does: Lambda follows a chain of invocations through it (recursive loop detection)."""
    system = _attributes(params.get("MessageSystemAttributes"))
    if trace_header and not system:
        system = {"AWSTraceHeader": MessageAttribute("String", trace_header)}
    return OutgoingMessage(
        params["MessageBody"],
        _attributes(params.get("MessageAttributes")),
        params.get("DelaySeconds"),
        system,
        params.get("MessageDeduplicationId"),
    )


def _sent(sent: SentMessage) -> Result:
    return {
        "MessageId": sent.message_id,
        "MD5OfMessageBody": sent.md5_of_body,
        "MD5OfMessageAttributes": sent.md5_of_attributes,
        "MD5OfMessageSystemAttributes": sent.md5_of_system_attributes,
    }


def _failed(entry_id: str, error: ClientError) -> Result:
    return {
        "Id": entry_id,
        "SenderFault": error.sender_fault,
        "Code": error.code,
        "Message": error.message,
    }


def _batch_result(ids: list[str], outcomes: list[Any]) -> Result:
    """`outcomes[i]` is entry i's error, or its success (None or a rendered entry)."""
    successful, failed = [], []
    for entry_id, outcome in zip(ids, outcomes, strict=True):
        if isinstance(outcome, ClientError):
            failed.append(_failed(entry_id, outcome))
        else:
            successful.append({"Id": entry_id, **(outcome or {})})
    return {"Successful": successful, "Failed": failed}


def _raise_first(outcomes: list[ClientError | None]) -> Result:
    if isinstance(outcomes[0], ClientError):
        raise outcomes[0]
    return {}


class SqsApi:
    def __init__(self, queues: QueueService) -> None:
        self._queues = queues

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateQueue": self.create_queue,
            "GetQueueUrl": self.get_queue_url,
            "ListQueues": self.list_queues,
            "GetQueueAttributes": self.get_queue_attributes,
            "SetQueueAttributes": self.set_queue_attributes,
            "DeleteQueue": self.delete_queue,
            "PurgeQueue": self.purge_queue,
            "TagQueue": self.tag_queue,
            "UntagQueue": self.untag_queue,
            "ListQueueTags": self.list_queue_tags,
            "ListDeadLetterSourceQueues": self.list_dead_letter_source_queues,
            "SendMessage": self.send_message,
            "SendMessageBatch": self.send_message_batch,
            "ReceiveMessage": self.receive_message,
            "DeleteMessage": self.delete_message,
            "DeleteMessageBatch": self.delete_message_batch,
            "ChangeMessageVisibility": self.change_message_visibility,
            "ChangeMessageVisibilityBatch": self.change_message_visibility_batch,
        }

    @staticmethod
    def _key(ctx: CallContext, params: Params) -> QueueKey:
        return key_from_url(params["QueueUrl"], ctx.account_id, ctx.region)

    # queues -------------------------------------------------------------------------------

    def create_queue(self, ctx: CallContext, params: Params) -> Result:
        key = QueueKey(ctx.account_id, ctx.region, params["QueueName"])
        queue = self._queues.create_queue(
            key, params.get("Attributes") or {}, params.get("tags") or {}
        )
        return {"QueueUrl": queue.key.url(ctx.endpoint)}

    def get_queue_url(self, ctx: CallContext, params: Params) -> Result:
        owner = params.get("QueueOwnerAWSAccountId", ctx.account_id)
        if owner != ctx.account_id:
            raise QueueDoesNotExist()  # gureum has no queue policies to share a queue by
        queue = self._queues.get_queue(QueueKey(owner, ctx.region, params["QueueName"]))
        return {"QueueUrl": queue.key.url(ctx.endpoint)}

    def list_queues(self, ctx: CallContext, params: Params) -> Result:
        keys, token = self._queues.list_queues(
            ctx.account_id,
            ctx.region,
            params.get("QueueNamePrefix", ""),
            params.get("NextToken"),
            params.get("MaxResults"),
        )
        result: Result = {"NextToken": token}
        if keys:  # SQS leaves QueueUrls out when there are none
            result["QueueUrls"] = [key.url(ctx.endpoint) for key in keys]
        return result

    def get_queue_attributes(self, ctx: CallContext, params: Params) -> Result:
        names = params.get("AttributeNames") or []
        attributes = self._queues.get_attributes(self._key(ctx, params), names)
        return {"Attributes": attributes or None}

    def set_queue_attributes(self, ctx: CallContext, params: Params) -> Result:
        self._queues.set_attributes(self._key(ctx, params), params.get("Attributes") or {})
        return {}

    def delete_queue(self, ctx: CallContext, params: Params) -> Result:
        self._queues.delete_queue(self._key(ctx, params))
        return {}

    def purge_queue(self, ctx: CallContext, params: Params) -> Result:
        self._queues.purge_queue(self._key(ctx, params))
        return {}

    def tag_queue(self, ctx: CallContext, params: Params) -> Result:
        self._queues.tag_queue(self._key(ctx, params), params.get("Tags") or {})
        return {}

    def untag_queue(self, ctx: CallContext, params: Params) -> Result:
        self._queues.untag_queue(self._key(ctx, params), params.get("TagKeys") or [])
        return {}

    def list_queue_tags(self, ctx: CallContext, params: Params) -> Result:
        tags = self._queues.get_queue(self._key(ctx, params)).tags
        return {"Tags": dict(tags) or None}

    def list_dead_letter_source_queues(self, ctx: CallContext, params: Params) -> Result:
        sources = self._queues.dead_letter_sources(self._key(ctx, params))
        return {"queueUrls": [key.url(ctx.endpoint) for key in sources]}

    # messages -----------------------------------------------------------------------------

    def send_message(self, ctx: CallContext, params: Params) -> Result:
        key = self._key(ctx, params)
        message = _outgoing(params, ctx.trace_header)
        outcome = self._queues.messages.send_messages(key, [message], ctx.account_id)[0]
        if isinstance(outcome, ClientError):
            raise outcome
        return _sent(outcome)

    def send_message_batch(self, ctx: CallContext, params: Params) -> Result:
        key = self._key(ctx, params)
        entries = params.get("Entries") or []
        ids = [entry["Id"] for entry in entries]
        check_batch(ids, "SendMessageBatchRequestEntry")
        batch = [_outgoing(entry, ctx.trace_header) for entry in entries]
        check_batch_size([message_size(m.body, m.attributes) for m in batch])
        outcomes = self._queues.messages.send_messages(key, batch, ctx.account_id)
        return _batch_result(ids, [o if isinstance(o, ClientError) else _sent(o) for o in outcomes])

    async def receive_message(self, ctx: CallContext, params: Params) -> Result:
        key = self._key(ctx, params)
        options = receive_options(
            params.get("MaxNumberOfMessages"),
            params.get("VisibilityTimeout"),
            [*params.get("AttributeNames", []), *params.get("MessageSystemAttributeNames", [])],
            params.get("MessageAttributeNames", []),
        )
        deliveries = await self._queues.messages.receive_message(
            key, options, params.get("WaitTimeSeconds")
        )
        rendered = [
            self._delivery(d, options.system_names, options.attribute_patterns) for d in deliveries
        ]
        return {"Messages": rendered or None}  # SQS leaves Messages out of an empty receive

    @staticmethod
    def _delivery(delivery: Delivery, system: tuple[str, ...], patterns: tuple[str, ...]) -> Result:
        message = delivery.message
        attributes = select_attributes(message.attributes, patterns)
        return {
            "MessageId": message.id,
            "ReceiptHandle": delivery.receipt_handle,
            "MD5OfBody": md5_of_body(message.body),
            "Body": message.body,
            "Attributes": message.system_attributes(system) or None,
            "MD5OfMessageAttributes": md5_of_attributes(attributes),
            "MessageAttributes": {n: _wire(a) for n, a in attributes.items()} or None,
        }

    def delete_message(self, ctx: CallContext, params: Params) -> Result:
        key = self._key(ctx, params)
        return _raise_first(self._queues.messages.delete_messages(key, [params["ReceiptHandle"]]))

    def delete_message_batch(self, ctx: CallContext, params: Params) -> Result:
        key = self._key(ctx, params)
        entries = params.get("Entries") or []
        ids = [entry["Id"] for entry in entries]
        check_batch(ids, "DeleteMessageBatchRequestEntry")
        handles = [entry["ReceiptHandle"] for entry in entries]
        return _batch_result(ids, list(self._queues.messages.delete_messages(key, handles)))

    def change_message_visibility(self, ctx: CallContext, params: Params) -> Result:
        change = (params["ReceiptHandle"], params["VisibilityTimeout"])
        return _raise_first(
            self._queues.messages.change_visibilities(self._key(ctx, params), [change])
        )

    def change_message_visibility_batch(self, ctx: CallContext, params: Params) -> Result:
        key = self._key(ctx, params)
        entries = params.get("Entries") or []
        ids = [entry["Id"] for entry in entries]
        check_batch(ids, "ChangeMessageVisibilityBatchRequestEntry")
        changes = [(e["ReceiptHandle"], e.get("VisibilityTimeout")) for e in entries]
        return _batch_result(ids, list(self._queues.messages.change_visibilities(key, changes)))
