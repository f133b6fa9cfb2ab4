import json

from lembed.models.catalog import find
from lembed.models.resolve import packaged_path
from lembed.runtime.tokenizer import Tokenizer

FOLDER = packaged_path(find("all-minilm"))  # type: ignore[arg-type]
LONG = "word " * 300


def test_packaged_tokenizer_file_is_fixed_at_128() -> None:
    """The trap this module exists for: the shipped file pads and cuts at 128."""
    assert FOLDER is not None
    raw = json.loads((FOLDER / "tokenizer.json").read_text())
    assert raw["truncation"]["max_length"] == 128
    assert raw["padding"]["strategy"] == {"Fixed": 128}


def test_counts_are_exact_and_untruncated() -> None:
    tok = Tokenizer.from_folder(FOLDER, 256)  # type: ignore[arg-type]
    encs = tok.encode(["hello world", LONG])
    assert [len(e.ids) for e in encs] == [4, 302]


def test_truncate_keeps_window_and_special_tokens_each_side() -> None:
    tok = Tokenizer.from_folder(FOLDER, 256)  # type: ignore[arg-type]
    text = "alpha " + "word " * 300 + "omega"
    right = tok.truncate([text], "right")[0]
    left = tok.truncate([text], "left")[0]
    assert len(right.ids) == len(left.ids) == 256
    assert right.tokens[0] == left.tokens[0] == "[CLS]"
    assert right.tokens[-1] == left.tokens[-1] == "[SEP]"
    assert right.tokens[1] == "alpha" and "omega" not in right.tokens
    assert left.tokens[-2] == "omega" and "alpha" not in left.tokens


def test_pad_to_longest_in_batch() -> None:
    tok = Tokenizer.from_folder(FOLDER, 256)  # type: ignore[arg-type]
    batch = tok.pad(tok.encode(["a", "a b c d e"]))
    assert batch.shape == (2, 7)
    assert batch.attention_mask.tolist() == [[1, 1, 1, 0, 0, 0, 0], [1] * 7]
    assert (batch.input_ids[0, 3:] == tok.pad_id).all()
