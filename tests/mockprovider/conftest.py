"""One mock provider for the whole directory (start-up is cheap, but tests are many);
every test starts from a clean slate through mock.reset()."""

from __future__ import annotations

from typing import Callable, Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from jackstop.mockprovider import MockProvider


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockProvider]:
    with MockProvider() as mock:
        yield mock


@pytest.fixture
def mock(mock_server: MockProvider) -> Iterator[MockProvider]:
    mock_server.reset()
    yield mock_server
    mock_server.reset()


# Retries are off everywhere so that a fault is seen once, at once.

@pytest.fixture
def oai(mock: MockProvider) -> openai.OpenAI:
    return openai.OpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"],
                         max_retries=0, timeout=10)


@pytest.fixture
def aoai(mock: MockProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=mock.base_url + "/v1", api_key=mock.keys["openai"],
                              max_retries=0, timeout=10)


@pytest.fixture
def ant(mock: MockProvider) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=mock.base_url, api_key=mock.keys["anthropic"],
                               max_retries=0, timeout=10)


@pytest.fixture
def aant(mock: MockProvider) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=mock.base_url, api_key=mock.keys["anthropic"],
                                    max_retries=0, timeout=10)


@pytest.fixture
def make_gem(mock: MockProvider) -> Callable[..., genai.Client]:
    def make(*, api_version: str = "v1", key: str | None = None,
             timeout_ms: int = 10_000) -> genai.Client:
        return genai.Client(
            api_key=key or mock.keys["gemini"],
            http_options=genai_types.HttpOptions(
                base_url=mock.base_url, api_version=api_version, timeout=timeout_ms,
                retry_options=genai_types.HttpRetryOptions(attempts=1),
            ),
        )

    return make


@pytest.fixture
def gem(make_gem: Callable[..., genai.Client]) -> genai.Client:
    return make_gem()
