"""The two kinds of response model every route's answer is declared with (issue 12).

* :class:`Closed` — every key is named; a key the model does not name makes the handler fail
  (500, ``ResponseValidationError``) instead of reaching the caller. Used wherever the answer
  is what OHS or admin may see, so a measured value cannot leave by accident.
* :class:`Passed` — an answer a hub module builds whole (a model's output, a stored document):
  its named keys are documented and checked, the rest are passed on as the module built them.
  Used only for the medic's own views and for outputs with no individual medical value.

Keys that a handler only sometimes sends are declared with a default and the route uses
``response_model_exclude_unset=True`` (:data:`AS_BUILT`), so the JSON stays exactly what the
handler built: an absent key stays absent, it is never filled with ``null``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Closed(BaseModel):
    """A response (or part of one) with every key named: an unnamed key is refused."""

    model_config = ConfigDict(extra="forbid")


class Passed(BaseModel):
    """A response whose named keys are checked and whose other keys pass through as built."""

    model_config = ConfigDict(extra="allow")


#: Route arguments that keep the JSON as the handler built it (optional keys stay absent when not sent).
AS_BUILT: dict[str, Any] = {"response_model_exclude_unset": True}

#: Free-form JSON (an object a hub module or a kiosk produced): documented as an object.
Json = dict[str, Any]
