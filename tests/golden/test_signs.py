"""Sign generator (portable, pinned test vector) and the sign file format."""

import json

import numpy as np
import pytest

from golden.signs import (
    SignSet,
    default_signs,
    read_signs,
    rom_words,
    sign_pattern,
    word_signs,
    write_signs,
)

MASK = (1 << 64) - 1


def splitmix64_reference(state, count):
    """SplitMix64 in plain Python integers (Steele, Lea & Flood 2014)."""
    out = []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def test_pinned_vector():
    assert sign_pattern(8, seed=0, layer=0).tolist() == [-1, 1, 1, -1, 1, 1, 1, -1]


@pytest.mark.parametrize("seed,layer", [(0, 0), (1, 0), (0, 1), (12345, 27), (2**31 - 1, 255)])
def test_matches_python_reference(seed, layer):
    ref = [-1 if z >> 63 else 1 for z in splitmix64_reference((seed << 32) | layer, 128)]
    assert sign_pattern(128, seed, layer).tolist() == ref


def test_layers_and_seeds_differ_and_are_balanced():
    pats = np.stack([sign_pattern(128, s, layer) for s in range(10) for layer in range(28)])
    assert len({p.tobytes() for p in pats}) == len(pats)
    assert abs(pats.mean()) < 0.02


def test_file_round_trip(tmp_path):
    ss = default_signs(16, 3, seed=7)
    write_signs(tmp_path / "s.json", ss)
    back = read_signs(tmp_path / "s.json", d=16, layers=3)
    np.testing.assert_array_equal(back.signs, ss.signs)
    assert back.seeds == (7, 7, 7)
    assert rom_words(back) == rom_words(ss)
    assert rom_words(SignSet(np.array([[1, -1, -1, 1]]))) == [0b0110]


def _write(tmp_path, doc):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    return p


def _doc(**over):
    doc = {"format": "axelram-signs/1", "d": 4, "layers": 2,
           "signs": [[1, -1, 1, 1], [-1, -1, 1, 1]], "seeds": None, "source": ""}
    doc.update(over)
    return doc


@pytest.mark.parametrize("over,message", [
    ({"signs": [[1, -1, 1], [-1, -1, 1, 1]]}, "layer 0 has 3 entries, 'd' says 4"),
    ({"signs": [[1, -1, 1, 0], [-1, -1, 1, 1]]}, "layer 0 coordinate 3 is 0, not \\+1 or -1"),
    ({"signs": [[1, -1, 1, 2], [-1, -1, 1, 1]]}, "coordinate 3 is 2"),
    ({"signs": [[1, -1, 1, True], [-1, -1, 1, 1]]}, "coordinate 3 is True"),
    ({"layers": 3}, "'layers' says 3 but 'signs' has 2 rows"),
    ({"format": "other"}, "not a sign file"),
])
def test_bad_files(tmp_path, over, message):
    with pytest.raises(ValueError, match=message):
        read_signs(_write(tmp_path, _doc(**over)))


def test_expected_shape(tmp_path):
    p = _write(tmp_path, _doc())
    with pytest.raises(ValueError, match="sign set has d=4, but the configuration has d=8"):
        read_signs(p, d=8)
    with pytest.raises(ValueError, match="sign set has 2 layers, but the configuration has "
                                         "layers=5"):
        read_signs(p, layers=5)
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON sign file"):
        read_signs(tmp_path / "junk.json")


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    class Boom(SignSet):
        @property
        def layers(self):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        write_signs(tmp_path / "s.json", Boom(np.ones((1, 4))))
    assert list(tmp_path.iterdir()) == []


def test_word_signs_inverts_rom_words_and_with_word_replaces_one_layer():
    ss = default_signs(16, 3, seed=4)
    for layer, word in enumerate(rom_words(ss)):
        np.testing.assert_array_equal(word_signs(word, 16), ss.signs[layer])
    np.testing.assert_array_equal(word_signs(0b0110, 4), [1, -1, -1, 1])
    new = ss.with_word(1, 0x8001)
    assert rom_words(new) == [rom_words(ss)[0], 0x8001, rom_words(ss)[2]]
    assert new.seeds is None and "layer 1 written at run time" in new.source
    assert ss.with_word(3, 0x8001) is ss            # beyond the layers: ignored, as the port does
    assert ss.with_word(0, rom_words(ss)[0]) is ss  # same pattern: unchanged, seeds kept
    with pytest.raises(ValueError, match="word must be"):
        word_signs(1 << 16, 16)
