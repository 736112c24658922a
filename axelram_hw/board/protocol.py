"""The AXELRAM host link protocol, version 1: framing, opcodes and payloads (pure Python).

This docstring is the specification; ``docs/boards.md`` reproduces it. The host driver
(:mod:`axelram_hw.host.device`), the Python reference device (:mod:`axelram_hw.host.emulator`)
and, later, the gateware link controller all follow it; the module itself imports neither
Amaranth nor NumPy.

Frames
------
All multi-byte fields are little-endian. ``crc8`` is CRC-8 with polynomial ``0x07``, initial
value 0, no reflection, no final XOR (CRC-8/SMBUS; ``crc8(b"123456789") == 0xF4``), computed
over every byte after the sync byte up to the end of the payload.

========  =====================================================================================
request   ``0xA5, version, opcode, length(2), payload(length), crc8``
reply     ``0x5A, version, opcode | 0x80, status, length(2), payload(length), crc8``
========  =====================================================================================

* ``version`` is :data:`VERSION` (1). A device answers every request with its own version in
  the reply header, so a host can tell an old device from a broken link.
* ``length`` counts payload bytes only, at most the device's ``max_payload`` (IDENTIFY; at most
  :data:`MAX_PAYLOAD` = 4096). A device acts on a request only after its CRC has checked, so the
  link controller buffers one payload.
* One outstanding command: the host sends a request and reads exactly one reply before it sends
  the next. Every request gets exactly one reply, an error included (never silence).
* Replies with ``status != 0`` carry an empty payload.

Device receiver, resynchronisation and the idle timeout
-------------------------------------------------------
The receiver hunts for ``0xA5`` (other bytes are skipped and counted), then reads the four
header bytes, then ``length + 1`` bytes. It returns to hunting after every frame, good or bad;
it does not re-scan the bytes of a bad frame. If no byte arrives for :data:`IDLE_TIMEOUT_BYTES`
(255) byte times (2.55 ms at 1 Mbaud, 10 bits a byte) while a frame is incomplete, the partial
frame is dropped and answered with ``TIMEOUT``. Every command is idempotent, so a host recovers
from a ``TIMEOUT`` or ``CRC`` reply, or a reply to another opcode (a stray ``0xA5`` made the
device swallow the request), by discarding received bytes and resending the request.

Checks, in order, each answered with an error reply: a header whose ``length`` exceeds
``max_payload`` gets ``LENGTH`` at once (the receiver goes back to hunting, through the
payload); a bad CRC gets ``CRC``; then ``VERSION``, ``OPCODE`` (unknown opcode), ``LENGTH``
(payload length wrong for the opcode), ``ARGUMENT`` (a field out of range: nothing is changed)
and ``UNSUPPORTED``. The reply's opcode byte echoes the received one (``0x80`` after a
``TIMEOUT`` before the opcode byte arrived).

===  ===========  ======================================================================
 0   OK
 1   CRC          the frame's CRC did not check
 2   VERSION      unsupported protocol version
 3   OPCODE       unknown opcode
 4   LENGTH       payload length wrong for the opcode, or above ``max_payload``
 5   ARGUMENT     layer, slot, first, count or a coordinate out of range
 6   TIMEOUT      partial frame dropped after the idle timeout
 7   UNSUPPORTED  the command exists but this device cannot do it (fixed sign ROM)
===  ===========  ======================================================================

Opcodes and payloads
--------------------
``cw = ceil(in_width / 8)`` bytes per coordinate (2 for the default ``in_width = 16``: int16),
two's complement; ``mw = ceil(score_mant_width / 8)`` bytes per score mantissa; ``sw =
ceil(d / 8)`` bytes per sign pattern, bit ``i`` (byte ``i // 8``, bit ``i % 8``, LSB first) set
where coordinate ``i`` is negated (the bit order of ``golden.signs.rom_words``); bits beyond
``d`` are 0.

====  ===========  ===========================================  ===============================
code  name         request payload                              reply payload (status OK)
====  ===========  ===========================================  ===============================
0x01  IDENTIFY     (empty)                                      :class:`Identity`, 32 bytes
0x02  WRITE_KEYS   layer(1), N x [slot(2), d x coordinate(cw)]  accepted(2) = N
0x03  QUERY        layer(1), first(2), count(2),                count x [slot(2), flags(1),
                   d x coordinate(cw)                           mant(mw), exp(1)]
0x04  LOAD_SIGNS   layer(1), signs(sw)                          (empty)
0x05  READ_SIGNS   layer(1)                                     signs(sw)
0x06  STATUS       (empty)                                      6 counters x 2 bytes
====  ===========  ===========================================  ===============================

* IDENTIFY: ``struct`` format :data:`IDENTITY_FORMAT` — protocol version, flags (bit 0
  antisymmetric quantiser, bit 1 sign patterns writable), d, b, lanes, t(4), layers, in_width,
  norm_mant, sqrt_mant, thr_frac, cent_frac, table_width (the whole ``AxelramConfig``),
  score_mant_width, score_exp_width, score_exp_offset (signed), max_payload, and the first 8
  bytes of the SHA-256 of the macro's JSON description (:func:`description_hash`: the dict
  ``axelram_hw.generate.generate(cfg, signs)`` returns for ``block="macro"``, i.e. the
  ``<name>.json`` that ``axelram verilog`` writes, serialised with
  ``json.dumps(doc, sort_keys=True, separators=(",", ":"))`` and UTF-8 encoded; all zeros:
  unknown).
* WRITE_KEYS: ``N = (length - 1) / (2 + d * cw)`` keys (``length - 1`` must be a multiple),
  at most ``(max_payload - 1) // (2 + d * cw)``; layer below ``layers``, slots below ``t``,
  coordinates within ``in_width`` bits, else ``ARGUMENT`` and no key is written. Keys are
  written in record order (a repeated slot keeps the later key).
* QUERY: scores slots ``first .. first + count - 1`` after every key written before it, one
  record per slot in slot order; ``flags`` bit 0 ``oob`` (slot at or beyond ``t``: mant = exp =
  0), bit 1 ``last`` (the final record of this reply); mant signed, exp unsigned, value ``mant *
  2**(exp + score_exp_offset)`` in (input LSB)**2. ``first < t``, ``count <= t``, ``first +
  count <= 65536`` (slot numbers fit 16 bits) and ``count <= max_payload // (4 + mw)`` (one
  reply frame per query: the host splits longer ranges), else ``ARGUMENT``. Never-written slots
  hold norm 0 and score ``mant = 0`` (exp = the query's table shift).
* LOAD_SIGNS replaces one layer's pattern (``UNSUPPORTED`` on a device with a fixed sign ROM);
  keys already stored keep their indices. READ_SIGNS returns one layer's current pattern.
* STATUS: ``frames_ok`` (frames whose CRC checked, this STATUS included), ``crc_errors``,
  ``framing_errors`` (partial frames dropped by the idle timeout, headers with a length above
  ``max_payload``), ``overruns`` (bytes the receiver lost), ``unknown_opcodes``, ``rejected``
  (CRC-good frames answered VERSION, LENGTH, ARGUMENT or UNSUPPORTED); each 16 bits, wrapping.
"""

