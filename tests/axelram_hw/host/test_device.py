"""The host driver against the reference device, in process and over ``socket://``: identify
and the description check, signs, keys and bit-exact queries against the golden model, ranges
longer than one frame, out-of-range slots, malformed frames, timeouts, and ``axelram board``."""

import socket

import numpy as np
import pytest

from axelram_hw.board import protocol as p
from axelram_hw.cli import main
from axelram_hw.host.device import Device, LinkError
from axelram_hw.host.emulator import Emulator, serve
from golden.config import AxelramConfig
from golden.fixed import FixedModel, StoredKeys
from golden.signs import default_signs

CONFIGS = {"d16_b3_t32": AxelramConfig(d=16, b=3, t=32),
           "d8_b2_t8_p2": AxelramConfig(d=8, b=2, t=8, lanes=2, layers=2)}
DESCRIPTION = {"format": "axelram-hw-description/1", "top": "axelram_test"}


@pytest.fixture(params=["in-process", "socket"])
def connect(request):
    """connect(emulator, **kwargs) -> Device over the chosen transport."""
    servers, devices = [], []

    def open_device(emulator, **kwargs):
        if request.param == "in-process":
            device = Device(emulator.transport(), **kwargs)
        else:
            servers.append(serve(emulator))
            device = Device(servers[-1].url, timeout=kwargs.pop("timeout", 2.0), **kwargs)
        devices.append(device)
        return device

    yield open_device
    for device in devices:
        device.close()
    for server in servers:
        server.close()


def random_ints(rng, cfg, shape):
    top = (1 << (cfg.in_width - 1)) - 1
    return rng.integers(-top - 1, top + 1, shape)


def expected(cfg, signs, slots, keys, q, layer, first, count):
    """Golden scores of slots first..first+count-1: zero store, keys written, oob beyond t."""
    model = FixedModel(cfg, signs)
    store = StoredKeys(np.zeros((cfg.t, cfg.d), np.uint8), np.zeros(cfg.t, np.int64),
                       np.zeros(cfg.t, np.int64))
    if len(keys):
        stored = model.write(keys, layer)
        store.idx[slots], store.mant[slots], store.exp[slots] = stored.idx, stored.mant, stored.exp
    scores = model.score(model.query(q, layer), store)
    want_slots = np.arange(first, first + count)
    inside = want_slots < cfg.t
    mant = np.where(inside, scores.mant[np.minimum(want_slots, cfg.t - 1)], 0)
    exp = np.where(inside, scores.exp[np.minimum(want_slots, cfg.t - 1)], 0)
    return mant, exp, ~inside


def test_identify_and_description_check(connect):
    cfg = CONFIGS["d16_b3_t32"]
    ident = connect(Emulator(cfg, description=DESCRIPTION), description=DESCRIPTION).identify()
    assert ident.config_kwargs() == cfg.as_dict()
    assert ident.description_hash == p.description_hash(DESCRIPTION)
    assert (ident.score_exp_offset, ident.max_payload) == (cfg.score_exp_offset, p.MAX_PAYLOAD)
    other = {**DESCRIPTION, "top": "something_else"}
    with pytest.raises(LinkError, match=r"wrong bitstream: the device's description hash is "
                                        r"[0-9a-f]{16}, the expected description's is"):
        connect(Emulator(cfg, description=DESCRIPTION), description=other).identify()
    with pytest.raises(LinkError, match="wrong bitstream"):
        connect(Emulator(cfg), description=DESCRIPTION).write_keys([0], np.zeros((1, 16), int))


def test_generated_description_hash():
    """The hash is of the macro's generate() description, as its JSON file reads back."""
    import json

    from axelram_hw.generate import generate

    cfg = AxelramConfig(d=8, b=2, t=8)
    signs = default_signs(8, 1, seed=3)
    _, _, doc = generate(cfg, signs)
    emulator = Emulator.from_description(doc)
    assert np.array_equal(emulator.signs.signs, signs.signs)
    device = Device(emulator.transport(), description=json.loads(json.dumps(doc, indent=2)))
    assert device.identify().description_hash == p.description_hash(doc)


