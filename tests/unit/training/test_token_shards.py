"""`fmops tokenize` and token shards: what goes in comes back out, the index says where documents start, and a
missing, truncated or changed file (or a foreign tokenizer, or an empty dataset) is one line, exit 2, nothing
marked complete. In-process; the training runs on shards are tests/e2e/test_training_tokenize.py's."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from fmops.core.errors import InputError
from fmops.training import token_shards
from fmops.training.sampling import Stream

from tests.helpers import cli

DOCS = [f"{a}+{b}={a + b}" for a in range(10, 40) for b in range(10, 20)] + ["tout ce qui brille n'est pas or"]
TEXT_DOCS = ["first paragraph\nsecond line", "2+2=4 café"]
SHARD = 500  # tokens: several shards, documents running across shard ends


def write_jsonl(path: Path, docs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    write_jsonl(root / "a.jsonl", DOCS)
    (root / "b.txt").write_text("\n\n".join(TEXT_DOCS) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def shards(corpus, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("shards") / "tok"
    result = cli(
        "tokenize",
        "--model",
        "tiny",
        "--data",
        str(corpus / "a.jsonl"),
        str(corpus / "b.txt"),
        "--output",
        str(output),
        "--shard-tokens",
        str(SHARD),
    )
    assert result.returncode == 0, result.stderr
    return output


def copy_of(shards: Path, tmp_path: Path) -> Path:
    target = tmp_path / "tok"
    shutil.copytree(shards, target)
    return target


def tokenizer_of(shards: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(shards / token_shards.TOKENIZER_DIR)


def test_shards_decode_to_the_input_documents(shards):
    dataset = token_shards.open_dataset(str(shards))
    tokenizer = tokenizer_of(shards)
    starts = [int(s) for s in dataset.document_starts()] + [dataset.num_tokens]
    decoded = [tokenizer.decode(dataset.tokens(a, b - 1).tolist()) for a, b in zip(starts, starts[1:], strict=False)]
    assert decoded == DOCS + TEXT_DOCS
    ends = dataset.tokens(0, dataset.num_tokens)[np.array(starts[1:]) - 1]
    assert (ends == tokenizer.eos_token_id).all()  # every document is followed by EOS, nothing else is lost


def test_index_lists_shards_boundaries_dtype_and_tokenizer(shards):
    index = json.loads((shards / "index.json").read_text())
    assert index["dtype"] == "uint16" and index["documents"] == len(DOCS) + len(TEXT_DOCS)
    assert [s["items"] for s in index["shards"][:-1]] == [SHARD] * (len(index["shards"]) - 1)
    assert sum(s["items"] for s in index["shards"]) == index["tokens"] > 3 * SHARD
    for entry in [*index["shards"], index["document_starts"]]:
        data = (shards / entry["file"]).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert index["document_starts"]["items"] == index["documents"]
    saved = (shards / "tokenizer" / "tokenizer.json").read_bytes()
    assert index["tokenizer"] == {"sha256": token_shards.tokenizer_sha256(saved), "model": "tiny", "dir": "tokenizer"}
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["stage"] == "tokenize" and manifest["metrics"]["tokens"] == index["tokens"]
    assert json.loads((shards / "metrics.json").read_text())["documents"] == index["documents"]
    assert 0 < index["unigram_entropy"] < np.log(index["vocab_size"])


def test_dtype_follows_the_vocabulary_and_uint32_round_trips(tmp_path):
    assert token_shards.dtype_for(65536) == np.uint16 and token_shards.dtype_for(65537) == np.uint32
    writer = token_shards.ShardWriter(str(tmp_path), vocab_size=70_000, eos_token_id=69_999, shard_tokens=4)
    writer.add([[1, 65_536], [69_998, 7, 8]])
    writer.finish(tokenizer={"sha256": "x"}, sources=["mem"])
    dataset = token_shards.open_dataset(str(tmp_path))
    assert dataset.dtype == np.uint32 and dataset.document_starts().tolist() == [0, 3]
    assert dataset.tokens(0, 7).tolist() == [1, 65_536, 69_999, 69_998, 7, 8, 69_999]
    assert dataset.tokens(3, 5).tolist() == [69_998, 7]  # a range across the first shard's end


def test_rerun_is_complete_only_while_every_shard_matches_its_sha256(shards, tmp_path, corpus):
    tok = copy_of(shards, tmp_path)
    args = [
        "tokenize",
        "--model",
        "tiny",
        "--data",
        str(corpus / "a.jsonl"),
        str(corpus / "b.txt"),
        "--output",
        str(tok),
        "--shard-tokens",
        str(SHARD),
    ]
    again = cli(*args)
    assert again.returncode == 0 and "already complete" in again.stderr
    shard = tok / "tokens-00001.bin"
    data = bytearray(shard.read_bytes())
    data[10] ^= 0xFF  # same length, other content: only a full read can tell
    shard.write_bytes(bytes(data))
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr == (
        f"fmops tokenize: error: {shard}: content does not match its sha256 in index.json "
        "(changed or corrupted since fmops tokenize wrote it); run fmops tokenize again\n"
    )


def pretrain_refused(tmp_path: Path, data: Path, model: str = "tiny") -> str:
    result = cli("pretrain", "--model", model, "--data", str(data), "--output", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert not (tmp_path / "out").exists()  # nothing written, nothing marked complete
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0].removeprefix("fmops pretrain: error: ")


def test_truncated_shard_is_named(shards, tmp_path):
    tok = copy_of(shards, tmp_path)
    shard = tok / "tokens-00002.bin"
    shard.write_bytes(shard.read_bytes()[:-3])
    message = pretrain_refused(tmp_path, tok)
    expected = f"{shard}: truncated: {2 * SHARD - 3} bytes, index.json says {2 * SHARD}; run fmops tokenize again"
    assert message == expected


def test_shard_listed_but_missing_is_named(shards, tmp_path):
    tok = copy_of(shards, tmp_path)
    (tok / "tokens-00001.bin").unlink()
    assert pretrain_refused(tmp_path, tok) == f"{tok / 'tokens-00001.bin'}: listed in index.json but missing"


def test_changed_document_boundaries_are_refused_before_training(shards, tmp_path):
    tok = copy_of(shards, tmp_path)
    starts = np.fromfile(tok / "documents.bin", dtype="<u8")
    starts[1] += 1
    starts.tofile(tok / "documents.bin")
    assert pretrain_refused(tmp_path, tok).startswith(f"{tok / 'documents.bin'}: content does not match its sha256")


def test_empty_dataset_is_refused(shards, tmp_path):
    tok = copy_of(shards, tmp_path)
    index = json.loads((tok / "index.json").read_text())
    (tok / "index.json").write_text(json.dumps({**index, "shards": [], "tokens": 0}))
    assert pretrain_refused(tmp_path, tok) == f"{tok}: empty dataset (index.json lists no tokens)"


def test_empty_input_is_refused_by_tokenize(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    result = cli(
        "tokenize", "--model", "tiny", "--data", str(tmp_path / "empty.jsonl"), "--output", str(tmp_path / "out")
    )
    expected = f"fmops tokenize: error: {tmp_path / 'empty.jsonl'}: file is empty\n"
    assert (result.returncode, result.stderr) == (2, expected)
    assert not (tmp_path / "out").exists()


def test_dataset_of_another_tokenizer_is_refused(shards, tmp_path):
    from fmops.models import tiny

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    tiny.build_tokenizer(["other text entirely, 0123456789"], vocab_size=300).save_pretrained(model)
    message = pretrain_refused(tmp_path, shards, model=str(model))
    expected = token_shards.model_tokenizer_sha256(str(model))[:12]
    found = json.loads((shards / "index.json").read_text())["tokenizer"]["sha256"][:12]
    assert message == (
        f"{shards}: tokenized with another tokenizer (sha256 {found}) than {model}'s tokenizer "
        f"({expected}); run fmops tokenize with this model"
    )


def test_prepared_dataset_must_be_given_alone(shards, corpus, tmp_path):
    message = pretrain_refused(tmp_path, Path(f"{shards},{corpus / 'a.jsonl'}"))
    assert message == f"--data {shards}: a prepared dataset (token shards) must be the only --data value"


def test_blocks_of_a_step_are_a_pure_function_of_the_step(shards):
    from fmops.training import packing

    def stream():
        dataset = token_shards.open_dataset(str(shards))
        return Stream(packing.from_shards(dataset, 32, 0.1, 4, "--data").train, seed=3)

    first, second = stream(), stream()
    assert first.batch(40, 8).equal(second.batch(40, 8))  # a resumed run reads what the uninterrupted one read
    assert not first.batch(0, 8).equal(first.batch(8, 8))


def test_held_out_text_starts_at_a_document_and_is_never_trained_on(shards):
    from fmops.training import packing

    dataset = token_shards.open_dataset(str(shards))
    packed = packing.from_shards(dataset, 32, 0.1, 64, "--data")
    trained_until = len(packed.train) * 32
    held_start = int(next(s for s in dataset.document_starts() if s >= trained_until))
    assert packed.held_out[0].tolist() == dataset.tokens(held_start, held_start + 32).tolist()


def test_shards_on_s3_read_by_ranges_with_lengths_checked(corpus, s3_server):
    from fmops.core import storage

    from tests.helpers import create_bucket

    create_bucket("tokens")
    result = cli(
        "tokenize",
        "--model",
        "tiny",
        "--data",
        str(corpus / "a.jsonl"),
        "--output",
        "s3://tokens/tok",
        "--shard-tokens",
        str(SHARD),
    )
    assert result.returncode == 0, result.stderr
    dataset = token_shards.open_dataset("s3://tokens/tok")
    assert dataset.tokens(SHARD - 5, SHARD + 5).tolist() == [
        *np.frombuffer(storage.read_bytes("s3://tokens/tok/tokens-00000.bin"), "<u2")[-5:],
        *np.frombuffer(storage.read_bytes("s3://tokens/tok/tokens-00001.bin"), "<u2")[:5],
    ]
    storage.atomic_write_bytes("s3://tokens/tok/tokens-00001.bin", b"\0\0")
    with pytest.raises(InputError, match=r"^s3://tokens/tok/tokens-00001.bin: truncated: 2 bytes"):
        token_shards.open_dataset("s3://tokens/tok")
