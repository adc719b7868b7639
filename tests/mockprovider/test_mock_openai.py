"""The official openai SDK, pointed straight at the mock, parses every endpoint and sees
the usage the mock reported. Expected token counts are worked out by hand from the
documented formula: ceil(UTF-8 bytes of the prompt strings / 4)."""

from __future__ import annotations

import asyncio
import base64

import httpx2
import openai
import pytest

from jackstop.mockprovider import MockProvider, UsagePolicy

HELLO = [{"role": "user", "content": "hello world"}]  # "user" + "hello world" = 15 B -> 4


def test_chat_reports_usage_and_mock_records_the_provider_key(mock, oai):
    reply = oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    assert reply.object == "chat.completion"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (4, 16)
    assert reply.usage.total_tokens == 20
    rec = mock.requests[-1]
    assert (rec.method, rec.path, rec.endpoint) == ("POST", "/v1/chat/completions", "openai.chat")
    assert rec.credential_header == "authorization"
    assert rec.credential == mock.keys["openai"]
    assert rec.credential_ok and rec.status == 200 and rec.completed
    assert rec.body["messages"] == HELLO and rec.model == "gpt-4o-mini"
    assert (rec.usage.input_tokens, rec.usage.output_tokens) == (4, 16)


def test_chat_max_policy_returns_exactly_max_tokens_with_reasoning_and_cache(mock, oai):
    mock.usage = UsagePolicy(output_tokens="max", reasoning_tokens=7, cached_tokens=3)
    reply = oai.chat.completions.create(model="o3", messages=HELLO, max_completion_tokens=37)

    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 37
    assert reply.usage.completion_tokens_details.reasoning_tokens == 7
    assert reply.usage.prompt_tokens_details.cached_tokens == 3
    # The legacy max_tokens parameter bounds the output the same way.
    legacy = oai.chat.completions.create(model="gpt-4o", messages=HELLO, max_tokens=5)
    assert legacy.usage.completion_tokens == 5


def test_chat_n_choices_multiply_the_output(oai):
    reply = oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO, n=3, max_tokens=10,
                                        extra_headers={"x-mock-usage": "output=max"})
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert reply.usage.completion_tokens == 30


def test_chat_stream_ends_with_usage_chunk_then_done(mock, oai):
    stream = oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True,
                                         stream_options={"include_usage": True})
    chunks = list(stream)

    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content) == 4  # UsagePolicy.stream_deltas
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 16
    assert all(c.usage is None for c in chunks[:-1])
    raw = mock.requests[-1]
    assert raw.stream and raw.events_sent == len(chunks) + 1  # + data: [DONE]
    assert raw.usage.output_tokens == 16


def test_chat_stream_without_include_usage_has_no_usage_chunk(mock, oai):
    chunks = list(oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert mock.requests[-1].usage is None


def test_chat_async_plain_and_stream(mock, aoai):
    async def run() -> tuple[openai.types.chat.ChatCompletion, list]:
        plain = await aoai.chat.completions.create(model="gpt-4o-mini", messages=HELLO,
                                                   extra_headers={"x-mock-usage": "output=9"})
        stream = await aoai.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, stream=True,
            stream_options={"include_usage": True}, extra_headers={"x-mock-usage": "deltas=2"})
        return plain, [c async for c in stream]

    plain, chunks = asyncio.run(run())
    assert plain.usage.completion_tokens == 9
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 2
    assert chunks[-1].usage.prompt_tokens == 4


def test_responses_plain_reports_cached_and_reasoning_tokens(mock, oai):
    mock.usage = UsagePolicy(output_tokens=20, reasoning_tokens=5, cached_tokens=2)
    reply = oai.responses.create(model="gpt-5", input="hello world", instructions="be brief")

    assert reply.status == "completed"
    assert [item.type for item in reply.output] == ["reasoning", "message"]
    assert reply.output_text
    # "hello world" + "be brief" = 19 B -> 5 tokens
    assert reply.usage.input_tokens == 5
    assert reply.usage.input_tokens_details.cached_tokens == 2
    assert reply.usage.output_tokens == 20
    assert reply.usage.output_tokens_details.reasoning_tokens == 5
    assert reply.usage.total_tokens == 25


