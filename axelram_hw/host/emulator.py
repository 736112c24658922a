"""A bit-exact Python reference device for the host link: the executable specification.

:class:`Emulator` consumes request bytes and produces reply bytes exactly as
:mod:`axelram_hw.board.protocol` specifies, scoring with :class:`golden.fixed.FixedModel`; the
gateware link controller is tested against the same host code. It holds the macro's state:
an index store of ``t`` slots initialised to zero (norm 0: score 0), one sign pattern per layer
(writable at run time unless ``signs_writable=False``) and the STATUS counters.

Three ways to talk to it: :meth:`Emulator.feed` / :meth:`Emulator.idle` (bytes in, bytes out),
:meth:`Emulator.transport` (an in-process file-like object for
:class:`~axelram_hw.host.device.Device`), and :func:`serve` (a TCP server thread, URL
``socket://127.0.0.1:PORT``).
"""

import socket
import threading

import numpy as np

from golden.config import AxelramConfig
from golden.fixed import FixedModel, StoredKeys
from golden.signs import SignSet, default_signs

from ..board import protocol as p
from ..board.protocol import Opcode, Status

__all__ = ["Emulator", "InProcessTransport", "Server", "serve"]


class _Refused(Exception):
    def __init__(self, status):
        self.status = status


class Emulator:
    """The reference device.

    Parameters
    ----------
    cfg : AxelramConfig
    signs : SignSet or None
        Initial sign patterns (``None``: ``golden.signs.default_signs(d, layers)``).
    description : dict or None
        The macro's JSON description this device stands for; IDENTIFY reports its hash
        (:func:`~axelram_hw.board.protocol.description_hash`), all zeros when ``None``.
    max_payload : int
        Largest payload the device accepts and sends (at most ``protocol.MAX_PAYLOAD``).
    signs_writable : bool
        ``False`` models a fixed sign ROM: LOAD_SIGNS is answered ``UNSUPPORTED``.

    Raises
    ------
    ValueError
        If the configuration does not fit the protocol (a score exponent wider than 8 bits, a key
        or query larger than ``max_payload``).
    """

    def __init__(self, cfg, signs=None, *, description=None, max_payload=p.MAX_PAYLOAD,
                 signs_writable=True):
        if not isinstance(cfg, AxelramConfig):
            raise TypeError(f"cfg must be an AxelramConfig, not {cfg!r}")
        self.cfg = cfg
        self.parser = p.RequestParser(max_payload)
        if cfg.score_exp_width > 8:
            raise ValueError(f"score_exp_width must be at most 8 bits for the link, not "
                             f"{cfg.score_exp_width}")
        if p.max_keys_per_frame(cfg.d, cfg.in_width, max_payload) < 1:
            need = 1 + p.key_record_bytes(cfg.d, cfg.in_width)
            raise ValueError(f"max_payload must hold one key ({need} bytes), not {max_payload}")
        if 5 + cfg.d * p.coord_bytes(cfg.in_width) > max_payload:
            raise ValueError(f"max_payload must hold one query, not {max_payload}")
        digest = p.description_hash(description) if description is not None else bytes(8)
        self.identity = p.Identity.from_config(cfg, max_payload=max_payload,
                                               signs_writable=signs_writable,
                                               description_hash=digest)
        signs = signs if signs is not None else default_signs(cfg.d, cfg.layers)
        self._set_signs(signs.check(cfg.d, cfg.layers).signs)
        self.idx = np.zeros((cfg.t, cfg.d), dtype=np.uint8)
        self.mant = np.zeros(cfg.t, dtype=np.int64)
        self.exp = np.zeros(cfg.t, dtype=np.int64)
        self.counters = dict.fromkeys(p.COUNTERS, 0)
        self._lo = -(1 << (cfg.in_width - 1))
        self._hi = (1 << (cfg.in_width - 1)) - 1

    @classmethod
    def from_description(cls, doc, **kwargs):
        """The device a description (``axelram verilog``'s JSON) stands for: its configuration,
        its sign ROM words (``roms.sign``, else the default signs) and its hash."""
        cfg = AxelramConfig(**doc["config"])
        rom = doc.get("roms", {}).get("sign")
        signs = None
        if rom is not None:
            words = [int(w, 16) for w in rom["words_hex"]]
            signs = SignSet(np.array([[-1 if w >> i & 1 else 1 for i in range(cfg.d)]
                                      for w in words], dtype=np.int8))
        return cls(cfg, signs, description=doc, **kwargs)

    def _set_signs(self, signs):
        self.signs = SignSet(np.array(signs, dtype=np.int8))
        self.model = FixedModel(self.cfg, self.signs)

    # -- bytes in, bytes out ----------------------------------------------------------------

    def feed(self, data):
        """Consume request bytes; return the reply bytes they complete (possibly empty)."""
        return b"".join(self._answer(r) for r in self.parser.feed(data))

    def idle(self):
        """The idle timeout has passed: drop a partial frame (answer ``TIMEOUT``), else b''."""
        received = self.parser.idle()
        return self._answer(received) if received is not None else b""

    def transport(self, timeout=1.0):
        """An in-process file-like link to this device (for ``Device(transport)``)."""
        return InProcessTransport(self, timeout)

    def _count(self, name):
        self.counters[name] = (self.counters[name] + 1) & 0xFFFF

    def _answer(self, received):
        if received.error in (Status.LENGTH, Status.TIMEOUT):
            self._count("framing_errors")
            return p.encode_reply(received.opcode, received.error)
        if received.error == Status.CRC:
            self._count("crc_errors")
            return p.encode_reply(received.opcode, Status.CRC)
        self._count("frames_ok")
        if received.version != p.VERSION:
            self._count("rejected")
            return p.encode_reply(received.opcode, Status.VERSION)
        handler = self._HANDLERS.get(received.opcode)
        if handler is None:
            self._count("unknown_opcodes")
            return p.encode_reply(received.opcode, Status.OPCODE)
        try:
            payload = handler(self, received.payload)
        except _Refused as exc:
            self._count("rejected")
            return p.encode_reply(received.opcode, exc.status)
        return p.encode_reply(received.opcode, Status.OK, payload)

    # -- commands -----------------------------------------------------------------------------

    @staticmethod
    def _need(condition, status=Status.ARGUMENT):
        if not condition:
            raise _Refused(status)

    def _layer(self, layer):
        self._need(layer < self.cfg.layers)
        return layer

    def _vectors(self, values):
        x = np.array(values, dtype=np.int64).reshape(-1, self.cfg.d)
        self._need(x.size == 0 or (x.min() >= self._lo and x.max() <= self._hi))
        return x

    def _identify(self, payload):
        self._need(not payload, Status.LENGTH)
        return self.identity.pack()

    def _write_keys(self, payload):
        cfg = self.cfg
        try:
            layer, slots, keys = p.unpack_write_keys(payload, cfg.d, cfg.in_width)
        except p.ProtocolError:
            raise _Refused(Status.LENGTH) from None
        self._need(len(slots) <= p.max_keys_per_frame(cfg.d, cfg.in_width,
                                                      self.parser.max_payload), Status.LENGTH)
        self._layer(layer)
        self._need(all(s < cfg.t for s in slots))
        keys = self._vectors(keys)
        if slots:
            stored = self.model.write(keys, layer)
            last = {slot: i for i, slot in enumerate(slots)}  # a repeated slot keeps its last key
            where, rows = list(last), list(last.values())
            self.idx[where] = stored.idx[rows]
            self.mant[where] = stored.mant[rows]
            self.exp[where] = stored.exp[rows]
        return len(slots).to_bytes(2, "little")

    def _query(self, payload):
        cfg = self.cfg
        try:
            layer, first, count, q = p.unpack_query(payload, cfg.d, cfg.in_width)
        except p.ProtocolError:
            raise _Refused(Status.LENGTH) from None
        self._layer(layer)
        limit = p.max_query_count(cfg.score_mant_width, self.parser.max_payload)
        self._need(first < cfg.t and count <= min(cfg.t, limit) and first + count <= 1 << 16)
        q = self._vectors(q)[0]
        slots = np.arange(first, first + count)
        inside = slots[slots < cfg.t]
        scores = self.model.score(self.model.query(q, layer),
                                  StoredKeys(self.idx[inside], self.mant[inside],
                                             self.exp[inside]))
        mant = np.zeros(count, dtype=np.int64)
        exp = np.zeros(count, dtype=np.int64)
        mant[:len(inside)], exp[:len(inside)] = scores.mant, scores.exp
        records = [(int(s), s >= cfg.t, i == count - 1, int(mant[i]), int(exp[i]))
                   for i, s in enumerate(slots.tolist())]
        return p.pack_scores(records, cfg.score_mant_width)

    def _load_signs(self, payload):
        cfg = self.cfg
        self._need(len(payload) == 1 + p.sign_bytes(cfg.d), Status.LENGTH)
        self._need(self.identity.signs_writable, Status.UNSUPPORTED)
        layer = self._layer(payload[0])
        try:
            negated = p.unpack_signs(payload[1:], cfg.d)
        except p.ProtocolError:
            raise _Refused(Status.ARGUMENT) from None
        signs = self.signs.signs.copy()
        signs[layer] = np.where(negated, -1, 1)
        self._set_signs(signs)
        return b""

    def _read_signs(self, payload):
        self._need(len(payload) == 1, Status.LENGTH)
        layer = self._layer(payload[0])
        return p.pack_signs((self.signs.signs[layer] < 0).tolist())

    def _status(self, payload):
        self._need(not payload, Status.LENGTH)
        return p.pack_counters(self.counters)

    _HANDLERS = {
        Opcode.IDENTIFY: _identify,
        Opcode.WRITE_KEYS: _write_keys,
        Opcode.QUERY: _query,
        Opcode.LOAD_SIGNS: _load_signs,
        Opcode.READ_SIGNS: _read_signs,
        Opcode.STATUS: _status,
    }


