"""Every exception Xolver raises, in one tree.

    XolverError
    ├── UserInputError            bad input from the user: a malformed problem, an unknown option
    │   └── ConfigError           a configuration that cannot be loaded or is inconsistent
    ├── ModelError                a model call failed (after the client's retries, if any)
    │   ├── ModelUnreachable      no server answers at the configured address: fatal for a run
    │   ├── ModelTimeout          the call outlived its deadline               (retried)
    │   ├── ModelRateLimited      HTTP 429                                     (retried)
    │   ├── ModelServerError      HTTP 5xx                                     (retried)
    │   ├── ModelRequestRejected  HTTP 4xx other than 429: our request is wrong (not retried)
    │   ├── ModelTruncated        the reply was cut at its token limit, also after one larger retry
    │   └── RealModelRequestBlocked  a test touched a real model without opting in
    ├── EmbeddedModelError        the embedded model is not installed or its server did not start
    └── GradingError              the grader itself failed: the answer is neither right nor wrong

Errors the *model* causes (a garbled reply, a failed call inside one agent's turn) become observations
recorded on the candidate or judgement, and the run goes on. Errors in our code, and errors that make a
run meaningless (an unreachable model), raise. The CLI turns `UserInputError`, `ModelUnreachable` and
`EmbeddedModelError` into a one-line message and exit code 2.
"""

from __future__ import annotations


class XolverError(Exception):
    """Base of every error raised by Xolver."""


class UserInputError(XolverError):
    """The user gave input Xolver cannot use; the message says what to change."""


class ConfigError(UserInputError):
    """The configuration cannot be loaded or is inconsistent."""


class ModelError(XolverError):
    """A model call failed. `retry_after` is the wait in seconds the provider asked for, when it said."""

    retryable: bool = False

    def __init__(self, message: str, *, model: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.model = model
        self.retry_after = retry_after


class ModelUnreachable(ModelError):
    """No server answers at the model's address; retrying for long will not help."""

    retryable = True


class ModelTimeout(ModelError):
    """The call did not finish before its deadline."""

    retryable = True


class ModelRateLimited(ModelError):
    """The provider asked us to slow down (HTTP 429)."""

    retryable = True


class ModelServerError(ModelError):
    """The provider failed (HTTP 5xx)."""

    retryable = True

    def __init__(
        self, message: str, *, status: int = 500, model: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, model=model, retry_after=retry_after)
        self.status = status


class ModelRequestRejected(ModelError):
    """The provider refused the request as malformed (HTTP 4xx other than 429)."""


class ModelTruncated(ModelError):
    """The reply was cut at its token limit (`finish_reason: length`), again with a larger limit: a cut
    reply is never read as an answer or a verdict."""


class RealModelRequestBlocked(ModelError):
    """A real model request was made while the test guard forbids them."""


class EmbeddedModelError(XolverError):
    """The embedded default model is missing or its loopback server failed to start."""


class GradingError(XolverError):
    """The grader could not judge an answer (its worker would not start, or kept dying); a bench run
    records the problem as `grade_failed`, never as wrong."""