import enum
import hashlib
import json
import struct
from dataclasses import dataclass, fields

__all__ = [
    "SYNC_REQUEST", "SYNC_REPLY", "VERSION", "REPLY_FLAG", "MAX_PAYLOAD", "IDLE_TIMEOUT_BYTES",
    "HEADER_BYTES", "REPLY_HEADER_BYTES", "IDENTITY_FORMAT", "COUNTERS", "Opcode", "Status",
    "ProtocolError", "Frame", "Received", "Identity", "RequestParser", "crc8",
    "encode_request", "encode_reply", "decode_request", "decode_reply", "description_hash",
    "coord_bytes", "mant_bytes", "sign_bytes", "key_record_bytes", "score_record_bytes",
    "max_keys_per_frame", "max_query_count", "pack_ints", "unpack_ints", "pack_signs",
    "unpack_signs", "pack_write_keys", "unpack_write_keys", "pack_query", "unpack_query",
    "pack_scores", "unpack_scores", "pack_counters", "unpack_counters",
]

SYNC_REQUEST = 0xA5
SYNC_REPLY = 0x5A
VERSION = 1
REPLY_FLAG = 0x80
#: Protocol ceiling on the payload of one frame; a device may declare less (IDENTIFY).
MAX_PAYLOAD = 4096
#: Idle byte times after which the receiver drops an incomplete frame.
IDLE_TIMEOUT_BYTES = 255
#: Request header after the sync byte: version, opcode, length(2).
HEADER_BYTES = 4
#: Reply header after the sync byte: version, opcode, status, length(2).
REPLY_HEADER_BYTES = 5
#: IDENTIFY reply payload (32 bytes).
IDENTITY_FORMAT = "<BBHBHIHBBBBBBBBbH8s"
#: STATUS reply payload, in order.
COUNTERS = ("frames_ok", "crc_errors", "framing_errors", "overruns", "unknown_opcodes",
            "rejected")


