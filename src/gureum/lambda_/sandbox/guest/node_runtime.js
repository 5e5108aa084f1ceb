// gureum's Node.js runtime client: serves a handler over the Lambda Runtime API (spec 9).
// Runs inside an execution environment as `node /var/runtime/node_runtime.js`; the handler is
// `_HANDLER` (`file.export`, resolved from LAMBDA_TASK_ROOT). Error payloads follow AWS's Node.js
// runtime: {errorType, errorMessage, trace}.
"use strict";
const fs = require("fs");
const http = require("http");
const path = require("path");
const { pathToFileURL } = require("url");
const util = require("util");

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

// LoggingConfig.LogFormat=JSON (AWS_LAMBDA_LOG_FORMAT): console methods write one JSON line each,
// {timestamp, level, requestId, message}, as AWS's Node.js runtime does, and those below
// AWS_LAMBDA_LOG_LEVEL write nothing. Text format leaves console as it is.
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const CONSOLE_LEVELS = [
  ["trace", "TRACE"],
  ["debug", "DEBUG"],
  ["info", "INFO"],
  ["log", "INFO"],
  ["warn", "WARN"],
  ["error", "ERROR"],
  ["fatal", "FATAL"],
];
let currentRequestId;

function errorFields(error) {
  return {
    errorType: (error.constructor && error.constructor.name) || "UnknownError",
    errorMessage: error.message,
    stackTrace: typeof error.stack === "string" ? error.stack.split("\n") : [],
  };
}

function jsonLine(level, params) {
  const document = { timestamp: new Date().toISOString(), level, requestId: currentRequestId };
  const replacer = (key, value) => (value instanceof Error ? errorFields(value) : value);
  if (params.length === 1) {
    document.message = params[0];
    try {
      return JSON.stringify(document, replacer);
    } catch {
      document.message = util.format(params[0]);
      return JSON.stringify(document);
    }
  }
  document.message = util.format(...params);
  const error = params.find((param) => param instanceof Error);
  if (error) Object.assign(document, errorFields(error));
  return JSON.stringify(document, replacer);
}

function patchConsoleForJson() {
  if ((process.env.AWS_LAMBDA_LOG_FORMAT || "").toUpperCase() !== "JSON") return;
  const wanted = LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || "INFO").toUpperCase());
  const threshold = wanted < 0 ? LEVELS.indexOf("INFO") : wanted;
  for (const [method, level] of CONSOLE_LEVELS) {
    console[method] =
      LEVELS.indexOf(level) >= threshold
        ? (...params) => process.stdout.write(jsonLine(level, params) + "\n")
        : () => {};
  }
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
  if ((process.env.AWS_LAMBDA_LOG_FORMAT || "").toUpperCase() === "JSON") {
    console.error(error instanceof Error ? error : String(error));
  } else {
    console.error(`ERROR\t${JSON.stringify(document)}`);
  }
  const headers = { "Lambda-Runtime-Function-Error-Type": document.errorType };
  return call("POST", route, JSON.stringify(document), headers);
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

