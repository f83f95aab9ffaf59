"""Schemathesis hooks for scripts/fuzz.sh.

`cargo lambda watch` (the local API Gateway emulator) answers 500 itself, before any
function runs, for a body that is not UTF-8 or a header that is not ASCII. API Gateway
instead passes such a body base64-encoded (the handlers answer 422; see the handler
test `binary_bodies_that_are_not_utf8_are_422`). These cases test the emulator, not
the service, so they are left out here.
"""

import schemathesis


@schemathesis.hook
def filter_body(context, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


@schemathesis.hook
def filter_headers(context, headers):
    return all(str(v).isascii() and str(v).isprintable() for v in (headers or {}).values())
