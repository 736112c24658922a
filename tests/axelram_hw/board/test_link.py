"""LinkController + AxelramMacro against the reference device (host.emulator.Emulator).

Request frames come from the protocol module's encoders; the reply bytes the gateware sends must
equal the bytes the emulator returns for the same request sequence, byte for byte, with random
gaps on ``rx_byte`` and random back-pressure on ``tx_byte``. The emulator is built with
``signs_writable=False`` (the controller drives a macro with a fixed sign ROM) and the
controller's ``max_payload``.
"""

import queue
import random
import re
import struct
import threading

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from axelram_hw.board import protocol as p
from axelram_hw.board.link import LinkController, default_max_payload
from axelram_hw.board.protocol import Opcode
from axelram_hw.board.uart import UARTReceiver, UARTTransmitter
from axelram_hw.host.device import Device
from axelram_hw.host.emulator import Emulator
from axelram_hw.macro import AxelramMacro
from golden.config import AxelramConfig
from golden.signs import SignSet, sign_pattern
from tests.support.streams import run, sink, stream_put

#: A script item: wait this long without sending (the device's idle timeout passes).
IDLE = object()

TIMEOUT_CLOCKS = 300


def signs_for(cfg):
    rows = [sign_pattern(cfg.d, 7 + n, n) for n in range(cfg.layers)]
    return SignSet(np.array(rows, dtype=np.int8), seeds=tuple(7 + n for n in range(cfg.layers)),
                   source="test")


def build(cfg, signs, link_kwargs, *, uart_divisor=None):
    link = LinkController(cfg, signs=signs, **link_kwargs)
    macro = AxelramMacro(cfg, signs)
    m = Module()
    m.submodules.link = link
    m.submodules.macro = macro
    wiring.connect(m, link.write, macro.write)
    wiring.connect(m, link.query, macro.query)
    wiring.connect(m, macro.score, link.score)
    if uart_divisor is None:
        return m, link, None
    m.submodules.uart_rx = urx = UARTReceiver(uart_divisor)
    m.submodules.uart_tx = utx = UARTTransmitter(uart_divisor)
    wiring.connect(m, urx.o, link.rx_byte)
    wiring.connect(m, link.tx_byte, utx.i)
    m.d.comb += [link.framing_errors.eq(urx.framing_errors), link.overruns.eq(urx.overruns)]
    return m, link, (urx, utx)


def emulate(cfg, signs, script, max_payload, description):
    em = Emulator(cfg, signs, description=description, max_payload=max_payload,
                  signs_writable=False)
    return [em.idle() if item is IDLE else em.feed(item) for item in script]


def first_difference(got, want):
    n = next((i for i, (g, w) in enumerate(zip(got, want, strict=False)) if g != w),
             min(len(got), len(want)))
    return (f"{len(got)} reply bytes, expected {len(want)}; first difference at byte {n}: "
            f"got {got[max(0, n - 8):n + 8].hex()} want {want[max(0, n - 8):n + 8].hex()}")


# -- request scripts ------------------------------------------------------------------------------

def keys(cfg, rng, n):
    lo, hi = -(1 << (cfg.in_width - 1)), (1 << (cfg.in_width - 1)) - 1
    out = rng.integers(lo, hi + 1, (n, cfg.d))
    out[0, :3] = (lo, hi, 0)
    return out


def request(opcode, payload=b""):
    return p.encode_request(opcode, payload)