class Opcode(enum.IntEnum):
    IDENTIFY = 0x01
    WRITE_KEYS = 0x02
    QUERY = 0x03
    LOAD_SIGNS = 0x04
    READ_SIGNS = 0x05
    STATUS = 0x06


class Status(enum.IntEnum):
    OK = 0
    CRC = 1
    VERSION = 2
    OPCODE = 3
    LENGTH = 4
    ARGUMENT = 5
    TIMEOUT = 6
    UNSUPPORTED = 7


class ProtocolError(ValueError):
    """A byte string that is not a well-formed frame or payload."""


def _table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return bytes(table)


_CRC_TABLE = _table()


def crc8(data, crc=0):
    """CRC-8, polynomial 0x07, initial value ``crc`` (0), MSB first, no final XOR."""
    for byte in data:
        crc = _CRC_TABLE[crc ^ byte]
    return crc


def _name(enum_cls, value):
    try:
        return enum_cls(value).name
    except ValueError:
        return f"0x{value:02x}"


@dataclass(frozen=True)
class Frame:
    """A decoded frame; ``status`` is ``None`` for a request."""

    version: int
    opcode: int
    payload: bytes
    status: int | None = None

    def describe(self):
        op = _name(Opcode, self.opcode & ~REPLY_FLAG & 0xFF)
        if self.status is None:
            return f"{op} request ({len(self.payload)} payload bytes)"
        return f"{op} reply, status {_name(Status, self.status)}"


def encode_request(opcode, payload=b"", version=VERSION):
    """``0xA5, version, opcode, length(2), payload, crc8``."""
    payload = bytes(payload)
    if len(payload) > 0xFFFF:
        raise ProtocolError(f"payload must be at most 65535 bytes, not {len(payload)}")
    body = bytes((version, opcode)) + struct.pack("<H", len(payload)) + payload
    return bytes((SYNC_REQUEST,)) + body + bytes((crc8(body),))


def encode_reply(opcode, status=Status.OK, payload=b"", version=VERSION):
    """``0x5A, version, opcode | 0x80, status, length(2), payload, crc8``."""
    payload = bytes(payload)
    body = (bytes((version, (opcode | REPLY_FLAG) & 0xFF, status))
            + struct.pack("<H", len(payload)) + payload)
    return bytes((SYNC_REPLY,)) + body + bytes((crc8(body),))


def _decode(frame, sync, header):
    frame = bytes(frame)
    if len(frame) < 2 + header or frame[0] != sync:
        raise ProtocolError(f"not a frame: expected 0x{sync:02X} and {header + 1} more bytes, "
                            f"got {frame[:8].hex()}")
    (length,) = struct.unpack_from("<H", frame, header - 1)
    if len(frame) != 2 + header + length:
        raise ProtocolError(f"frame length field says {length} payload bytes, the frame has "
                            f"{len(frame) - 2 - header}")
    if crc8(frame[1:-1]) != frame[-1]:
        raise ProtocolError(f"bad CRC: computed 0x{crc8(frame[1:-1]):02x}, frame has "
                            f"0x{frame[-1]:02x}")
    return frame


