"""The host driver: one AXELRAM device behind a serial link (:mod:`axelram_hw.board.protocol`).

``Device("/dev/ttyUSB1")``, ``Device("socket://127.0.0.1:4000")`` (a simulation or the
emulator's :func:`~axelram_hw.host.emulator.serve`) and ``Device("loop://")`` all go through
``serial.serial_for_url``; an already open file-like object with ``read``/``write`` (e.g.
:meth:`Emulator.transport <axelram_hw.host.emulator.Emulator.transport>`) is used as is.
Every failure is a :class:`LinkError` with a one-line message.
"""

from dataclasses import dataclass

import numpy as np

from golden.fixed import check_vectors
from golden.signs import SignSet

from ..board import protocol as p
from ..board.protocol import Opcode, Status

__all__ = ["Device", "LinkError", "QueryResult"]

_STATUS_TEXT = {
    Status.CRC: "the request's CRC did not check",
    Status.VERSION: "protocol version not supported",
    Status.OPCODE: "unknown opcode",
    Status.LENGTH: "payload length wrong",
    Status.ARGUMENT: "a field out of range",
    Status.TIMEOUT: "partial frame dropped after the idle timeout",
    Status.UNSUPPORTED: "not supported by this device",
}


class LinkError(Exception):
    """The device cannot be opened, does not answer, answers garbage, or refuses a command."""


@dataclass(frozen=True)
class QueryResult:
    """Scores of one query, one entry per slot ``first .. first + count - 1``.

    ``mant``, ``exp``, ``slot`` (int64), ``oob``, ``last`` (bool) are the raw reply fields
    (``last`` marks the final score of each QUERY command; long ranges are split into several);
    ``value = mant * 2**(exp + score_exp_offset)`` (float64, (input LSB)**2 units).
    """

    mant: np.ndarray
    exp: np.ndarray
    slot: np.ndarray
    oob: np.ndarray
    last: np.ndarray
    value: np.ndarray