def script_for(cfg, rng, max_payload):
    """Every command, every error class; WRITE_KEYS before the queries that score them."""
    cw, iw = p.coord_bytes(cfg.in_width), cfg.in_width
    per_frame = p.max_keys_per_frame(cfg.d, iw, max_payload)
    limit = min(cfg.t, p.max_query_count(cfg.score_mant_width, max_payload))
    q = keys(cfg, rng, 4)
    out = [request(Opcode.IDENTIFY), request(Opcode.STATUS)]
    # keys: full frames on both layers, a repeated slot, an empty frame
    slots = list(rng.permutation(cfg.t)[:cfg.t - 3])
    layer = 0
    while slots:
        chunk, slots = slots[:per_frame], slots[per_frame:]
        out.append(request(Opcode.WRITE_KEYS, p.pack_write_keys(
            layer, chunk, keys(cfg, rng, len(chunk)), iw)))
        layer ^= 1
    out.append(request(Opcode.WRITE_KEYS, p.pack_write_keys(1, [5], keys(cfg, rng, 1), iw)))
    out.append(request(Opcode.WRITE_KEYS, bytes((0,))))
    # queries: all slots (some never written), oob slots, count = 0, count at the limit
    for layer, first, count in ((0, 0, limit), (1, cfg.t - 2, 4), (0, 3, 0), (1, 1, limit),
                                (0, cfg.t - 1, 1)):
        out.append(request(Opcode.QUERY, p.pack_query(layer, first, count, q[layer], iw)))
    out += [request(Opcode.READ_SIGNS, bytes((0,))), request(Opcode.READ_SIGNS, bytes((1,)))]
    # refusals: ARGUMENT, LENGTH, UNSUPPORTED, OPCODE, VERSION
    good_key = keys(cfg, rng, 1)
    bad_coord = p.pack_ints([1 << (iw - 1)], cw) if 8 * cw > iw else None
    out += [
        request(Opcode.WRITE_KEYS, p.pack_write_keys(2, [0], good_key, iw)),       # layer
        request(Opcode.WRITE_KEYS, p.pack_write_keys(0, [cfg.t], good_key, iw)),   # slot
        request(Opcode.WRITE_KEYS, p.pack_write_keys(0, [0], good_key, iw)[:-1]),  # length
        request(Opcode.WRITE_KEYS, b""),
        request(Opcode.QUERY, p.pack_query(2, 0, 1, q[0], iw)),
        request(Opcode.QUERY, p.pack_query(0, cfg.t, 1, q[0], iw)),
        request(Opcode.QUERY, p.pack_query(0, 0, limit + 1, q[0], iw)),
        request(Opcode.QUERY, p.pack_query(0, 0, 1, q[0], iw) + b"\x00"),
        request(Opcode.IDENTIFY, b"\x00"),
        request(Opcode.STATUS, b"\x00\x00"),
        request(Opcode.READ_SIGNS, bytes((2,))),
        request(Opcode.READ_SIGNS, b""),
        request(Opcode.LOAD_SIGNS, bytes((0,)) + bytes(p.sign_bytes(cfg.d))),      # UNSUPPORTED
        request(Opcode.LOAD_SIGNS, bytes((0,))),
        request(0x7F), request(0x00, b"\x01\x02"),
        p.encode_request(Opcode.IDENTIFY, version=2),
    ]
    if bad_coord is not None:   # a coordinate beyond in_width bits
        rec = p.pack_write_keys(0, [1], good_key, iw)
        out.append(request(Opcode.WRITE_KEYS, rec[:-cw] + bad_coord))
        qp = p.pack_query(0, 0, 1, q[0], iw)
        out.append(request(Opcode.QUERY, qp[:-cw] + bad_coord))
    # framing: bad CRC, garbage before the sync byte, LENGTH above max_payload (at once, the
    # payload hunted through), idle timeouts after the sync byte and mid-payload
    bad = bytearray(request(Opcode.STATUS))
    bad[-1] ^= 0x40
    out += [bytes(bad), b"\x00\x13\xff\x5a" + request(Opcode.IDENTIFY)]
    out += [bytes((p.SYNC_REQUEST, 1, Opcode.WRITE_KEYS)) + struct.pack("<H", max_payload + 1)
            + b"\x11" * 7]
    out += [bytes((p.SYNC_REQUEST,)), IDLE]
    out += [request(Opcode.QUERY, p.pack_query(0, 0, 2, q[0], iw))[:9], IDLE]
    out += [bytes((p.SYNC_REQUEST, 1, Opcode.STATUS, 0)), IDLE]
    # the keys are still there; the counters at the end
    out.append(request(Opcode.QUERY, p.pack_query(1, 0, limit, q[1], iw)))
    out.append(request(Opcode.STATUS))
    return out


