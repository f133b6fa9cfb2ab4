import numpy as np
import pytest

from lembed.runtime.pooling import l2_normalize, pool

HIDDEN = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
MASK = np.array([[1, 1, 1], [1, 1, 0]])


def test_mean_ignores_padding() -> None:
    out = pool(HIDDEN, MASK, "mean")
    np.testing.assert_allclose(out[0], HIDDEN[0].mean(axis=0))
    np.testing.assert_allclose(out[1], HIDDEN[1, :2].mean(axis=0))


def test_cls_takes_first_token() -> None:
    np.testing.assert_array_equal(pool(HIDDEN, MASK, "cls"), HIDDEN[:, 0])


def test_last_takes_last_real_token() -> None:
    out = pool(HIDDEN, MASK, "last")
    np.testing.assert_array_equal(out, np.stack([HIDDEN[0, 2], HIDDEN[1, 1]]))


@pytest.mark.parametrize("rows", [np.array([[3.0, 4.0], [0.0, 0.0]])])
def test_l2_normalize_unit_rows_and_zero_rows(rows: np.ndarray) -> None:
    out = l2_normalize(rows)
    np.testing.assert_allclose(out[0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(out[1], [0.0, 0.0])
    assert out.dtype == np.float32
