"""Model access: the `Model` seam, litellm behind it, the embedded default, and the wrappers."""

from xolver.llm.base import Message, Model, ModelRequest, ModelResponse
from xolver.llm.client import ModelClient
from xolver.llm.embedded import EmbeddedModel
from xolver.llm.litellm_model import LiteLLMModel
from xolver.llm.usage import usage_scope

__all__ = [
    "EmbeddedModel",
    "LiteLLMModel",
    "Message",
    "Model",
    "ModelClient",
    "ModelRequest",
    "ModelResponse",
    "usage_scope",
]