CONFIGS = [
    (dict(d=16, b=3, t=16, lanes=16, layers=2), None),
    (dict(d=16, b=3, t=16, lanes=1, layers=2, in_width=12), 80),
]

DESCRIPTION = {"config": "a stand-in description", "n": 1}


@pytest.mark.parametrize(("params", "max_payload"), CONFIGS,
                         ids=[f"lanes{c['lanes']}-max{m}" for c, m in CONFIGS])
def test_replies_match_emulator(params, max_payload):
    cfg = AxelramConfig(**params)
    signs = signs_for(cfg)
    mp = max_payload or default_max_payload(cfg)
    rng = np.random.default_rng(cfg.lanes)
    script = script_for(cfg, rng, mp)
    want = b"".join(emulate(cfg, signs, script, mp, DESCRIPTION))
    m, link, _ = build(cfg, signs, dict(max_payload=max_payload, idle_timeout_clocks=TIMEOUT_CLOCKS,
                                        description_hash=p.description_hash(DESCRIPTION)))
    gaps = random.Random(cfg.lanes + 1)

    async def sender(ctx):
        for item in script:
            if item is IDLE:
                await ctx.tick().repeat(TIMEOUT_CLOCKS + 20)
                continue
            for byte in item:
                while gaps.random() > 0.7:
                    await ctx.tick()
                await stream_put(ctx, link.rx_byte, byte)

    got = []
    run(m, sender, sink(link.tx_byte, len(want), got, rng=random.Random(5), p_ready=0.6,
                        tail=200),
        deadline_cycles=400_000)
    got = bytes(got)
    assert got == want, first_difference(got, want)


def test_identify_payload_and_defaults():
    """IDENTIFY reports the fixed sign ROM, max_payload and the hash; the iCE40 default."""
    cfg = AxelramConfig(d=128, b=3, t=4096, lanes=1)
    assert default_max_payload(cfg) == 1536
    link = LinkController(cfg, description_hash=b"12345678")
    link._MustUse__silence = True  # not elaborated here
    ident = link.identity
    assert (ident.signs_writable, ident.max_payload, ident.description_hash) == (
        False, 1536, b"12345678")
    assert link.idle_timeout_clocks == 255 * 10 * 12
    assert p.max_keys_per_frame(cfg.d, cfg.in_width, 1536) == 5


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(max_payload=30), "max_payload must be an integer between 37 (one key and one query) "
                           "and 4096, not 30"),
    (dict(description_hash=b"1234"), "description_hash must be 8 bytes, not 4"),
    (dict(idle_timeout_clocks=1), "idle_timeout_clocks must be an integer of at least 2, not 1"),
])
def test_parameter_checks(kwargs, message):
    cfg = AxelramConfig(d=16, b=3, t=16)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LinkController(cfg, **kwargs)


# -- through the pins ----------------------------------------------------------------------------

DIVISOR = 4


