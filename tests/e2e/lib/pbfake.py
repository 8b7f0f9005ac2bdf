"""Hand-encoded tunetrail protobuf for the e2e tests that forge what a
hostile client would send (origin_guard.sh, audit.sh): no generated code,
so a test can write any bytes, valid or not. Field numbers: proto/tunetrail.proto."""
import time


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, wt, payload):
    """A field: wt 0 (varint payload, already encoded), 1 (8 bytes), 2 (length-delimited)."""
    key = varint((num << 3) | wt)
    return key + (varint(len(payload)) + payload if wt == 2 else payload)


def s(num, text):
    """A length-delimited field of text (str) or bytes."""
    return field(num, 2, text.encode() if isinstance(text, str) else text)


def event(origin, seq, kind_num, body, t=None):
    """An Event of origin (16 bytes) with seq, time t (ns, default now) and
    its kind's message body in field kind_num."""
    t = time.time_ns() if t is None else t
    return s(1, origin) + field(2, 0, varint(seq)) + field(3, 0, varint(t)) + s(kind_num, body)


def batch(sender, batch_seq, events):
    """A Batch (schema 1) of sender (16 bytes) holding the encoded events."""
    return field(1, 0, varint(1)) + s(2, sender) + field(3, 0, varint(batch_seq)) + b"".join(s(4, e) for e in events)
