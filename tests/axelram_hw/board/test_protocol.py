"""The host-link protocol: CRC against an independent bitwise CRC-8, frame and payload round
trips, and the receiver (via the reference device): resync on garbage, error replies for a bad
CRC, version, opcode or length, and the idle timeout."""

import json

import numpy as np
import pytest

from axelram_hw.board import protocol as p
from axelram_hw.board.protocol import Opcode, Status
from axelram_hw.host.emulator import Emulator
from golden.config import AxelramConfig
from golden.signs import default_signs, rom_words

CFG = AxelramConfig(d=16, b=3, t=32)


def bitwise_crc8(data):
    """CRC-8/SMBUS one bit at a time: poly x^8 + x^2 + x + 1, init 0, MSB first."""
    crc = 0
    for byte in data:
        for bit in range(7, -1, -1):
            top = (crc >> 7) ^ (byte >> bit & 1)
            crc = (crc << 1) & 0xFF
            if top:
                crc ^= 0x07
    return crc


def test_crc8_matches_bitwise_reference():
    assert p.crc8(b"123456789") == bitwise_crc8(b"123456789") == 0xF4
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 7, 64, 1000):
        data = rng.integers(0, 256, n).astype(np.uint8).tobytes()
        assert p.crc8(data) == bitwise_crc8(data)


def test_request_and_reply_round_trip():
    frame = p.encode_request(Opcode.QUERY, b"\x01\x02\x03")
    assert frame[:5] == bytes((0xA5, 1, 0x03, 3, 0))
    assert frame[-1] == bitwise_crc8(frame[1:-1])
    assert p.decode_request(frame) == p.Frame(1, 0x03, b"\x01\x02\x03")
    reply = p.encode_reply(Opcode.QUERY, Status.ARGUMENT)
    assert reply == bytes((0x5A, 1, 0x83, 5, 0, 0, bitwise_crc8(bytes((1, 0x83, 5, 0, 0)))))
    assert p.decode_reply(reply) == p.Frame(1, 0x83, b"", 5)
    big = bytes(range(256)) * 16
    assert p.decode_reply(p.encode_reply(Opcode.READ_SIGNS, 0, big)).payload == big
    with pytest.raises(p.ProtocolError, match="bad CRC"):
        p.decode_request(frame[:-1] + bytes((frame[-1] ^ 1,)))
    with pytest.raises(p.ProtocolError, match="length field says 3"):
        p.decode_request(frame[:-2] + frame[-1:])


def test_payload_codecs_round_trip():
    ident = p.Identity.from_config(CFG, description_hash=bytes(range(8)))
    packed = ident.pack()
    assert len(packed) == 32
    assert p.Identity.unpack(packed) == ident
    assert AxelramConfig(**ident.config_kwargs()) == CFG

    keys = [[-32768, 32767] + [i - 7 for i in range(14)], [0] * 16]
    layer, slots, back = p.unpack_write_keys(p.pack_write_keys(3, [5, 31], keys, 16), 16, 16)
    assert (layer, slots, back) == (3, [5, 31], keys)
    assert p.pack_write_keys(0, [1], [[-1] * 4], 16) == b"\x00\x01\x00" + b"\xff" * 8
    wide = [[-(1 << 23), (1 << 23) - 1, 1, -2]]
    assert p.unpack_write_keys(p.pack_write_keys(0, [0], wide, 24), 4, 24)[2] == wide
    assert p.unpack_query(p.pack_query(1, 2, 3, keys[0], 16), 16, 16) == (1, 2, 3, keys[0])

    records = [(0, False, False, -(1 << 31), 0), (7, True, False, 0, 0),
               (65535, False, True, (1 << 31) - 1, 255)]
    assert p.unpack_scores(p.pack_scores(records, 32), 32) == records
    assert p.score_record_bytes(32) == 8 and p.score_record_bytes(35) == 9

    counters = dict(zip(p.COUNTERS, range(1, 7), strict=True))
    assert p.unpack_counters(p.pack_counters(counters)) == counters


def test_sign_bytes_follow_rom_words():
    signs = default_signs(16, 3, seed=5)
    for row, word in zip(signs.signs, rom_words(signs), strict=True):
        data = p.pack_signs(row < 0)
        assert int.from_bytes(data, "little") == word
        assert p.unpack_signs(data, 16) == list(row < 0)
    with pytest.raises(p.ProtocolError, match="beyond d=4"):
        p.unpack_signs(b"\x10", 4)


