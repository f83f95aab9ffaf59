"""Schemathesis hooks for scripts/fuzz.sh.

`cargo lambda watch` (the local API Gateway emulator) answers 500 itself, before any
function runs, for a body that is not UTF-8 or a header that is not ASCII. API Gateway
instead passes such a body base64-encoded (the handlers answer 422; see the handler
test `binary_bodies_that_are_not_utf8_are_422`). These cases test the emulator, not
the service, so they are left out here.

A password change revokes every token issued before it, the fuzzer's own included:
every later authenticated call would be 401 and nothing more would be learnt, so
`PUT /org/update` bodies with a password are left out too (the handler and end-to-end
tests cover password changes).
"""

import schemathesis


@schemathesis.hook
def filter_body(context, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    operation = getattr(context, "operation", None)
    if isinstance(body, dict) and getattr(operation, "path", None) == "/org/update":
        return "password" not in body
    return True


@schemathesis.hook
def filter_headers(context, headers):
    return all(str(v).isascii() and str(v).isprintable() for v in (headers or {}).values())