def decode_request(frame):
    """A complete request frame → :class:`Frame` (raises :class:`ProtocolError`)."""
    frame = _decode(frame, SYNC_REQUEST, HEADER_BYTES)
    return Frame(frame[1], frame[2], frame[1 + HEADER_BYTES:-1])


def decode_reply(frame):
    """A complete reply frame → :class:`Frame` with ``status`` (raises :class:`ProtocolError`)."""
    frame = _decode(frame, SYNC_REPLY, REPLY_HEADER_BYTES)
    return Frame(frame[1], frame[2], frame[1 + REPLY_HEADER_BYTES:-1], frame[3])


@dataclass(frozen=True)
class Received:
    """What the receiver delivers: a frame (``error`` None), or an error to answer."""

    version: int
    opcode: int
    payload: bytes
    error: Status | None = None


class RequestParser:
    """The device receiver: hunting, header, body; the idle timeout is :meth:`idle`.

    :meth:`feed` returns the :class:`Received` items completed by the bytes given (frames
    with a good CRC, ``CRC`` and ``LENGTH`` errors); :meth:`idle` is called when
    :data:`IDLE_TIMEOUT_BYTES` byte times have passed without a byte and returns a ``TIMEOUT``
    item if a frame was incomplete. ``skipped`` counts bytes skipped while hunting.
    """

    def __init__(self, max_payload=MAX_PAYLOAD):
        if not 1 <= max_payload <= MAX_PAYLOAD:
            raise ValueError(f"max_payload must be between 1 and {MAX_PAYLOAD}, not "
                             f"{max_payload}")
        self.max_payload = max_payload
        self.skipped = 0
        self._buf = None  # None: hunting; else the bytes after the sync byte

    @property
    def in_frame(self):
        return self._buf is not None

    def feed(self, data):
        out = []
        for byte in bytes(data):
            buf = self._buf
            if buf is None:
                if byte == SYNC_REQUEST:
                    self._buf = bytearray()
                else:
                    self.skipped += 1
                continue
            buf.append(byte)
            if len(buf) < HEADER_BYTES:
                continue
            (length,) = struct.unpack_from("<H", buf, 2)
            if len(buf) == HEADER_BYTES and length > self.max_payload:
                out.append(Received(buf[0], buf[1], b"", Status.LENGTH))
                self._buf = None
            elif len(buf) == HEADER_BYTES + length + 1:
                error = None if crc8(buf[:-1]) == buf[-1] else Status.CRC
                out.append(Received(buf[0], buf[1], bytes(buf[HEADER_BYTES:-1]), error))
                self._buf = None
        return out

    def idle(self):
        buf, self._buf = self._buf, None
        if buf is None:
            return None
        return Received(buf[0] if buf else VERSION, buf[1] if len(buf) > 1 else 0, b"",
                        Status.TIMEOUT)


