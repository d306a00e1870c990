"""The settings an admin may override, each with its type and bounds. The name is the field of
``clipfeed.settings.Settings`` it overrides, so the effective settings are the environment's
with these fields replaced (``service.effective``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter, ValidationError

from clipfeed.core.errors import Invalid, NotFound
from clipfeed.core.text import OneLine, Paragraphs
from clipfeed.instance.models import RegistrationMode
from clipfeed.instance.policy import DEFAULT_POLICY, full_policy
from clipfeed.settings import Settings

Section = Literal["instance", "registration", "limits", "screening"]
Kind = Literal["text", "paragraphs", "choice", "bytes", "seconds", "policy"]
MiB = 1024 * 1024
SCREENING_CHECKS = tuple(DEFAULT_POLICY)
# Scores are at most 1; a threshold above it (up to this) means "never".
MAX_THRESHOLD = 2.0
Threshold = Annotated[float, Field(ge=0.0, le=MAX_THRESHOLD, allow_inf_nan=False)]


@dataclass(frozen=True)
class Overridable:
    name: str
    section: Section
    kind: Kind
    adapter: TypeAdapter[Any]
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def environment_variable(self) -> str:
        return f"CLIPFEED_{self.name.upper()}"


def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


CATALOGUE: dict[str, Overridable] = {s.name: s for s in (
    Overridable("instance_name", "instance", "text",
                _adapter(Annotated[OneLine, Field(min_length=1, max_length=60)])),
    Overridable("instance_description", "instance", "paragraphs",
                _adapter(Annotated[Paragraphs, Field(max_length=500)])),
    Overridable("registration_mode", "registration", "choice", _adapter(RegistrationMode),
                choices=get_args(RegistrationMode)),
    Overridable("upload_max_bytes", "limits", "bytes",
                _adapter(Annotated[int, Field(strict=True, ge=MiB, le=1024 * 1024 * MiB)]),
                minimum=MiB, maximum=1024 * 1024 * MiB),
    Overridable("upload_max_duration_s", "limits", "seconds",
                _adapter(Annotated[float, Field(ge=1.0, le=24 * 3600.0, allow_inf_nan=False)]),
                minimum=1.0, maximum=24 * 3600.0),
    Overridable("screening_policy", "screening", "policy",
                _adapter(dict[Literal[SCREENING_CHECKS], tuple[Threshold, Threshold]]),  # type: ignore[valid-type]
                minimum=0.0, maximum=MAX_THRESHOLD),
)}


def lookup(name: str) -> Overridable:
    try:
        return CATALOGUE[name]
    except KeyError:
        raise NotFound(f"no setting {name!r}; known: {', '.join(CATALOGUE)}") from None


def environment_value(name: str, base: Settings) -> Any:
    """What the environment gives ``name``, in the form the console shows and stores. The
    screening policy shows the whole table (defaults with the environment's overrides)."""
    if name == "screening_policy":
        return {check: list(pair) for check, pair in full_policy(base.screening_policy).items()}
    return getattr(base, name)


def check(name: str, value: Any, *, base: Settings) -> Any:
    """``value`` as stored for ``name`` (JSON-ready), or ``Invalid`` saying what is wrong."""
    setting = lookup(name)
    try:
        parsed = setting.adapter.validate_python(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise Invalid(f"{name}: {errors[0]['msg']}", errors=errors) from exc
    if name == "upload_max_duration_s":
        if parsed <= base.upload_min_duration_s:
            raise Invalid("upload_max_duration_s must be above the minimum duration "
                          f"({base.upload_min_duration_s:g} s)")
        if parsed > base.media_max_duration_s:
            raise Invalid(f"the media pipeline takes at most {base.media_max_duration_s:g} s "
                          "(CLIPFEED_MEDIA_MAX_DURATION_S); raise that first")
    if name == "screening_policy":
        for check_name, (hold, reject) in parsed.items():
            if hold > reject:
                raise Invalid(f"screening_policy.{check_name}: the hold threshold ({hold:g}) is above "
                              f"the reject threshold ({reject:g})")
        return {c: list(pair) for c, pair in parsed.items()}
    return parsed
