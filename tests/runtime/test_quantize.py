import numpy as np

from lembed.runtime.pooling import l2_normalize
from lembed.runtime.quantize import quantize, truncate_dims

RNG = np.random.default_rng(0)
VECS = l2_normalize(RNG.standard_normal((50, 64)).astype(np.float32))


def test_truncate_dims_renormalises() -> None:
    out = truncate_dims(VECS, 16)
    assert out.shape == (50, 16)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out[0], VECS[0, :16] / np.linalg.norm(VECS[0, :16]), rtol=1e-5)


def test_int8_is_per_vector_and_tracks_cosine() -> None:
    q = quantize(VECS, "int8")
    assert q.dtype == np.int8
    assert (np.abs(q).max(axis=1) == 127).all()
    # batch independence: quantising one row alone gives the same row
    np.testing.assert_array_equal(quantize(VECS[3:4], "int8")[0], q[3])
    f = q.astype(np.float32)
    cos_q = l2_normalize(f) @ l2_normalize(f).T
    assert np.abs(cos_q - VECS @ VECS.T).max() < 0.02


def test_uint8_is_int8_shifted() -> None:
    q = quantize(VECS, "uint8")
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q.astype(np.int16) - 128, quantize(VECS, "int8"))


def test_binary_packs_sign_bits() -> None:
    ub = quantize(VECS, "ubinary")
    assert ub.shape == (50, 8) and ub.dtype == np.uint8
    np.testing.assert_array_equal(np.unpackbits(ub, axis=1).astype(bool), VECS > 0)
    b = quantize(VECS, "binary")
    assert b.dtype == np.int8
    np.testing.assert_array_equal(b.astype(np.int16) + 128, ub)


def test_float32_passthrough() -> None:
    assert quantize(VECS, "float32") is VECS