def test_responses_stream_event_sequence(mock, oai):
    events = list(oai.responses.create(model="gpt-5", input="hello", stream=True))

    kinds = [e.type for e in events]
    assert kinds == [
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", *["response.output_text.delta"] * 4,
        "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[0].response.usage is None
    done = events[-1].response
    assert done.usage.output_tokens == 16 and done.usage.input_tokens == 2
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == done.output_text
    with oai.responses.stream(model="gpt-5", input="hello") as stream:
        final = stream.get_final_response()  # the SDK's own accumulator agrees
    assert final.usage.total_tokens == 18


def test_responses_at_max_output_tokens_end_incomplete(oai):
    events = list(oai.responses.create(model="gpt-5", input="hello", stream=True,
                                       max_output_tokens=64,
                                       extra_headers={"x-mock-usage": "output=max"}))
    last = events[-1]
    assert last.type == "response.incomplete"
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert last.response.usage.output_tokens == 64


def test_legacy_completions_default_to_16_tokens_and_stream(mock, oai):
    mock.usage = UsagePolicy(output_tokens=100)
    reply = oai.completions.create(model="gpt-3.5-turbo-instruct", prompt=["one", "two"], n=2)
    assert len(reply.choices) == 4
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage.completion_tokens == 4 * 16  # the API's default max_tokens
    assert reply.usage.prompt_tokens == 2  # "one" + "two" = 6 B

    chunks = list(oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="say", stream=True,
                                         max_tokens=8, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 8


def test_embeddings_in_the_sdk_default_base64_and_in_float(mock, oai):
    reply = oai.embeddings.create(model="text-embedding-3-small", input=["a b c", "d"])
    assert [len(d.embedding) for d in reply.data] == [1536, 1536]
    assert reply.usage.prompt_tokens == 2  # 5 B + 1 B -> 2
    assert mock.requests[-1].body["encoding_format"] == "base64"  # what the SDK asks for
    small = oai.embeddings.create(model="text-embedding-3-large", input="x", dimensions=8,
                                  encoding_format="float")
    assert len(small.data[0].embedding) == 8
    again = oai.embeddings.create(model="text-embedding-3-large", input="x", dimensions=8,
                                  encoding_format="float")
    assert again.data[0].embedding == small.data[0].embedding  # deterministic


def test_images_gpt_image_reports_token_usage_and_png(oai):
    reply = oai.images.generate(model="gpt-image-1.5", prompt="a red fox", n=2, size="1024x1536",
                                quality="high")
    assert len(reply.data) == 2
    assert base64.b64decode(reply.data[0].b64_json).startswith(b"\x89PNG")
    assert reply.usage.output_tokens == 2 * 6240
    assert reply.usage.input_tokens == 3  # "a red fox" = 9 B


def test_images_dalle_returns_url_without_usage(oai):
    reply = oai.images.generate(model="dall-e-3", prompt="a red fox")
    assert reply.data[0].url.startswith("https://")
    assert reply.usage is None


def test_models_list(mock, oai):
    ids = [m.id for m in oai.models.list()]
    assert ids == list(mock.models["openai"])
    assert mock.requests[-1].family == "openai"


def test_wrong_key_raises_authentication_error_without_echoing_the_key(mock):
    bad = "sk-proj-" + "x" * 40
    client = openai.OpenAI(base_url=mock.base_url + "/v1", api_key=bad, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert err.value.status_code == 401
    assert err.value.code == "invalid_api_key"
    assert bad not in err.value.response.text
    assert mock.requests[-1].credential == bad and not mock.requests[-1].credential_ok


def test_missing_key_answer_is_openai_401(mock):
    reply = httpx2.post(mock.base_url + "/v1/chat/completions",
                        json={"model": "gpt-4o-mini", "messages": HELLO})
    assert reply.status_code == 401
    error = reply.json()["error"]
    assert error["message"].startswith("You didn't provide an API key")
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize(("status", "exc"), [
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
])
def test_status_faults_raise_the_sdk_error(oai, status, exc):
    with pytest.raises(exc) as err:
        oai.chat.completions.create(model="gpt-4o-mini", messages=HELLO,
                                    extra_headers={"x-mock-fault": f"status={status}"})
    assert err.value.status_code == status
    assert err.value.body["type"] in ("requests", "server_error")
    retry = err.value.response.headers.get("retry-after")
    assert retry == ("1" if status in (429, 503) else None)


def test_bad_requests_get_openai_400(mock, oai):
    with pytest.raises(openai.BadRequestError) as err:
        oai.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert err.value.param == "messages"
    reply = httpx2.post(mock.base_url + "/v1/chat/completions", content=b"{not json",
                        headers={"authorization": f"Bearer {mock.keys['openai']}"})
    assert reply.status_code == 400
    assert "could not parse the JSON body" in reply.json()["error"]["message"]
    missing = httpx2.post(mock.base_url + "/v1/chat/completions", json={"messages": HELLO},
                          headers={"authorization": f"Bearer {mock.keys['openai']}"})
    assert missing.json()["error"]["param"] == "model"


def test_unknown_route_and_unknown_model_are_404():
    with MockProvider(strict_models=True) as mock:
        client = openai.OpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"],
                               max_retries=0)
        with pytest.raises(openai.NotFoundError) as err:
            client.chat.completions.create(model="gpt-nonexistent", messages=HELLO)
        assert err.value.code == "model_not_found"
        reply = httpx2.post(mock.base_url + "/v1/nope", json={},
                            headers={"authorization": f"Bearer {mock.keys['openai']}"})
        assert reply.status_code == 404
        assert reply.json()["error"]["message"] == "Invalid URL (POST /v1/nope)"
