// The AWS SDK for JavaScript v3 against a running gureum: `node scenario.mjs <endpoint> [prefix]`.
//
// Each step prints one JSON line, {"step": ..., "ok": true, ...what it saw} or {"step": ...,
// "ok": false, "error": {...}}, and the scenario goes on to the next step, so one failure does not
// hide the others. tests/lambda_/contract/test_js_sdk.py runs this against a real server and
// asserts on the lines; run it by hand against `gureum serve` to see what the SDK makes of us.
// The SDK is used the way its documentation shows, nothing switched off to suit a local server
// but retries: whatever it trips on is gureum's bug.

import { deflateRawSync } from "node:zlib";

import {
  CloudWatchLogsClient,
  DescribeLogStreamsCommand,
  GetLogEventsCommand,
  ResourceNotFoundException as LogsResourceNotFoundException,
} from "@aws-sdk/client-cloudwatch-logs";
import {
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  KMSClient,
  NotFoundException,
} from "@aws-sdk/client-kms";
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetAliasCommand,
  GetFunctionCommand,
  InvalidParameterValueException,
  InvalidRequestContentException,
  InvokeCommand,
  InvokeWithResponseStreamCommand,
  LambdaClient,
  LambdaServiceException,
  PublishVersionCommand,
  PutFunctionEventInvokeConfigCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  paginateListFunctions,
  paginateListVersionsByFunction,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from "@aws-sdk/client-lambda";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";

const endpoint = process.argv[2];
if (!endpoint) {
  console.error("usage: node scenario.mjs <endpoint> [prefix]");
  process.exit(2);
}
const prefix = process.argv[3] ?? `js-${Date.now().toString(36)}`;
const config = {
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  maxAttempts: 1, // a retry would hide a first answer the SDK could not use
};
const lambda = new LambdaClient(config);
const sqs = new SQSClient(config);
const kms = new KMSClient(config);
const logs = new CloudWatchLogsClient(config);
const ROLE = "arn:aws:iam::000000000000:role/lambda-role";
const WAIT = { client: lambda, maxWaitTime: 30, minDelay: 1, maxDelay: 1 };
const FUNCTION = `${prefix}-fn`;

// --- a .zip built here, so the scenario needs nothing but the SDK ------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A deflated .zip of {name: text}: local headers, then the central directory, then its end. */
function zipOf(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const nameBytes = Buffer.from(name);
    const data = Buffer.from(text);
    const packed = deflateRawSync(data);
    // The 26 bytes a local header and a central directory entry share, from "version needed"
    // to "extra field length".
    const entry = Buffer.alloc(26);
    entry.writeUInt16LE(20, 0); // version needed: 2.0
    entry.writeUInt16LE(8, 4); // deflate
    entry.writeUInt16LE(0x0021, 8); // DOS date 1980-01-01
    entry.writeUInt32LE(crc32(data), 10);
    entry.writeUInt32LE(packed.length, 14);
    entry.writeUInt32LE(data.length, 18);
    entry.writeUInt16LE(nameBytes.length, 22);
    const local = Buffer.alloc(4);
    local.writeUInt32LE(0x04034b50, 0);
    const central = Buffer.alloc(6);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by: Unix, 2.0
    const tail = Buffer.alloc(14); // comment length, disk, internal attributes: 0
    tail.writeUInt32LE((0o100644 << 16) >>> 0, 6); // a regular file, rw-r--r--
    tail.writeUInt32LE(offset, 10);
    locals.push(local, entry, nameBytes, packed);
    centrals.push(Buffer.concat([central, entry, tail, nameBytes]));
    offset += local.length + entry.length + nameBytes.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length, 8);
  end.writeUInt16LE(centrals.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, directory, end]));
}

const handler = (tag) =>
  zipOf({
    "index.py": [
      "def handler(event, context):",
      `    print("handling", ${JSON.stringify(tag)})`,
      `    return {"tag": ${JSON.stringify(tag)}, "event": event}`,
      "",
    ].join("\n"),
  });

const failing = zipOf({
  "index.py": 'def handler(event, context):\n    raise ValueError("broken on purpose")\n',
});

// --- how steps report ------------------------------------------------------------------------

function errorOf(error) {
  return {
    name: error?.name,
    message: error?.message,
    status: error?.$metadata?.httpStatusCode,
    fault: error?.$fault,
    type: error?.Type,
    code: error?.Code, // SQS: the query-protocol code, from x-amzn-query-error
    requestId: error?.$metadata?.requestId,
    stack: String(error?.stack ?? error).split("\n").slice(0, 6).join("\n"),
  };
}