def test_description_hash_is_canonical_json():
    doc = {"b": [1, 2], "a": "Lloyd–Max", "c": {"z": None, "y": True}}
    again = json.loads(json.dumps(doc, indent=2))
    assert p.description_hash(doc) == p.description_hash(again)
    assert len(p.description_hash(doc)) == 8
    assert p.description_hash(doc) != p.description_hash({**doc, "b": [2, 1]})


# -- the receiver, through the reference device ------------------------------------------------

def replies(data):
    """Split reply bytes into decoded frames."""
    out, i = [], 0
    while i < len(data):
        length = int.from_bytes(data[i + 4:i + 6], "little")
        out.append(p.decode_reply(data[i:i + 7 + length]))
        i += 7 + length
    return out


def test_resync_on_garbage():
    emu = Emulator(CFG)
    garbage = bytes(b for b in range(256) if b != 0xA5)
    frame = p.encode_request(Opcode.STATUS)
    (reply,) = replies(emu.feed(garbage + frame))
    assert (reply.opcode, reply.status) == (0x86, Status.OK)
    assert emu.parser.skipped == len(garbage)
    # one byte at a time gives the same
    out = b"".join(emu.feed(bytes((b,))) for b in frame)
    assert [r.opcode for r in replies(out)] == [0x86]


def test_false_sync_is_dropped_by_the_idle_timeout():
    emu = Emulator(CFG)
    # a stray 0xA5 swallows the next header: the length it reads is never reached
    assert emu.feed(b"\xa5\x01" + p.encode_request(Opcode.IDENTIFY)) == b""
    (reply,) = replies(emu.idle())
    assert reply.status == Status.TIMEOUT
    assert emu.idle() == b""  # hunting: nothing to drop
    (reply,) = replies(emu.feed(p.encode_request(Opcode.IDENTIFY)))
    assert reply.status == Status.OK
    assert emu.counters["framing_errors"] == 1


@pytest.mark.parametrize("frame, status, opcode", [
    (p.encode_request(Opcode.IDENTIFY)[:-1] + b"\x00", Status.CRC, 0x81),
    (p.encode_request(0x42), Status.OPCODE, 0xC2),
    (p.encode_request(Opcode.IDENTIFY, b"\x00"), Status.LENGTH, 0x81),
    (p.encode_request(Opcode.STATUS, version=2), Status.VERSION, 0x86),
    (p.encode_request(Opcode.QUERY, b"\x00" * 10), Status.LENGTH, 0x83),
    (p.encode_request(Opcode.WRITE_KEYS, b"\x00" * 5), Status.LENGTH, 0x82),
    (p.encode_request(Opcode.READ_SIGNS, b"\x01"), Status.ARGUMENT, 0x85),
    (p.encode_request(Opcode.LOAD_SIGNS, b"\x00\x00"), Status.LENGTH, 0x84),
])
def test_bad_frames_get_an_error_reply(frame, status, opcode):
    emu = Emulator(CFG)
    (reply,) = replies(emu.feed(frame))
    assert (reply.opcode, reply.status, reply.payload) == (opcode, status, b"")
    # and the receiver is ready for the next frame
    (reply,) = replies(emu.feed(p.encode_request(Opcode.STATUS)))
    assert reply.status == Status.OK


def test_oversized_header_is_refused_at_once():
    emu = Emulator(CFG, max_payload=64)
    header = bytes((0xA5, 1, Opcode.WRITE_KEYS)) + (65).to_bytes(2, "little")
    (reply,) = replies(emu.feed(header))
    assert (reply.opcode, reply.status) == (0x82, Status.LENGTH)


def test_counters():
    emu = Emulator(CFG)
    emu.feed(p.encode_request(Opcode.IDENTIFY)[:-1] + b"\x00")  # crc
    emu.feed(p.encode_request(0x42))                             # unknown opcode
    emu.feed(p.encode_request(Opcode.READ_SIGNS, b"\x07"))       # rejected
    emu.feed(b"\xa5\x01")
    emu.idle()                                                   # framing
    (reply,) = replies(emu.feed(p.encode_request(Opcode.STATUS)))
    assert p.unpack_counters(reply.payload) == {
        "frames_ok": 3, "crc_errors": 1, "framing_errors": 1, "overruns": 0,
        "unknown_opcodes": 1, "rejected": 1}