// Whether the nearest package.json above `file` says `"type": "module"` (then `.js` is ESM).
function inModulePackage(file) {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (isFile(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (path.dirname(dir) === dir) return false;
  }
}

// The handler's module, found as AWS's Node.js runtimes find it: the file as named, then `.js`
// (CommonJS, or an ES module inside a `"type": "module"` package), `.mjs` (an ES module) and
// `.cjs`; failing those, Node's own resolution from the task root (a directory, node_modules).
// ES modules are imported, so top-level await finishes before the first invocation.
async function loadModule(root, name) {
  const base = path.resolve(root, name);
  if (isFile(base)) return require(base);
  const esm = inModulePackage(base + ".js");
  if (isFile(base + ".js")) {
    return esm ? import(pathToFileURL(base + ".js").href) : require(base + ".js");
  }
  if (isFile(base + ".mjs")) return import(pathToFileURL(base + ".mjs").href);
  if (isFile(base + ".cjs")) return require(base + ".cjs");
  return require(require.resolve(name, { paths: [root] }));
}

function failure(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

async function load() {
  const spec = process.env._HANDLER || "";
  const dot = spec.lastIndexOf(".");
  if (dot < 1) throw failure("Runtime.MalformedHandlerName", `Bad handler ${spec}`);
  const moduleName = spec.slice(0, dot);
  let module;
  try {
    module = await loadModule(process.env.LAMBDA_TASK_ROOT, moduleName);
  } catch (cause) {
    const code = cause && cause.code;
    if (code === "MODULE_NOT_FOUND" && String(cause.message).includes(`'${moduleName}'`)) {
      throw failure("Runtime.ImportModuleError", `Cannot find module '${moduleName}'`);
    }
    if (code === "MODULE_NOT_FOUND" || code === "ERR_MODULE_NOT_FOUND") {
      throw failure("Runtime.ImportModuleError", `Error: ${cause.message}`);
    }
    if (cause instanceof SyntaxError) {
      throw failure("Runtime.UserCodeSyntaxError", `${cause.name}: ${cause.message}`);
    }
    throw cause;
  }
  const handler = module[spec.slice(dot + 1)];
  if (typeof handler !== "function") {
    throw failure("Runtime.HandlerNotFound", `${spec} is undefined or not exported`);
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

// Response streaming (spec 9.5), as AWS's Node.js runtime offers it: a handler wrapped in
// `awslambda.streamifyResponse` gets a writable `responseStream`, sent to the Runtime API as a
// chunked `streaming` response while it is written; a failure after the first byte goes in
// trailers. `awslambda.HttpResponseStream.from` puts a function URL's status and headers first.
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response";
const { Writable } = require("stream");

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = "response";
    return handler;
  },
  HttpResponseStream: {
    from(responseStream, prelude) {
      responseStream.setContentType(HTTP_INTEGRATION);
      responseStream.write(JSON.stringify(prelude || {}));
      responseStream.write(Buffer.alloc(8)); // eight NUL bytes end the prelude
      return responseStream;
    },
  },
};

function responseStream(id) {
  let contentType = "application/octet-stream";
  let request;
  let answered;
  const open = () => {
    if (request) return request;
    request = http.request({
      host,
      port,
      method: "POST",
      path: `/2018-06-01/runtime/invocation/${id}/response`,
      agent,
      headers: {
        "Lambda-Runtime-Function-Response-Mode": "streaming",
        "Transfer-Encoding": "chunked",
        "Content-Type": contentType,
        Trailer: "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body",
      },
    });
    answered = new Promise((resolve, reject) => {
      request.on("response", (response) => {
        response.resume();
        response.on("end", resolve);
      });
      request.on("error", reject);
    });
    return request;
  };
  const writable = new Writable({
    write(chunk, encoding, callback) {
      open().write(chunk, callback);
    },
    final(callback) {
      open().end(callback);
    },
  });
  writable.setContentType = (type) => {
    contentType = type;
  };
  // A failure: after the bytes already sent, the error's type and document in trailers.
  writable.fail = (error) => {
    const document = errorOf(error);
    const body = Buffer.from(JSON.stringify(document)).toString("base64");
    const req = open();
    req.addTrailers({
      "Lambda-Runtime-Function-Error-Type": document.errorType,
      "Lambda-Runtime-Function-Error-Body": body,
    });
    req.end();
    return document;
  };
  writable.answered = () => {
    open();
    return answered;
  };
  return writable;
}

async function stream(handler, event, ctx, id) {
  const output = responseStream(id);
  try {
    await handler(event, output, ctx);
    if (!output.writableEnded) output.end();
    await new Promise((resolve, reject) => {
      if (output.writableFinished) resolve();
      output.on("finish", resolve);
      output.on("error", reject);
    });
  } catch (error) {
    const document = output.fail(error);
    console.error(`ERROR\t${JSON.stringify(document)}`);
  }
  await output.answered();
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

// Debug mode (gureum's `--debug-functions`): the inspector listens inside the environment on the
// port gureum names; with `--debug-wait`, Init waits for a debugger (gureum bounds the wait).
function startDebugger() {
  const port = process.env._GUREUM_DEBUG_PORT;
  const wait = process.env._GUREUM_DEBUG_WAIT === "1";
  delete process.env._GUREUM_DEBUG_PORT;
  delete process.env._GUREUM_DEBUG_WAIT;
  if (port) require("inspector").open(Number(port), "127.0.0.1", wait);
}

async function main() {
  startDebugger();
  patchConsoleForJson();
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
    currentRequestId = id;
    process.env._X_AMZN_TRACE_ID = next.headers["lambda-runtime-trace-id"] || "";
    try {
      const event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
      if (handler[STREAMING] === "response") {
        await stream(handler, event, context(id, next.headers), id);
        continue;
      }
      const result = await run(handler, event, context(id, next.headers));
      const body = JSON.stringify(result === undefined ? null : result);
      await call("POST", `/invocation/${id}/response`, body);
    } catch (error) {
      await report(`/invocation/${id}/error`, error);
    }
  }
}

main();
