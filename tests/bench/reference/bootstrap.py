"""A minimal Lambda Runtime API loop (2018-06-01) for the reference handler.

The benchmark runs it as `/usr/bin/python3 tests/bench/reference/bootstrap.py`,
the way a custom runtime's `bootstrap` would exec Python (no shell wrapper in
between, which favours the reference a little). Like Lambda's Python runtime it
imports the handler module during init, before the first GET /next, so the
module-level boto3 client is created there; then it loops: GET /next, call
lambda_handler(event, context), POST the JSON result (or the error) on one
kept-alive connection. An answer other than 200 to GET /next ends the process
(status 1), as a 500 from the Runtime API asks.
"""
import http.client
import json
import os
import sys
import time

API = "/2018-06-01/runtime"


class Context:
    """The few context attributes a handler may read."""

    def __init__(self, request_id, deadline_ms, function_arn):
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def connect():
    host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
    return http.client.HTTPConnection(host.strip("[]"), int(port))


def post(conn, path, payload, headers=None):
    body = json.dumps(payload).encode()
    conn.request("POST", API + path, body=body,
                 headers=dict({"Content-Type": "application/json"}, **(headers or {})))
    conn.getresponse().read()


def error_payload(e):
    return {"errorMessage": str(e), "errorType": type(e).__name__, "stackTrace": []}


def main():
    conn = connect()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import handler
    except Exception as e:  # reported as Lambda reports an init failure
        post(conn, "/init/error", error_payload(e), {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        return 1
    while True:
        conn.request("GET", API + "/invocation/next")
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            return 1
        request_id = answer.getheader("Lambda-Runtime-Aws-Request-Id")
        os.environ["_X_AMZN_TRACE_ID"] = answer.getheader("Lambda-Runtime-Trace-Id") or ""
        context = Context(request_id, int(answer.getheader("Lambda-Runtime-Deadline-Ms") or 0),
                          answer.getheader("Lambda-Runtime-Invoked-Function-Arn"))
        try:
            result = handler.lambda_handler(json.loads(body), context)
        except Exception as e:
            post(conn, "/invocation/%s/error" % request_id, error_payload(e),
                 {"Lambda-Runtime-Function-Error-Type": type(e).__name__})
        else:
            post(conn, "/invocation/%s/response" % request_id, result)
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