def test_through_uart_pins():
    """UARTReceiver + LinkController + macro + UARTTransmitter, driven by a bit-banger: one
    request at a time (the host's rule), the reply bits decoded at mid-bit."""
    cfg = AxelramConfig(d=16, b=3, t=16, lanes=4, layers=2)
    signs = signs_for(cfg)
    mp = default_max_payload(cfg)
    rng = np.random.default_rng(3)
    q = keys(cfg, rng, 1)[0]
    script = [
        request(Opcode.IDENTIFY),
        request(Opcode.WRITE_KEYS, p.pack_write_keys(0, [0, 3, 15], keys(cfg, rng, 3),
                                                     cfg.in_width)),
        request(Opcode.QUERY, p.pack_query(0, 0, 5, q, cfg.in_width)),
        b"\x42" + request(0x33),
        request(Opcode.STATUS),
    ]
    replies = emulate(cfg, signs, script, mp, None)
    m, link, (urx, utx) = build(cfg, signs, dict(divisor=DIVISOR), uart_divisor=DIVISOR)
    got = bytearray()

    async def host(ctx):
        ctx.set(urx.rx, 1)
        await ctx.tick().repeat(3 * DIVISOR)
        expected = 0
        for item, reply in zip(script, replies, strict=True):
            for byte in item:
                for bit in [0, *((byte >> i) & 1 for i in range(8)), 1]:
                    ctx.set(urx.rx, bit)
                    await ctx.tick().repeat(DIVISOR)
            expected += len(reply)
            while len(got) < expected:
                await ctx.tick()

    async def listener(ctx):
        while True:
            while ctx.get(utx.tx):                           # the start bit
                await ctx.tick()
            await ctx.tick().repeat(DIVISOR // 2)
            assert not ctx.get(utx.tx)
            byte = 0
            for i in range(8):
                await ctx.tick().repeat(DIVISOR)
                byte |= ctx.get(utx.tx) << i
            await ctx.tick().repeat(DIVISOR)
            assert ctx.get(utx.tx), "stop bit low"
            got.append(byte)

    run(m, host, background=[listener], deadline_cycles=400_000)
    want = b"".join(replies)
    assert bytes(got) == want, first_difference(bytes(got), want)


# -- the host driver against the simulation ------------------------------------------------------

class SimTransport:
    """A file-like link to a simulation running in another thread: ``write`` queues request
    bytes for the ``rx_byte`` testbench, ``read`` takes reply bytes from the ``tx_byte`` one."""

    def __init__(self, timeout):
        self.requests, self.replies = queue.Queue(), queue.Queue()
        self.timeout = timeout
        self.stop = threading.Event()

    def write(self, data):
        for byte in data:
            self.requests.put(byte)
        return len(data)

    def read(self, n=1):
        out = bytearray()
        try:
            while len(out) < n:
                out.append(self.replies.get(timeout=self.timeout))
        except queue.Empty:
            pass
        return bytes(out)

    def reset_input_buffer(self):
        while not self.replies.empty():
            self.replies.get_nowait()

    def testbenches(self, link):
        async def requests(ctx):
            while not self.stop.is_set():
                try:
                    byte = self.requests.get_nowait()
                except queue.Empty:
                    await ctx.tick()
                else:
                    await stream_put(ctx, link.rx_byte, byte)

        async def replies(ctx):
            ctx.set(link.tx_byte.ready, 1)
            while True:
                _, _, valid, byte = await ctx.tick().sample(link.tx_byte.valid,
                                                            link.tx_byte.payload)
                if valid:
                    self.replies.put(byte)
        return requests, replies


def test_host_device_against_simulation():
    """The real host driver (axelram_hw.host.device.Device) on the simulated controller and
    macro gives the same identity, counters, sign patterns and scores as on the emulator; the
    key and query ranges are longer than one frame (max_payload = 80)."""
    cfg = AxelramConfig(d=16, b=3, t=16, lanes=4, layers=2)
    signs = signs_for(cfg)
    mp = 80
    m, link, _ = build(cfg, signs, dict(max_payload=mp, idle_timeout_clocks=5000))
    transport = SimTransport(timeout=30.0)
    requests, replies = transport.testbenches(link)
    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(requests)
    sim.add_testbench(replies, background=True)
    thread = threading.Thread(target=sim.run, daemon=True)
    thread.start()
    rng = np.random.default_rng(11)
    k, q = keys(cfg, rng, 7), keys(cfg, rng, 1)[0]
    results = []
    try:
        for dev in (Device(Emulator(cfg, signs, max_payload=mp,
                                    signs_writable=False).transport()),
                    Device(transport, timeout=30.0)):
            results.append((dev.identify(), dev.write_keys([0, 2, 4, 6, 8, 10, 15], k, layer=1),
                            dev.query(q, layer=1), dev.query(q, layer=0, first=12, count=8),
                            dev.read_sign_set().signs, dev.status()))
    finally:
        transport.stop.set()
        thread.join(timeout=60)
    (ident_e, n_e, q1_e, q2_e, s_e, st_e), (ident_s, n_s, q1_s, q2_s, s_s, st_s) = results
    assert (ident_s, n_s, st_s) == (ident_e, n_e, st_e)
    np.testing.assert_array_equal(s_s, s_e)
    for got, want in ((q1_s, q1_e), (q2_s, q2_e)):
        for field in ("mant", "exp", "slot", "oob", "last"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))