async function step(name, body) {
  const started = Date.now();
  try {
    const seen = await body();
    console.log(JSON.stringify({ step: name, ok: true, ms: Date.now() - started, ...seen }));
  } catch (error) {
    console.log(JSON.stringify({ step: name, ok: false, error: errorOf(error) }));
  }
}

/** What a call that must fail threw, as plain data: class checks, name, status, message. */
async function failure(call, classes) {
  try {
    await call();
  } catch (error) {
    const seen = errorOf(error);
    delete seen.stack;
    for (const [label, type] of Object.entries(classes)) seen[`is${label}`] = error instanceof type;
    return seen;
  }
  return { name: "no error" };
}

const text = (bytes) => Buffer.from(bytes ?? []).toString("utf8");
const isDate = (value) => value instanceof Date && !Number.isNaN(value.getTime());
const lambdaErrors = {
  ResourceNotFound: ResourceNotFoundException,
  ResourceConflict: ResourceConflictException,
  InvalidParameterValue: InvalidParameterValueException,
  InvalidRequestContent: InvalidRequestContentException,
  LambdaService: LambdaServiceException,
};

async function invoke(params) {
  const reply = await lambda.send(new InvokeCommand(params));
  return { ...reply, body: reply.Payload ? JSON.parse(text(reply.Payload)) : null };
}

async function createFunction(name, tag, zip = handler(tag)) {
  const created = await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: "python3.12",
      Role: ROLE,
      Handler: "index.handler",
      Code: { ZipFile: zip },
      Timeout: 10,
    }),
  );
  const waited = await waitUntilFunctionActiveV2(WAIT, { FunctionName: name });
  return { created, waited };
}

// --- the scenario ----------------------------------------------------------------------------

await step("create", async () => {
  const { created, waited } = await createFunction(FUNCTION, "v1");
  const got = await lambda.send(new GetFunctionCommand({ FunctionName: FUNCTION }));
  return {
    functionArn: created.FunctionArn,
    runtime: created.Runtime,
    createdState: created.State,
    waiter: waited.state,
    state: got.Configuration.State,
    lastUpdateStatus: got.Configuration.LastUpdateStatus,
    lastModified: got.Configuration.LastModified,
    codeSize: got.Configuration.CodeSize,
    codeLocation: typeof got.Code?.Location,
    status: got.$metadata.httpStatusCode,
    requestId: got.$metadata.requestId,
  };
});

await step("invoke-tail", async () => {
  const reply = await invoke({
    FunctionName: FUNCTION,
    LogType: "Tail",
    Payload: JSON.stringify({ hello: "world" }),
  });
  const tail = Buffer.from(reply.LogResult ?? "", "base64").toString("utf8");
  return {
    status: reply.StatusCode,
    executedVersion: reply.ExecutedVersion,
    functionError: reply.FunctionError ?? null,
    requestId: reply.$metadata.requestId,
    body: reply.body,
    tail: tail.split("\n").filter(Boolean),
  };
});

await step("function-error", async () => {
  await createFunction(`${prefix}-fails`, null, failing);
  const reply = await invoke({ FunctionName: `${prefix}-fails`, Payload: "{}" });
  return { status: reply.StatusCode, functionError: reply.FunctionError, body: reply.body };
});

await step("update-code", async () => {
  const updated = await lambda.send(
    new UpdateFunctionCodeCommand({ FunctionName: FUNCTION, ZipFile: handler("v2") }),
  );
  const waited = await waitUntilFunctionUpdatedV2(WAIT, { FunctionName: FUNCTION });
  const reply = await invoke({ FunctionName: FUNCTION, Payload: "{}" });
  return {
    lastUpdateStatus: updated.LastUpdateStatus,
    waiter: waited.state,
    tag: reply.body.tag,
  };
});

await step("publish", async () => {
  const first = await lambda.send(new PublishVersionCommand({ FunctionName: FUNCTION }));
  await lambda.send(
    new UpdateFunctionCodeCommand({ FunctionName: FUNCTION, ZipFile: handler("v3") }),
  );
  await waitUntilFunctionUpdatedV2(WAIT, { FunctionName: FUNCTION });
  const second = await lambda.send(
    new PublishVersionCommand({ FunctionName: FUNCTION, Description: "third code" }),
  );
  const versions = [];
  for await (const page of paginateListVersionsByFunction(
    { client: lambda, pageSize: 1 },
    { FunctionName: FUNCTION },
  )) {
    versions.push(page.Versions.map((v) => v.Version));
  }
  const pinned = await invoke({ FunctionName: FUNCTION, Qualifier: first.Version, Payload: "{}" });
  return {
    versions: [first.Version, second.Version],
    arns: [first.FunctionArn, second.FunctionArn],
    pages: versions,
    pinnedTag: pinned.body.tag,
    pinnedExecuted: pinned.ExecutedVersion,
  };
});

