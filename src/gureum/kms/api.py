"""KMS operations over `KeyService`: what `boto3.client("kms")` and `aws kms` use.

Each handler reads the parsed request (blobs already bytes), calls one service method and renders
the model's output shape (blobs returned as bytes). Operations that name a key in their response
name it by ARN where AWS does (Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, Schedule/
CancelKeyDeletion). List operations page with `Limit` and an opaque `Marker` (a position).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gureum.aws.frontend import CallContext, Handler
from gureum.kms.domain.errors import DryRunSucceeded, InvalidMarker
from gureum.kms.domain.keys import (
    AWS_KMS,
    ENCRYPT_DECRYPT,
    SYMMETRIC_DEFAULT,
    Key,
    KeyAlias,
    KeyState,
    check_algorithm,
)
from gureum.kms.services.keys import KeyService

Params = dict[str, Any]
Result = dict[str, Any]
DRY_RUN = "The request would have succeeded, but the DryRun option is set."


def _page(items: Sequence[Any], params: Params, default_limit: int) -> tuple[list[Any], Result]:
    """One page of `items` and the `Truncated` / `NextMarker` members that go with it."""
    marker = params.get("Marker")
    start = 0
    if marker is not None:
        if not marker.isdigit() or int(marker) > len(items):
            raise InvalidMarker(f"Invalid marker: {marker}")
        start = int(marker)
    end = start + params.get("Limit", default_limit)
    more: Result = {"Truncated": end < len(items)}
    if end < len(items):
        more["NextMarker"] = str(end)
    return list(items[start:end]), more


def _metadata(key: Key) -> Result:
    return {
        "AWSAccountId": key.account,
        "KeyId": key.key_id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.state is KeyState.ENABLED,
        "Description": key.description,
        "KeyUsage": ENCRYPT_DECRYPT,
        "KeyState": key.state.value,
        "DeletionDate": key.deletion_date,
        "Origin": AWS_KMS,
        "KeyManager": key.manager.value,
        "CustomerMasterKeySpec": SYMMETRIC_DEFAULT,
        "KeySpec": SYMMETRIC_DEFAULT,
        "EncryptionAlgorithms": [SYMMETRIC_DEFAULT],
        "MultiRegion": False,
    }


def _alias(alias: KeyAlias) -> Result:
    return {
        "AliasName": alias.name,
        "AliasArn": alias.arn,
        "TargetKeyId": alias.key_id,
        "CreationDate": alias.created,
        "LastUpdatedDate": alias.updated,
    }


def _tags(params: Params) -> list[tuple[str, str]]:
    return [(tag["TagKey"], tag["TagValue"]) for tag in params.get("Tags", [])]


def _algorithms(params: Params, *members: str) -> None:
    for member in members:
        check_algorithm(params.get(member, SYMMETRIC_DEFAULT))


def _dry_run(params: Params, result: Result) -> Result:
    if params.get("DryRun"):
        raise DryRunSucceeded(DRY_RUN)
    return result


class KmsApi:
    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "CreateKey": self.create_key,
            "DescribeKey": self.describe_key,
            "ListKeys": self.list_keys,
            "UpdateKeyDescription": self.update_key_description,
            "EnableKey": self.enable_key,
            "DisableKey": self.disable_key,
            "ScheduleKeyDeletion": self.schedule_key_deletion,
            "CancelKeyDeletion": self.cancel_key_deletion,
            "EnableKeyRotation": self.enable_key_rotation,
            "DisableKeyRotation": self.disable_key_rotation,
            "GetKeyRotationStatus": self.get_key_rotation_status,
            "RotateKeyOnDemand": self.rotate_key_on_demand,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListResourceTags": self.list_resource_tags,
            "CreateAlias": self.create_alias,
            "UpdateAlias": self.update_alias,
            "DeleteAlias": self.delete_alias,
            "ListAliases": self.list_aliases,
            "Encrypt": self.encrypt,
            "Decrypt": self.decrypt,
            "GenerateDataKey": self.generate_data_key,
            "GenerateDataKeyWithoutPlaintext": self.generate_data_key_without_plaintext,
            "ReEncrypt": self.re_encrypt,
            "GenerateRandom": self.generate_random,
        }

    # --- keys ---------------------------------------------------------------------------------

    def create_key(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.create_key(
            ctx.account_id,
            ctx.region,
            params.get("Description", ""),
            _tags(params),
            key_spec=params.get("KeySpec")
            or params.get("CustomerMasterKeySpec")
            or SYMMETRIC_DEFAULT,
            key_usage=params.get("KeyUsage", ENCRYPT_DECRYPT),
            origin=params.get("Origin", AWS_KMS),
            multi_region=params.get("MultiRegion", False),
        )
        return {"KeyMetadata": _metadata(key)}

    def describe_key(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.describe_key(ctx.account_id, ctx.region, params["KeyId"])
        return {"KeyMetadata": _metadata(key)}

    def list_keys(self, ctx: CallContext, params: Params) -> Result:
        keys = self._keys.list_keys(ctx.account_id, ctx.region)
        page, more = _page(keys, params, 100)
        return {"Keys": [{"KeyId": key.key_id, "KeyArn": key.arn} for key in page], **more}

    def update_key_description(self, ctx: CallContext, params: Params) -> Result:
        self._keys.update_key_description(
            ctx.account_id, ctx.region, params["KeyId"], params["Description"]
        )
        return {}

    def enable_key(self, ctx: CallContext, params: Params) -> Result:
        self._keys.enable_key(ctx.account_id, ctx.region, params["KeyId"])
        return {}

    def disable_key(self, ctx: CallContext, params: Params) -> Result:
        self._keys.disable_key(ctx.account_id, ctx.region, params["KeyId"])
        return {}

    def schedule_key_deletion(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.schedule_key_deletion(
            ctx.account_id, ctx.region, params["KeyId"], params.get("PendingWindowInDays")
        )
        return {
            "KeyId": key.arn,
            "DeletionDate": key.deletion_date,
            "KeyState": key.state.value,
            "PendingWindowInDays": key.pending_window_days,
        }

    def cancel_key_deletion(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.cancel_key_deletion(ctx.account_id, ctx.region, params["KeyId"])
        return {"KeyId": key.arn}

    def enable_key_rotation(self, ctx: CallContext, params: Params) -> Result:
        self._keys.enable_key_rotation(
            ctx.account_id, ctx.region, params["KeyId"], params.get("RotationPeriodInDays")
        )
        return {}

    def disable_key_rotation(self, ctx: CallContext, params: Params) -> Result:
        self._keys.disable_key_rotation(ctx.account_id, ctx.region, params["KeyId"])
        return {}

    def get_key_rotation_status(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.describe_key(ctx.account_id, ctx.region, params["KeyId"])
        return {
            "KeyId": key.key_id,
            "KeyRotationEnabled": key.rotation_period_days is not None,
            "RotationPeriodInDays": key.rotation_period_days,
            "NextRotationDate": key.next_rotation,
        }

    def rotate_key_on_demand(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.rotate_key_on_demand(ctx.account_id, ctx.region, params["KeyId"])
        return {"KeyId": key.key_id}

    def tag_resource(self, ctx: CallContext, params: Params) -> Result:
        self._keys.tag_key(ctx.account_id, ctx.region, params["KeyId"], _tags(params))
        return {}

    def untag_resource(self, ctx: CallContext, params: Params) -> Result:
        self._keys.untag_key(ctx.account_id, ctx.region, params["KeyId"], params["TagKeys"])
        return {}

    def list_resource_tags(self, ctx: CallContext, params: Params) -> Result:
        key = self._keys.describe_key(ctx.account_id, ctx.region, params["KeyId"])
        page, more = _page(key.tags, params, 50)
        return {"Tags": [{"TagKey": k, "TagValue": v} for k, v in page], **more}

    # --- aliases ------------------------------------------------------------------------------

    def create_alias(self, ctx: CallContext, params: Params) -> Result:
        self._keys.aliases.create(
            ctx.account_id, ctx.region, params["AliasName"], params["TargetKeyId"]
        )
        return {}

    def update_alias(self, ctx: CallContext, params: Params) -> Result:
        self._keys.aliases.update(
            ctx.account_id, ctx.region, params["AliasName"], params["TargetKeyId"]
        )
        return {}

    def delete_alias(self, ctx: CallContext, params: Params) -> Result:
        self._keys.aliases.delete(ctx.account_id, ctx.region, params["AliasName"])
        return {}

    def list_aliases(self, ctx: CallContext, params: Params) -> Result:
        aliases = self._keys.aliases.list(ctx.account_id, ctx.region, params.get("KeyId"))
        page, more = _page(aliases, params, 50)
        return {"Aliases": [_alias(alias) for alias in page], **more}

    # --- cryptography -------------------------------------------------------------------------

    def encrypt(self, ctx: CallContext, params: Params) -> Result:
        _algorithms(params, "EncryptionAlgorithm")
        sealed = self._keys.seal(
            ctx.account_id,
            ctx.region,
            params["KeyId"],
            params["Plaintext"],
            params.get("EncryptionContext"),
        )
        return _dry_run(
            params,
            {
                "CiphertextBlob": sealed.ciphertext,
                "KeyId": sealed.key.arn,
                "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
            },
        )

    def decrypt(self, ctx: CallContext, params: Params) -> Result:
        _algorithms(params, "EncryptionAlgorithm")
        opened = self._keys.unseal(
            ctx.account_id,
            ctx.region,
            params.get("CiphertextBlob", b""),
            params.get("EncryptionContext"),
            params.get("KeyId"),
        )
        return _dry_run(
            params,
            {
                "Plaintext": opened.plaintext,
                "KeyId": opened.key.arn,
                "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
            },
        )

    def generate_data_key(self, ctx: CallContext, params: Params) -> Result:
        data_key = self._keys.generate_data_key(
            ctx.account_id,
            ctx.region,
            params["KeyId"],
            params.get("KeySpec"),
            params.get("NumberOfBytes"),
            params.get("EncryptionContext"),
        )
        return _dry_run(
            params,
            {
                "CiphertextBlob": data_key.ciphertext,
                "Plaintext": data_key.plaintext,
                "KeyId": data_key.key.arn,
            },
        )

    def generate_data_key_without_plaintext(self, ctx: CallContext, params: Params) -> Result:
        result = self.generate_data_key(ctx, params)
        del result["Plaintext"]
        return result

    def re_encrypt(self, ctx: CallContext, params: Params) -> Result:
        _algorithms(params, "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm")
        done = self._keys.re_encrypt(
            ctx.account_id,
            ctx.region,
            # Not required by the model (as for Decrypt): a missing blob is no valid ciphertext.
            params.get("CiphertextBlob", b""),
            params["DestinationKeyId"],
            params.get("SourceEncryptionContext"),
            params.get("DestinationEncryptionContext"),
            params.get("SourceKeyId"),
        )
        return _dry_run(
            params,
            {
                "CiphertextBlob": done.ciphertext,
                "SourceKeyId": done.source.arn,
                "KeyId": done.destination.arn,
                "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
                "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
            },
        )

    def generate_random(self, ctx: CallContext, params: Params) -> Result:
        return {"Plaintext": self._keys.random(params.get("NumberOfBytes"))}