def description_hash(doc):
    """First 8 bytes of SHA-256 of ``json.dumps(doc, sort_keys=True, separators=(",", ":"))``."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).digest()[:8]


@dataclass(frozen=True)
class Identity:
    """The IDENTIFY reply: the device's whole configuration and its description hash."""

    protocol: int
    antisymmetric: bool
    signs_writable: bool
    d: int
    b: int
    lanes: int
    t: int
    layers: int
    in_width: int
    norm_mant: int
    sqrt_mant: int
    thr_frac: int
    cent_frac: int
    table_width: int
    score_mant_width: int
    score_exp_width: int
    score_exp_offset: int
    max_payload: int
    description_hash: bytes

    #: The ``AxelramConfig`` fields carried (all of them).
    CONFIG_FIELDS = ("d", "b", "t", "lanes", "layers", "in_width", "norm_mant", "sqrt_mant",
                     "thr_frac", "cent_frac", "table_width", "antisymmetric")

    @classmethod
    def from_config(cls, cfg, *, max_payload=MAX_PAYLOAD, signs_writable=True,
                    description_hash=bytes(8)):
        return cls(VERSION, cfg.antisymmetric, signs_writable, cfg.d, cfg.b, cfg.lanes, cfg.t,
                   cfg.layers, cfg.in_width, cfg.norm_mant, cfg.sqrt_mant, cfg.thr_frac,
                   cfg.cent_frac, cfg.table_width, cfg.score_mant_width, cfg.score_exp_width,
                   cfg.score_exp_offset, max_payload, bytes(description_hash))

    def config_kwargs(self):
        """Keyword arguments for ``golden.config.AxelramConfig``."""
        return {name: getattr(self, name) for name in self.CONFIG_FIELDS}

    def pack(self):
        v = {f.name: getattr(self, f.name) for f in fields(self)}
        flags = int(v["antisymmetric"]) | int(v["signs_writable"]) << 1
        return struct.pack(IDENTITY_FORMAT, v["protocol"], flags, v["d"], v["b"], v["lanes"],
                           v["t"], v["layers"], v["in_width"], v["norm_mant"], v["sqrt_mant"],
                           v["thr_frac"], v["cent_frac"], v["table_width"],
                           v["score_mant_width"], v["score_exp_width"], v["score_exp_offset"],
                           v["max_payload"], v["description_hash"])

    @classmethod
    def unpack(cls, payload):
        size = struct.calcsize(IDENTITY_FORMAT)
        if len(payload) != size:
            raise ProtocolError(f"IDENTIFY payload must be {size} bytes, not {len(payload)}")
        (protocol, flags, d, b, lanes, t, layers, in_width, norm_mant, sqrt_mant, thr_frac,
         cent_frac, table_width, smw, sew, seo, max_payload, digest) = struct.unpack(
            IDENTITY_FORMAT, payload)
        return cls(protocol, bool(flags & 1), bool(flags & 2), d, b, lanes, t, layers, in_width,
                   norm_mant, sqrt_mant, thr_frac, cent_frac, table_width, smw, sew, seo,
                   max_payload, digest)

    @property
    def coord_bytes(self):
        return coord_bytes(self.in_width)

    @property
    def mant_bytes(self):
        return mant_bytes(self.score_mant_width)


# -- payload sizes ------------------------------------------------------------------------------

