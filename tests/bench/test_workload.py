"""Lengths from distributions (seeded) and dataset files; bad input names the flag, file and line."""

from __future__ import annotations

import random

import pytest

from axonize.bench import workload


def test_distributions():
    rng = random.Random(1)
    assert workload.lengths("7", 3, rng) == [7, 7, 7] == workload.lengths("fixed:7", 3, rng)
    uniform = workload.lengths("uniform:2:4", 200, rng)
    assert set(uniform) == {2, 3, 4}
    normal = workload.lengths("normal:50:10", 2000, rng)
    assert min(normal) >= 1 and 49 < sum(normal) / len(normal) < 51
    assert workload.lengths("normal:1:100", 100, rng).count(1) > 40  # clipped at 1, never 0 or negative


@pytest.mark.parametrize("spec", ["fixed:0", "uniform:5:2", "uniform:1.5:3", "normal:0:1", "poisson:3", "x"])
def test_bad_distributions_name_the_flag(spec):
    with pytest.raises(workload.WorkloadError, match=f"--input-len: '{spec}'"):
        workload.synthetic(2, spec, "fixed:1", 0)


def test_synthetic_prompts_are_token_ids_of_the_asked_length_and_seeded():
    a = workload.synthetic(5, "uniform:3:9", "fixed:4", seed=3)
    assert [len(r.prompt) for r in a] == [r.prompt_len for r in a]
    assert all(workload.TOKEN_IDS[0] <= t < workload.TOKEN_IDS[1] for r in a for t in r.prompt)
    assert a == workload.synthetic(5, "uniform:3:9", "fixed:4", seed=3) != workload.synthetic(5, "uniform:3:9", "fixed:4", seed=4)
    text = workload.synthetic(2, "fixed:6", "fixed:4", seed=3, as_text=True)
    assert all(isinstance(r.prompt, str) and len(r.prompt.split()) == 6 for r in text)


def test_dataset(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "hello", "max_tokens": 3}\n\n{"prompt": "world"}\n')
    got = workload.from_dataset(str(path), 3, "fixed:9", 0)
    assert [(r.prompt, r.max_tokens) for r in got] == [("hello", 3), ("world", 9), ("hello", 3)]


@pytest.mark.parametrize(
    "text, error",
    [
        ('{"prompt": "a"}\nnot json\n', "prompts.jsonl:2: not JSON"),
        ('{"text": "a"}\n', "prompts.jsonl:1: needs a non-empty string 'prompt'"),
        ('{"prompt": "a", "max_tokens": 0}\n', "prompts.jsonl:1: max_tokens must be an integer >= 1"),
        ("\n", "no prompts in it"),
    ],
)
def test_bad_dataset_names_file_and_line(tmp_path, text, error):
    path = tmp_path / "prompts.jsonl"
    path.write_text(text)
    with pytest.raises(workload.WorkloadError, match=error):
        workload.from_dataset(str(path), 1, "fixed:1", 0)