await step("weighted-alias", async () => {
  const created = await lambda.send(
    new CreateAliasCommand({
      FunctionName: FUNCTION,
      Name: "live",
      FunctionVersion: "1",
      RoutingConfig: { AdditionalVersionWeights: { 2: 0.5 } },
    }),
  );
  const got = await lambda.send(new GetAliasCommand({ FunctionName: FUNCTION, Name: "live" }));
  const executed = {};
  for (let i = 0; i < 24; i++) {
    const reply = await invoke({ FunctionName: FUNCTION, Qualifier: "live", Payload: "{}" });
    const key = `${reply.ExecutedVersion}:${reply.body.tag}`;
    executed[key] = (executed[key] ?? 0) + 1;
  }
  return {
    aliasArn: created.AliasArn,
    weights: got.RoutingConfig?.AdditionalVersionWeights ?? null,
    functionVersion: got.FunctionVersion,
    executed,
  };
});

await step("paginate-functions", async () => {
  const names = [0, 1, 2, 3, 4].map((i) => `${prefix}-page-${i}`);
  for (const name of names) {
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: "python3.12",
        Role: ROLE,
        Handler: "index.handler",
        Code: { ZipFile: handler(name) },
      }),
    );
  }
  const sizes = [];
  const seen = [];
  for await (const page of paginateListFunctions({ client: lambda, pageSize: 2 }, {})) {
    sizes.push(page.Functions.length);
    seen.push(...page.Functions.map((f) => f.FunctionName));
  }
  const limited = paginateListFunctions({ client: lambda, pageSize: 2 }, { MaxItems: 2 });
  const firstPage = (await limited.next()).value;
  return {
    pageSizes: sizes,
    ours: names.filter((n) => seen.includes(n)).length,
    duplicates: seen.length - new Set(seen).size,
    firstPageSize: firstPage.Functions.length,
    firstPageMarker: typeof firstPage.NextMarker,
  };
});

await step("typed-errors", async () => {
  const missing = await failure(
    () => lambda.send(new GetFunctionCommand({ FunctionName: `${prefix}-nowhere` })),
    lambdaErrors,
  );
  const duplicate = await failure(() => createFunction(FUNCTION, "again"), lambdaErrors);
  const badAlias = await failure(
    () =>
      lambda.send(
        new CreateAliasCommand({ FunctionName: FUNCTION, Name: "bad", FunctionVersion: "99" }),
      ),
    lambdaErrors,
  );
  const invalid = await failure(
    () =>
      lambda.send(new InvokeCommand({ FunctionName: FUNCTION, Payload: "not json" })),
    lambdaErrors,
  );
  const unmodeled = await failure(
    () => lambda.send(new GetAliasCommand({ FunctionName: FUNCTION, Name: "2024" })),
    lambdaErrors,
  );
  const queue = await failure(
    () =>
      sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: `${endpoint}/000000000000/${prefix}-no-queue`,
          AttributeNames: ["All"],
        }),
      ),
    { QueueDoesNotExist },
  );
  const key = await failure(
    () =>
      kms.send(
        new EncryptCommand({
          KeyId: "alias/no-such-key",
          Plaintext: Buffer.from("x"),
        }),
      ),
    { NotFound: NotFoundException },
  );
  const stream = await failure(
    () =>
      logs.send(
        new GetLogEventsCommand({
          logGroupName: `/aws/lambda/${FUNCTION}`,
          logStreamName: "no-such-stream",
        }),
      ),
    { ResourceNotFound: LogsResourceNotFoundException },
  );
  return { missing, duplicate, badAlias, invalid, unmodeled, queue, key, stream };
});

