"""Request limits AWS documents and moto 5.2.1 does not (fully) enforce.

* DynamoDB BatchWriteItem takes 1 to 25 write requests per table and at most 25 in all, and at
  most one request per item: otherwise the whole batch is refused with ``ValidationException``
  (moto enforces none of the counts, and compares whole items rather than keys for duplicates):
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
  ("There are more than 25 requests in the batch"; "You try to perform multiple operations on
  the same item in the same BatchWriteItem request"; RequestItems "Minimum number of 1 item.
  Maximum number of 25 items.")
* DynamoDB BatchGetItem takes at most 100 keys (moto already refuses more, per table and in all,
  with AWS's two messages) and at least one key per table (added here):
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
* Both answer every item / key as ``UnprocessedItems`` / ``UnprocessedKeys`` when an
  ``"unprocessed": true`` fault rule fires (tests/emulator/faults.py), as AWS may under
  throttling — after validation, so that a refused batch stays refused.
* SNS Publish: "messages must be UTF-8 encoded strings and at most 256 KB in size (262,144 bytes,
  not 262,144 characters)"; message attributes, "including name, type, and value, are included
  in the message size restriction". moto counts characters of the message alone. Refused with
  ``InvalidParameter`` "Invalid parameter: Message too long":
  https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
  https://docs.aws.amazon.com/sns/latest/api/API_MessageAttributeValue.html
* SNS PublishBatch: "up to 10 messages"; "The total aggregate size of all messages in a single
  PublishBatch request can't exceed 256 KiB (262,144 bytes)" (attributes count, as for Publish),
  else ``BatchRequestTooLong``; no entry: ``EmptyBatchRequest``; an ``Id`` that is not 1 to 80
  of alphanumerics, hyphens and underscores: ``InvalidBatchEntryId``. moto checks the count and
  distinct ids only:
  https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html
  https://docs.aws.amazon.com/sns/latest/api/API_PublishBatchRequestEntry.html

The exact wording of AWS's per-table BatchWriteItem message echoes Java object names and is
approximated; the error code is exact.
"""

from __future__ import annotations

import json
import re

from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.responses import DynamoHandler
from moto.sns.exceptions import InvalidParameterValue, SNSException
from moto.sns.responses import SNSResponse

import faults

WRITE_LIMIT = 25
GET_LIMIT = 100
MESSAGE_LIMIT = 262_144

_original_batch_write = DynamoHandler.batch_write_item
_original_batch_get = DynamoHandler.batch_get_item
_original_publish = SNSResponse.publish
_original_publish_batch = SNSResponse.publish_batch
ENTRY_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")


def _key(table, item: dict) -> str:
    names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    return json.dumps([item.get(n) for n in names], sort_keys=True)


def batch_write_item(self) -> ActionResult:
    batches = self.body.get("RequestItems") or {}
    for name, requests in batches.items():
        if not 1 <= len(requests) <= WRITE_LIMIT:
            raise MockValidationException(
                f"1 validation error detected: Value '{{{name}=[{len(requests)} WriteRequest]}}' at 'requestItems' "
                "failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less "
                f"than or equal to {WRITE_LIMIT}, Member must have length greater than or equal to 1]")
    if sum(len(r) for r in batches.values()) > WRITE_LIMIT:
        raise MockValidationException("Too many items requested for the BatchWriteItem call")
    for name, requests in batches.items():
        table = self.dynamodb_backend.get_table(name)  # ResourceNotFoundException when absent
        seen = set()
        for request in requests:
            item = (request.get("PutRequest") or {}).get("Item") or (request.get("DeleteRequest") or {}).get("Key") or {}
            key = _key(table, item)
            if key in seen:
                raise MockValidationException("Provided list of item keys contains duplicates")
            seen.add(key)
    if faults.take("unprocessed"):
        return ActionResult({"UnprocessedItems": batches})
    return _original_batch_write(self)


def batch_get_item(self) -> ActionResult:
    batches = self.body.get("RequestItems") or {}
    for name, request in batches.items():
        if len(request.get("Keys") or []) < 1:
            raise MockValidationException(
                f"1 validation error detected: Value at 'requestItems.{name}.member.keys' failed to satisfy "
                "constraint: Member must have length greater than or equal to 1")
        if len(request["Keys"]) > GET_LIMIT:
            return _original_batch_get(self)  # moto refuses it with AWS's message
    if sum(len(r["Keys"]) for r in batches.values()) > GET_LIMIT:
        return _original_batch_get(self)
    for name in batches:
        self.dynamodb_backend.get_table(name)
    if faults.take("unprocessed"):
        return ActionResult({"Responses": {}, "UnprocessedKeys": batches})
    return _original_batch_get(self)


def _attribute_bytes(attributes: dict) -> int:
    total = 0
    for name, value in (attributes or {}).items():
        total += len(name.encode()) + len((value.get("DataType") or "").encode())
        if value.get("StringValue") is not None:
            total += len(value["StringValue"].encode())
        elif value.get("BinaryValue") is not None:
            raw = value["BinaryValue"]
            total += len(raw if isinstance(raw, bytes) else str(raw).encode())
    return total


def publish(self) -> ActionResult:
    if self._get_param("PhoneNumber") is None:
        message = self._get_param("Message") or ""
        size = len(message.encode("utf-8")) + _attribute_bytes(self._get_param("MessageAttributes", {}))
        if size > MESSAGE_LIMIT:
            raise InvalidParameterValue("Invalid parameter: Message too long")
    return _original_publish(self)


def publish_batch(self) -> ActionResult:
    entries = self._get_param("PublishBatchRequestEntries", []) or []
    if not entries:
        raise SNSException("EmptyBatchRequest", "The batch request doesn't contain any entries.")
    for entry in entries:
        if not ENTRY_ID.fullmatch(str(entry.get("Id") or "")):
            raise SNSException("InvalidBatchEntryId", "The Id of a batch entry in a batch request doesn't abide by the specification.")
    size = sum(len((e.get("Message") or "").encode("utf-8")) + _attribute_bytes(e.get("MessageAttributes", {}))
               for e in entries)
    if size > MESSAGE_LIMIT:
        raise SNSException("BatchRequestTooLong", "The length of all the messages put together is more than the limit.")
    return _original_publish_batch(self)


def install() -> None:
    """Patch moto's DynamoDB and SNS responses. Call before the server starts."""
    DynamoHandler.batch_write_item = batch_write_item
    DynamoHandler.batch_get_item = batch_get_item
    SNSResponse.publish = publish
    SNSResponse.publish_batch = publish_batch
