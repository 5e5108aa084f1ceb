// gureum's Node.js runtime client: serves a handler over the Lambda Runtime API (spec 9).
// Runs inside an execution environment as `node /var/runtime/node_runtime.js`; the handler is
// `_HANDLER` (`file.export`, resolved from LAMBDA_TASK_ROOT). Error payloads follow AWS's Node.js
// runtime: {errorType, errorMessage, trace}.
"use strict";
const http = require("http");
const path = require("path");

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, route, body, headers) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host, port, method, path: "/2018-06-01/runtime" + route, agent, headers: headers || {} },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks) }));
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}

function errorOf(error) {
  const value = error instanceof Error ? error : new Error(String(error));
  return {
    errorType: value.name || "Error",
    errorMessage: value.message,
    trace: (value.stack || "").split("\n"),
  };
}

function report(route, error) {
  const document = errorOf(error);
  console.error(`ERROR\t${JSON.stringify(document)}`);
  const headers = { "Lambda-Runtime-Function-Error-Type": document.errorType };
  return call("POST", route, JSON.stringify(document), headers);
}

async function load() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot < 1) {
    const error = new Error(`Bad handler ${spec}`);
    error.name = "Runtime.MalformedHandlerName";
    throw error;
  }
  const modulePath = path.resolve(process.env.LAMBDA_TASK_ROOT, spec.slice(0, dot));
  let module;
  try {
    module = require(modulePath);
  } catch (cause) {
    if (cause && cause.code === "MODULE_NOT_FOUND") {
      const error = new Error(`Cannot find module '${spec.slice(0, dot)}'`);
      error.name = "Runtime.ImportModuleError";
      throw error;
    }
    throw cause;
  }
  const handler = module[spec.slice(dot + 1)];
  if (typeof handler !== "function") {
    const error = new Error(`${spec} is undefined or not exported`);
    error.name = "Runtime.HandlerNotFound";
    throw error;
  }
  return handler;
}

function context(id, headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"] || 0);
  return {
    awsRequestId: id,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: headers["lambda-runtime-client-context"]
      ? JSON.parse(headers["lambda-runtime-client-context"])
      : undefined,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

function run(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    const callback = (error, result) => (error ? reject(error) : resolve(result));
    try {
      const returned = handler(event, ctx, callback);
      if (returned && typeof returned.then === "function") returned.then(resolve, reject);
    } catch (error) {
      reject(error);
    }
  });
}

async function main() {
  let handler;
  try {
    handler = await load();
  } catch (error) {
    await report("/init/error", error);
    process.exit(1);
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] || "";
    try {
      const event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
      const result = await run(handler, event, context(id, next.headers));
      const body = JSON.stringify(result === undefined ? null : result);
      await call("POST", `/invocation/${id}/response`, body);
    } catch (error) {
      await report(`/invocation/${id}/error`, error);
    }
  }
}

main();