await step("async-destination", async () => {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-success` }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
  );
  const configured = await lambda.send(
    new PutFunctionEventInvokeConfigCommand({
      FunctionName: FUNCTION,
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnSuccess: { Destination: Attributes.QueueArn } },
    }),
  );
  const accepted = await lambda.send(
    new InvokeCommand({
      FunctionName: FUNCTION,
      InvocationType: "Event",
      Payload: JSON.stringify({ async: true }),
    }),
  );
  let messages = [];
  const deadline = Date.now() + 20_000;
  while (messages.length === 0 && Date.now() < deadline) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        WaitTimeSeconds: 2,
        MaxNumberOfMessages: 1,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    messages = received.Messages ?? [];
  }
  const record = messages.length ? JSON.parse(messages[0].Body) : null;
  return {
    configLastModified: isDate(configured.LastModified),
    configDestination: configured.DestinationConfig?.OnSuccess?.Destination,
    status: accepted.StatusCode,
    acceptedRequestId: accepted.$metadata.requestId,
    condition: record?.requestContext?.condition,
    recordRequestId: record?.requestContext?.requestId,
    functionArn: record?.requestContext?.functionArn,
    requestPayload: record?.requestPayload,
    responsePayload: record?.responsePayload,
    receiveCount: messages[0]?.Attributes?.ApproximateReceiveCount,
  };
});

await step("kms", async () => {
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: `${prefix} key` }));
  const plaintext = Buffer.from("a secret, with bytes \u00e9\u0000\u00ff");
  const encrypted = await kms.send(
    new EncryptCommand({
      KeyId: KeyMetadata.KeyId,
      Plaintext: plaintext,
      EncryptionContext: { purpose: "contract" },
    }),
  );
  const decrypted = await kms.send(
    new DecryptCommand({
      CiphertextBlob: encrypted.CiphertextBlob,
      EncryptionContext: { purpose: "contract" },
    }),
  );
  return {
    keyState: KeyMetadata.KeyState,
    creationDate: isDate(KeyMetadata.CreationDate),
    keyArn: KeyMetadata.Arn,
    encryptedWith: encrypted.KeyId,
    ciphertextBytes: encrypted.CiphertextBlob.length,
    roundTrip: Buffer.from(decrypted.Plaintext).equals(plaintext),
    decryptedWith: decrypted.KeyId,
  };
});

await step("logs", async () => {
  const group = `/aws/lambda/${FUNCTION}`;
  const { logStreams } = await logs.send(
    new DescribeLogStreamsCommand({
      logGroupName: group,
      orderBy: "LastEventTime",
      descending: true,
      limit: 50,
    }),
  );
  const lines = [];
  for (const stream of logStreams) {
    let token;
    for (;;) {
      const page = await logs.send(
        new GetLogEventsCommand({
          logGroupName: group,
          logStreamName: stream.logStreamName,
          startFromHead: true,
          limit: 5,
          nextToken: token,
        }),
      );
      lines.push(...page.events.map((e) => e.message.split(" ")[0].trim()));
      if (!page.events.length || page.nextForwardToken === token) break;
      token = page.nextForwardToken;
    }
  }
  const count = (word) => lines.filter((l) => l === word).length;
  return {
    streams: logStreams.length,
    streamNames: logStreams.map((s) => s.logStreamName).slice(0, 3),
    firstEventTimestamp: typeof logStreams[0]?.firstEventTimestamp,
    starts: count("START"),
    ends: count("END"),
    reports: count("REPORT"),
    handled: count("handling"),
  };
});

await step("response-stream", async () => {
  const name = `${prefix}-stream`;
  const code = [
    "exports.handler = awslambda.streamifyResponse(async (event, stream) => {",
    '  stream.write("one ");',
    "  await new Promise((resolve) => setTimeout(resolve, 200));",
    '  stream.end("two");',
    "});",
    "",
  ].join("\n");
  await lambda.send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: "nodejs20.x",
      Role: ROLE,
      Handler: "index.handler",
      Code: { ZipFile: zipOf({ "index.js": code }) },
    }),
  );
  await waitUntilFunctionActiveV2(WAIT, { FunctionName: name });
  const reply = await lambda.send(
    new InvokeWithResponseStreamCommand({ FunctionName: name, Payload: "{}", LogType: "Tail" }),
  );
  const events = [];
  for await (const event of reply.EventStream) {
    if (event.PayloadChunk) events.push(["PayloadChunk", text(event.PayloadChunk.Payload)]);
    if (event.InvokeComplete) {
      const complete = event.InvokeComplete;
      events.push(["InvokeComplete", complete.ErrorCode ?? null, typeof complete.LogResult]);
    }
  }
  return { status: reply.StatusCode, executedVersion: reply.ExecutedVersion, events };
});

await step("cleanup", async () => {
  const names = [
    FUNCTION,
    `${prefix}-fails`,
    `${prefix}-stream`,
    ...[0, 1, 2, 3, 4].map((i) => `${prefix}-page-${i}`),
  ];
  for (const name of names) {
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name })).catch(() => {});
  }
  return { deleted: names.length };
});