@pytest.mark.parametrize("name", CONFIGS)
def test_write_and_query_bit_exact(connect, name):
    cfg = CONFIGS[name]
    rng = np.random.default_rng(17)
    signs = default_signs(cfg.d, cfg.layers, seed=9)
    device = connect(Emulator(cfg))
    device.load_signs(signs)
    for layer in range(cfg.layers):
        assert np.array_equal(device.read_signs(layer), signs.signs[layer])
    layer = cfg.layers - 1
    n = cfg.t // 2
    slots = rng.permutation(cfg.t)[:n]
    keys = random_ints(rng, cfg, (n, cfg.d))
    keys[0] = 0  # a zero key scores 0
    assert device.write_keys(slots, keys, layer) == n
    for first, count in ((0, cfg.t), (cfg.t // 2, cfg.t), (cfg.t - 1, 1), (3, 0)):
        q = random_ints(rng, cfg, cfg.d)
        got = device.query(q, layer, first, count)
        mant, exp, oob = expected(cfg, signs, slots, keys, q, layer, first, count)
        np.testing.assert_array_equal(got.mant, mant)
        np.testing.assert_array_equal(got.exp, exp)
        np.testing.assert_array_equal(got.oob, oob)
        np.testing.assert_array_equal(got.slot, np.arange(first, first + count))
        assert got.last.tolist() == [i == count - 1 for i in range(count)]
        np.testing.assert_array_equal(
            got.value, mant.astype(float) * np.exp2(exp + cfg.score_exp_offset))


def test_ranges_longer_than_a_frame(connect):
    cfg = AxelramConfig(d=16, b=3, t=300)
    emulator = Emulator(cfg, max_payload=256)  # 7 keys or 32 scores per frame
    device = connect(emulator)
    rng = np.random.default_rng(2)
    keys = random_ints(rng, cfg, (cfg.t, cfg.d))
    assert device.write_keys(np.arange(cfg.t), keys) == cfg.t
    assert emulator.counters["frames_ok"] == 1 + 43  # IDENTIFY, ceil(300 / 7) WRITE_KEYS
    q = random_ints(rng, cfg, cfg.d)
    got = device.query(q, 0, 0, cfg.t)
    mant, exp, _ = expected(cfg, default_signs(16, 1), np.arange(cfg.t), keys, q, 0, 0, cfg.t)
    np.testing.assert_array_equal(got.mant, mant)
    np.testing.assert_array_equal(got.exp, exp)
    assert np.flatnonzero(got.last).tolist() == [*range(31, cfg.t - 1, 32), cfg.t - 1]


def test_refused_arguments(connect):
    cfg = CONFIGS["d16_b3_t32"]
    device = connect(Emulator(cfg))
    q = np.zeros(16, dtype=np.int64)
    with pytest.raises(LinkError, match=r"device refused QUERY: ARGUMENT \(a field out of range"):
        device.query(q, 0, 0, cfg.t + 1)
    with pytest.raises(LinkError, match="device refused QUERY: ARGUMENT"):
        device.query(q, 0, cfg.t, 1)
    with pytest.raises(LinkError, match="device refused READ_SIGNS: ARGUMENT"):
        device.read_signs(1)
    with pytest.raises(ValueError, match="slots must be between 0 and 31"):
        device.write_keys([32], np.zeros((1, 16), int))
    fixed = connect(Emulator(cfg, signs_writable=False))
    with pytest.raises(LinkError, match="device refused LOAD_SIGNS: UNSUPPORTED"):
        fixed.load_signs(default_signs(16, 1, seed=1))
    assert device.status()["rejected"] == 3


def test_malformed_frames_then_recovery(connect):
    cfg = CONFIGS["d16_b3_t32"]
    emulator = Emulator(cfg)
    device = connect(emulator, timeout=0.3)
    link = device._link
    link.write(b"\x00\x13\xa5\x01")  # garbage, then a frame that never finishes
    link.write(p.encode_request(p.Opcode.IDENTIFY)[:-1] + b"\xff")
    assert device.identify().d == 16  # the host discards stale bytes and resends cleanly
    counters = device.status()
    assert counters["frames_ok"] == 2
    assert counters["crc_errors"] + counters["framing_errors"] >= 1


def test_truncated_reply_names_what_was_expected():
    class Truncating:
        def __init__(self):
            self.emulator = Emulator(CONFIGS["d16_b3_t32"])
            self.out = b""

        def write(self, data):
            self.out = self.emulator.feed(data)[:-3]

        def read(self, n):
            data, self.out = self.out[:n], self.out[n:]
            return data

    with pytest.raises(LinkError, match=r"timeout after 1.0 s waiting for the IDENTIFY reply "
                                        r"payload and CRC \(33 bytes, got 30\)"):
        Device(Truncating()).identify()


def test_timeout_on_a_silent_port():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"socket://127.0.0.1:{silent.getsockname()[1]}"
        with Device(url, timeout=0.2) as device, pytest.raises(
                LinkError, match=r"timeout after 0.2 s waiting for the IDENTIFY reply "
                                 r"\(sync byte 0x5A\) \(1 bytes, got 0\)"):
            device.identify()


def test_nonexistent_port():
    with pytest.raises(LinkError, match=r"^cannot open /dev/ttyUSB-axelram-none: .*could not "
                                        r"open port"):
        Device("/dev/ttyUSB-axelram-none")


def test_cli_demo_emulate(capsys):
    assert main(["board", "demo", "--emulate", "--d", "16", "--t", "64", "--queries", "3"]) == 0
    out = capsys.readouterr().out
    assert "wrote 64 keys" in out and "keys/s" in out and "queries/s" in out
    assert "all 192 scores match the golden model bit for bit" in out
    assert main(["board", "identify", "--emulate", "--d", "8", "--b", "2"]) == 0
    assert "d=8, b=2" in capsys.readouterr().out


def test_cli_missing_port(capsys):
    assert main(["board", "identify", "--port", "/dev/ttyUSB-axelram-none"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("axelram board identify: error: cannot open /dev/ttyUSB-axelram-none")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["board", "demo"]) == 2
    assert capsys.readouterr().err == ("axelram board: error: give --port URL (e.g. "
                                       "/dev/ttyUSB1) or --emulate\n")