class Device:
    """An AXELRAM device on a serial link.

    Parameters
    ----------
    url : str or file-like
        A pyserial URL (``/dev/ttyUSB1``, ``socket://host:port``, ``loop://``) or an open
        transport with ``read(n)`` and ``write(data)``.
    baudrate : int
        Serial speed (1 Mbaud divides both boards' clocks exactly).
    timeout : float
        Seconds to wait for each part of a reply.
    description : dict or None
        The JSON description of the bitstream the caller expects (``axelram verilog``'s
        ``<name>.json``); :meth:`identify` refuses a device whose hash differs.

    Raises
    ------
    LinkError
        If the port cannot be opened.
    """

    def __init__(self, url, *, baudrate=1_000_000, timeout=1.0, description=None):
        self._expected = p.description_hash(description) if description is not None else None
        self.timeout = timeout
        self._identity = None
        if isinstance(url, str):
            import serial

            self.url = url
            try:
                self._link = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout,
                                                   write_timeout=timeout)
            except (serial.SerialException, OSError, ValueError) as exc:
                raise LinkError(f"cannot open {url}: {_one_line(exc)}") from None
            self._owned = True
        else:
            self.url = type(url).__name__
            self._link = url
            self._owned = False

    # -- lifetime -----------------------------------------------------------------------------

    def close(self):
        if self._owned:
            self._link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- commands -----------------------------------------------------------------------------

    def identify(self):
        """The device's :class:`~axelram_hw.board.protocol.Identity` (cached after the first
        call); refuses a device whose description hash is not the expected one."""
        if self._identity is None:
            payload = self._transact(Opcode.IDENTIFY)
            try:
                identity = p.Identity.unpack(payload)
            except p.ProtocolError as exc:
                raise LinkError(f"{self.url}: bad IDENTIFY reply: {exc}") from None
            if identity.protocol != p.VERSION:
                raise LinkError(f"{self.url}: device speaks protocol version "
                                f"{identity.protocol}, this host speaks {p.VERSION}")
            if self._expected is not None and identity.description_hash != self._expected:
                raise LinkError(
                    f"{self.url}: wrong bitstream: the device's description hash is "
                    f"{identity.description_hash.hex()}, the expected description's is "
                    f"{self._expected.hex()}")
            self._identity = identity
        return self._identity

    @property
    def config(self):
        """The device's ``golden.config.AxelramConfig`` (from IDENTIFY)."""
        from golden.config import AxelramConfig

        return AxelramConfig(**self.identify().config_kwargs())

    def load_signs(self, signs):
        """Load every layer's sign pattern of ``signs`` (a SignSet of the device's d, layers)."""
        ident = self.identify()
        if not isinstance(signs, SignSet):
            raise TypeError(f"signs must be a SignSet, not {signs!r}")
        signs.check(ident.d, ident.layers)
        for layer, row in enumerate(signs.signs.tolist()):
            self._transact(Opcode.LOAD_SIGNS,
                           bytes((layer,)) + p.pack_signs([s < 0 for s in row]))

    def read_signs(self, layer=0):
        """One layer's current sign pattern: int8 array of d entries +-1."""
        ident = self.identify()
        payload = self._transact(Opcode.READ_SIGNS, bytes((layer,)))
        try:
            negated = p.unpack_signs(payload, ident.d)
        except p.ProtocolError as exc:
            raise LinkError(f"{self.url}: bad READ_SIGNS reply: {exc}") from None
        return np.where(negated, -1, 1).astype(np.int8)

    def read_sign_set(self):
        """Every layer's sign pattern as a SignSet."""
        ident = self.identify()
        return SignSet(np.stack([self.read_signs(layer) for layer in range(ident.layers)]),
                       source=f"read from {self.url}")

    def write_keys(self, slots, keys, layer=0):
        """Write integer keys (N, d) into ``slots`` (N,) on ``layer``; returns N. Split into
        as many WRITE_KEYS frames as ``max_payload`` needs."""
        ident = self.identify()
        cfg = self.config
        keys = check_vectors(np.atleast_2d(keys), cfg)
        slots = np.asarray(slots, dtype=np.int64).reshape(-1)
        if len(slots) != len(keys):
            raise ValueError(f"slots must have one entry per key ({len(keys)}), not "
                             f"{len(slots)}")
        if slots.size and (slots.min() < 0 or slots.max() >= ident.t):
            raise ValueError(f"slots must be between 0 and {ident.t - 1}, found "
                             f"[{slots.min()}, {slots.max()}]")
        per_frame = p.max_keys_per_frame(ident.d, ident.in_width, ident.max_payload)
        for start in range(0, len(keys), per_frame):
            s, k = slots[start:start + per_frame], keys[start:start + per_frame]
            payload = self._transact(
                Opcode.WRITE_KEYS,
                p.pack_write_keys(layer, s.tolist(), k.tolist(), ident.in_width))
            accepted = int.from_bytes(payload, "little") if len(payload) == 2 else None
            if accepted != len(s):
                raise LinkError(f"{self.url}: WRITE_KEYS reply says {accepted} keys accepted "
                                f"(payload {payload.hex()}), expected {len(s)}")
        return len(keys)

    def query(self, q, layer=0, first=0, count=None):
        """Score slots ``first .. first + count - 1`` (``count`` default: up to ``t``) against
        the integer query ``q`` (d,) → :class:`QueryResult`. Ranges longer than one reply frame
        holds are split into several QUERY commands."""
        ident = self.identify()
        q = check_vectors(np.asarray(q), self.config, "query")
        if q.ndim != 1:
            raise ValueError(f"query must be one vector of shape ({ident.d},), not {q.shape}")
        count = ident.t - first if count is None else count
        per_frame = p.max_query_count(ident.score_mant_width, ident.max_payload)
        records = []
        for start in range(first, first + count, per_frame):
            n = min(per_frame, first + count - start)
            payload = self._transact(Opcode.QUERY,
                                     p.pack_query(layer, start, n, q.tolist(), ident.in_width))
            try:
                got = p.unpack_scores(payload, ident.score_mant_width)
            except p.ProtocolError as exc:
                raise LinkError(f"{self.url}: bad QUERY reply: {exc}") from None
            if len(got) != n:
                raise LinkError(f"{self.url}: QUERY reply has {len(got)} scores, expected {n}")
            records += got
        columns = list(zip(*records, strict=True)) if records else [()] * 5
        slot, oob, last, mant, exp = (np.array(c, dtype=np.int64) for c in columns)
        return QueryResult(mant, exp, slot, oob.astype(bool), last.astype(bool),
                           mant.astype(np.float64) * np.exp2(exp + ident.score_exp_offset))

    def status(self):
        """The device's counters: ``{name: count}`` in ``protocol.COUNTERS`` order."""
        payload = self._transact(Opcode.STATUS)
        try:
            return p.unpack_counters(payload)
        except p.ProtocolError as exc:
            raise LinkError(f"{self.url}: bad STATUS reply: {exc}") from None

    # -- framing ------------------------------------------------------------------------------

    def _transact(self, opcode, payload=b""):
        """Send one request, read its reply, return the payload of an OK reply.

        Every command is idempotent, so a reply that shows the request was lost on the way (a
        ``TIMEOUT`` or ``CRC`` error reply, or a reply to another opcode: a stray sync byte made
        the device swallow the request) is answered by resending the request once.
        """
        try:
            return self._exchange(opcode, payload)
        except _Resend:
            pass
        try:
            return self._exchange(opcode, payload)
        except _Resend as exc:
            raise LinkError(str(exc)) from None

    def _exchange(self, opcode, payload):
        if hasattr(self._link, "reset_input_buffer"):
            self._link.reset_input_buffer()  # stale bytes of an earlier, failed exchange
        try:
            self._link.write(p.encode_request(opcode, payload))
            if hasattr(self._link, "flush"):
                self._link.flush()
        except OSError as exc:  # serial.SerialException and SerialTimeoutException included
            raise LinkError(f"{self.url}: cannot send {opcode.name}: {_one_line(exc)}") from None
        return self._read_reply(opcode)

    def _read(self, n, what):
        got = bytearray()
        while len(got) < n:
            try:
                chunk = self._link.read(n - len(got))
            except OSError as exc:
                raise LinkError(f"{self.url}: reading the {what}: {_one_line(exc)}") from None
            if not chunk:
                raise LinkError(f"{self.url}: timeout after {self.timeout} s waiting for the "
                                f"{what} ({n} bytes, got {len(got)})")
            got += chunk
        return bytes(got)

    def _read_reply(self, opcode):
        name = opcode.name
        skipped = 0
        while self._read(1, f"{name} reply (sync byte 0x5A"
                            + (f", after {skipped} other bytes)" if skipped else ")"))[0] \
                != p.SYNC_REPLY:
            skipped += 1
        header = self._read(p.REPLY_HEADER_BYTES, f"{name} reply header")
        length = int.from_bytes(header[3:5], "little")
        if length > p.MAX_PAYLOAD:
            raise LinkError(f"{self.url}: {name} reply header says {length} payload bytes, more "
                            f"than the protocol's {p.MAX_PAYLOAD}")
        body = self._read(length + 1, f"{name} reply payload and CRC")
        if p.crc8(header + body[:-1]) != body[-1]:
            raise LinkError(f"{self.url}: bad CRC in the {name} reply")
        version, op, status = header[0], header[1], header[2]
        if op != opcode | p.REPLY_FLAG:
            raise _Resend(f"{self.url}: expected the {name} reply (opcode "
                            f"0x{opcode | p.REPLY_FLAG:02x}), got opcode 0x{op:02x}")
        if status in (Status.TIMEOUT, Status.CRC):
            raise _Resend(f"{self.url}: device refused {name} twice: {Status(status).name} "
                          f"({_STATUS_TEXT[status]})")
        if status != Status.OK:
            text = _STATUS_TEXT.get(status, "unknown error")
            label = Status(status).name if status in Status._value2member_map_ else status
            raise LinkError(f"{self.url}: device refused {name}: {label} ({text})")
        if version != p.VERSION:
            raise LinkError(f"{self.url}: device speaks protocol version {version}, this host "
                            f"speaks {p.VERSION}")
        return body[:-1]


class _Resend(LinkError):
    """The request was lost on the way: send it again."""


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__