def coord_bytes(in_width):
    return -(-in_width // 8)


def mant_bytes(score_mant_width):
    return -(-score_mant_width // 8)


def sign_bytes(d):
    return -(-d // 8)


def key_record_bytes(d, in_width):
    return 2 + d * coord_bytes(in_width)


def score_record_bytes(score_mant_width):
    return 4 + mant_bytes(score_mant_width)


def max_keys_per_frame(d, in_width, max_payload=MAX_PAYLOAD):
    return (max_payload - 1) // key_record_bytes(d, in_width)


def max_query_count(score_mant_width, max_payload=MAX_PAYLOAD):
    return max_payload // score_record_bytes(score_mant_width)


# -- payload codecs -----------------------------------------------------------------------------

def pack_ints(values, width, signed=True):
    """Integers as ``width``-byte little-endian fields (two's complement when ``signed``)."""
    try:
        return b"".join(int(v).to_bytes(width, "little", signed=signed) for v in values)
    except OverflowError:
        raise ProtocolError(f"a value does not fit {width} byte(s)") from None


def unpack_ints(data, width, signed=True):
    if len(data) % width:
        raise ProtocolError(f"{len(data)} bytes are not a whole number of {width}-byte fields")
    return [int.from_bytes(data[i:i + width], "little", signed=signed)
            for i in range(0, len(data), width)]


def pack_signs(negated):
    """A sign pattern (sequence of bools, True = coordinate negated) → ``ceil(d/8)`` bytes."""
    word = sum(1 << i for i, neg in enumerate(negated) if neg)
    return word.to_bytes(sign_bytes(len(negated)), "little")


def unpack_signs(data, d):
    """``ceil(d/8)`` bytes → list of ``d`` bools (True = negated); raises if a bit beyond d."""
    if len(data) != sign_bytes(d):
        raise ProtocolError(f"a sign pattern of d={d} is {sign_bytes(d)} bytes, not {len(data)}")
    word = int.from_bytes(data, "little")
    if word >> d:
        raise ProtocolError(f"sign pattern has bits set beyond d={d}")
    return [bool(word >> i & 1) for i in range(d)]


def pack_write_keys(layer, slots, keys, in_width):
    """WRITE_KEYS payload: ``layer``, then per key ``slot(2)`` and its coordinates."""
    cw = coord_bytes(in_width)
    out = bytearray((layer,))
    for slot, key in zip(slots, keys, strict=True):
        out += struct.pack("<H", slot) + pack_ints(key, cw)
    return bytes(out)


def unpack_write_keys(payload, d, in_width):
    """→ ``(layer, slots, keys)``; raises :class:`ProtocolError` on a bad length."""
    size = key_record_bytes(d, in_width)
    if len(payload) < 1 or (len(payload) - 1) % size:
        raise ProtocolError(f"WRITE_KEYS payload must be 1 + N x {size} bytes, not "
                            f"{len(payload)}")
    cw = coord_bytes(in_width)
    slots, keys = [], []
    for i in range(1, len(payload), size):
        slots.append(struct.unpack_from("<H", payload, i)[0])
        keys.append(unpack_ints(payload[i + 2:i + size], cw))
    return payload[0], slots, keys


def pack_query(layer, first, count, query, in_width):
    return struct.pack("<BHH", layer, first, count) + pack_ints(query, coord_bytes(in_width))


def unpack_query(payload, d, in_width):
    """→ ``(layer, first, count, query)``; raises :class:`ProtocolError` on a bad length."""
    size = 5 + d * coord_bytes(in_width)
    if len(payload) != size:
        raise ProtocolError(f"QUERY payload must be {size} bytes, not {len(payload)}")
    layer, first, count = struct.unpack_from("<BHH", payload)
    return layer, first, count, unpack_ints(payload[5:], coord_bytes(in_width))


def pack_scores(records, score_mant_width):
    """QUERY reply payload from ``(slot, oob, last, mant, exp)`` tuples."""
    mw = mant_bytes(score_mant_width)
    out = bytearray()
    for slot, oob, last, mant, exp in records:
        out += struct.pack("<HB", slot, int(bool(oob)) | int(bool(last)) << 1)
        out += int(mant).to_bytes(mw, "little", signed=True) + bytes((exp,))
    return bytes(out)


def unpack_scores(payload, score_mant_width):
    """QUERY reply payload → list of ``(slot, oob, last, mant, exp)``."""
    mw = mant_bytes(score_mant_width)
    size = 4 + mw
    if len(payload) % size:
        raise ProtocolError(f"QUERY reply payload must be a multiple of {size} bytes, not "
                            f"{len(payload)}")
    out = []
    for i in range(0, len(payload), size):
        slot, flags = struct.unpack_from("<HB", payload, i)
        mant = int.from_bytes(payload[i + 3:i + 3 + mw], "little", signed=True)
        out.append((slot, bool(flags & 1), bool(flags & 2), mant, payload[i + 3 + mw]))
    return out


def pack_counters(counters):
    """STATUS reply payload from a ``{name: count}`` dict (each count modulo 2**16)."""
    return struct.pack(f"<{len(COUNTERS)}H", *(counters[n] & 0xFFFF for n in COUNTERS))


def unpack_counters(payload):
    if len(payload) != 2 * len(COUNTERS):
        raise ProtocolError(f"STATUS payload must be {2 * len(COUNTERS)} bytes, not "
                            f"{len(payload)}")
    return dict(zip(COUNTERS, struct.unpack(f"<{len(COUNTERS)}H", payload), strict=True))