class InProcessTransport:
    """A file-like link to an :class:`Emulator` in the same process.

    ``write`` feeds the device; ``read(n)`` returns up to ``n`` reply bytes. A read that finds
    too few bytes waits out the device's idle timeout (:meth:`Emulator.idle`), as a host
    waiting for its serial timeout would, and then returns what there is.
    """

    def __init__(self, emulator, timeout=1.0):
        self.emulator = emulator
        self.timeout = timeout
        self._out = bytearray()

    def write(self, data):
        self._out += self.emulator.feed(data)
        return len(data)

    def read(self, n=1):
        if len(self._out) < n:
            self._out += self.emulator.idle()
        data, self._out = bytes(self._out[:n]), self._out[n:]
        return data

    def reset_input_buffer(self):
        self._out.clear()

    def flush(self):
        pass

    def close(self):
        pass


class Server:
    """A TCP server thread in front of an :class:`Emulator`; see :func:`serve`."""

    def __init__(self, emulator, port=0, host="127.0.0.1", idle_timeout=0.05):
        self.emulator = emulator
        self.idle_timeout = idle_timeout
        self._sock = socket.create_server((host, port))
        self._sock.settimeout(0.05)
        self.host, self.port = self._sock.getsockname()[:2]
        self.url = f"socket://{self.host}:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"axelram-emulator:{self.port}",
                                        daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                self._talk(conn)
            self.emulator.parser.idle()  # a dropped connection drops its partial frame

    def _talk(self, conn):
        conn.settimeout(self.idle_timeout)
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                reply = self.emulator.idle()
            except OSError:
                return
            else:
                if not data:
                    return
                reply = self.emulator.feed(data)
            if reply:
                try:
                    conn.sendall(reply)
                except OSError:
                    return

    def close(self):
        self._stop.set()
        self._sock.close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve(emulator, port=0, *, host="127.0.0.1", idle_timeout=0.05):
    """Run ``emulator`` behind a TCP socket in a daemon thread; returns a :class:`Server`
    (``.url`` is ``socket://HOST:PORT``; ``port=0`` picks a free port; a context manager).

    TCP has no byte timing, so the idle timeout is wall-clock ``idle_timeout`` seconds (far
    more than 255 byte times at 1 Mbaud). One connection at a time.
    """
    return Server(emulator, port, host, idle_timeout)
