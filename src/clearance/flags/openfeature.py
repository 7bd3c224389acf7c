"""An OpenFeature provider evaluating clearance flags locally, from a snapshot refreshed in the background.

    api.set_provider(ClearanceProvider.connect("http://flags:4242/api", token))
    api.get_client().get_boolean_value("new-checkout", False, EvaluationContext("user-42"))

Mapped onto Unleash as Unleash's own providers do: a boolean flag is `is_enabled`; string, number
and object flags are the payload of the variant the caller gets (a variant without a payload gives
its name to string flags). Every failure answers the caller's default with an OpenFeature error code.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderFatalError, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from clearance.flags.context import Context
from clearance.flags.engine import Evaluator
from clearance.flags.model import Feature, Snapshot
from clearance.flags.snapshot_client import HttpSnapshotSource, SnapshotSource, SnapshotUnavailable

logger = logging.getLogger("clearance.flags.openfeature")

T = TypeVar("T")
ObjectValue = Sequence[FlagValueType] | Mapping[str, FlagValueType]


class _Mismatch(Exception):
    """The flag's value exists but is not of the requested type (or cannot be read as it)."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _Loaded:
    evaluator: Evaluator
    features: Mapping[str, Feature]

    @classmethod
    def of(cls, snapshot: Snapshot, hostname: str) -> _Loaded:
        features = {feature.name: feature for feature in snapshot.features}
        return cls(Evaluator(snapshot, hostname=hostname), features)


class ClearanceProvider(AbstractProvider):
    """Evaluates against the latest snapshot of `source`, refreshed every `refresh_interval` seconds.

    Events: PROVIDER_READY once a first snapshot is in (and again after a failure heals),
    PROVIDER_CONFIGURATION_CHANGED with the changed flag names on each new snapshot, PROVIDER_ERROR
    when a refresh fails — evaluation goes on with the last snapshot.
    """

    def __init__(self, source: SnapshotSource, *, refresh_interval: float = 15.0) -> None:
        super().__init__()
        self.source = source
        self.refresh_interval = refresh_interval
        self._loaded: _Loaded | None = None
        self._hostname = socket.gethostname()
        self._failure: SnapshotUnavailable | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def connect(
        cls, url: str, token: str, *, refresh_interval: float = 15.0, timeout: float = 5.0
    ) -> ClearanceProvider:
        """A provider reading `GET {url}/client/features` with the environment's client `token`."""
        return cls(HttpSnapshotSource(url, token, timeout=timeout), refresh_interval=refresh_interval)

    def get_metadata(self) -> Metadata:
        return Metadata(name="clearance")

    # Lifecycle ------------------------------------------------------------------------------

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Fetch the first snapshot, then keep refreshing in a daemon thread.

        Raises when there is no first snapshot (the SDK reports PROVIDER_ERROR); the thread keeps
        trying and emits PROVIDER_READY when one arrives.
        """
        self._stop.clear()
        try:
            self._refresh(initializing=True)
        finally:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="clearance-flags", daemon=True)
                self._thread.start()
        if self._loaded is None:
            failure = self._failure
            if failure is not None and failure.kind == "rejected":
                raise ProviderFatalError(failure.message)
            raise ProviderNotReadyError(failure.message if failure else "no flag snapshot yet")

    def shutdown(self) -> None:
        """Stop refreshing and release the connection; the last snapshot stays readable."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.refresh_interval + 10)
        self.source.close()

    def refresh(self) -> None:
        """Fetch now (the background thread does this every `refresh_interval`)."""
        self._refresh(initializing=False)

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            try:
                self._refresh(initializing=False)
            except Exception:  # the thread must outlive any surprise; the next tick retries
                logger.exception("refreshing the flag snapshot failed")

    def _refresh(self, *, initializing: bool) -> None:
        with self._lock:
            try:
                snapshot = self.source.fetch()
            except SnapshotUnavailable as exc:
                self._report_failure(exc, initializing=initializing)
                return
            healed, self._failure = self._failure is not None, None
            previous = self._loaded
            if snapshot is not None:
                self._loaded = _Loaded.of(snapshot, self._hostname)
            if initializing:
                return  # the SDK emits PROVIDER_READY when initialize returns
            if (previous is None and self._loaded is not None) or (healed and previous is not None):
                self.emit_provider_ready(ProviderEventDetails(message="flag snapshot loaded"))
            if previous is not None and snapshot is not None:
                changed = _changed_flags(previous.evaluator.snapshot, snapshot)
                self.emit_provider_configuration_changed(
                    ProviderEventDetails(flags_changed=changed, message="new flag snapshot")
                )

    def _report_failure(self, exc: SnapshotUnavailable, *, initializing: bool) -> None:
        already, self._failure = self._failure is not None, exc
        logger.warning("%s", exc.message)
        if already or initializing:  # one event per outage; initialize's failure is the SDK's to report
            return
        code = {"rejected": ErrorCode.PROVIDER_FATAL, "invalid": ErrorCode.PARSE_ERROR}.get(
            exc.kind, ErrorCode.GENERAL
        )
        if self._loaded is not None and code is ErrorCode.PROVIDER_FATAL:
            code = ErrorCode.GENERAL  # a refused token mid-flight must not stop serving the last snapshot
        self.emit_provider_error(ProviderEventDetails(message=exc.message, error_code=code))

    # Resolution -----------------------------------------------------------------------------

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        def boolean(evaluator: Evaluator, feature: Feature, context: Context) -> FlagResolutionDetails[bool]:
            if not feature.enabled:
                return FlagResolutionDetails(False, reason=Reason.DISABLED)
            if evaluator.is_enabled(flag_key, context):
                return FlagResolutionDetails(True, reason=Reason.TARGETING_MATCH)
            return FlagResolutionDetails(False, reason=Reason.DEFAULT)

        return self._resolve(flag_key, default_value, evaluation_context, boolean)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve_variant(flag_key, default_value, evaluation_context, _as_string)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve_variant(flag_key, default_value, evaluation_context, _as_integer)

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._resolve_variant(flag_key, default_value, evaluation_context, _as_float)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: ObjectValue,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[ObjectValue]:
        return self._resolve_variant(flag_key, default_value, evaluation_context, _as_object)

    def _resolve_variant(
        self,
        flag_key: str,
        default_value: T,
        evaluation_context: EvaluationContext | None,
        convert: Callable[[str, str | None, str], T | None],
    ) -> FlagResolutionDetails[T]:
        def variant_value(
            evaluator: Evaluator, feature: Feature, context: Context
        ) -> FlagResolutionDetails[T]:
            if not feature.enabled:
                return FlagResolutionDetails(default_value, reason=Reason.DISABLED)
            variant = evaluator.get_variant(flag_key, context)
            if not variant.enabled:  # off for this caller, or on without variants
                return FlagResolutionDetails(default_value, reason=Reason.DEFAULT)
            payload = variant.payload
            try:
                value = convert(
                    variant.name, payload.type if payload else None, payload.value if payload else ""
                )
            except _Mismatch as exc:
                return _error(default_value, exc.code, f"flag {flag_key!r}: {exc}", variant.name)
            if value is None:
                return FlagResolutionDetails(default_value, reason=Reason.DEFAULT, variant=variant.name)
            return FlagResolutionDetails(value, reason=Reason.TARGETING_MATCH, variant=variant.name)

        return self._resolve(flag_key, default_value, evaluation_context, variant_value)

    def _resolve(
        self,
        flag_key: str,
        default_value: T,
        evaluation_context: EvaluationContext | None,
        answer: Callable[[Evaluator, Feature, Context], FlagResolutionDetails[T]],
    ) -> FlagResolutionDetails[T]:
        loaded = self._loaded
        if loaded is None:
            return _error(default_value, ErrorCode.PROVIDER_NOT_READY, "no flag snapshot yet")
        feature = loaded.features.get(flag_key)
        if feature is None:
            return _error(default_value, ErrorCode.FLAG_NOT_FOUND, f"no flag {flag_key!r} in the snapshot")
        try:
            return answer(loaded.evaluator, feature, to_context(evaluation_context))
        except Exception as exc:  # never raise into the application
            logger.exception("evaluating flag %r failed", flag_key)
            return _error(default_value, ErrorCode.GENERAL, f"flag {flag_key!r}: {exc!r}")


def to_context(evaluation_context: EvaluationContext | None) -> Context:
    """OpenFeature's context as clearance's: the targeting key is `userId`, attributes go by name.

    `userId`, `sessionId`, `remoteAddress`, `environment`, `appName` and `currentTime` are the
    context's fields; any other attribute is a property (non-scalar values are dropped).
    """
    if evaluation_context is None:
        return Context()
    data: dict[str, Any] = {}
    if evaluation_context.targeting_key:
        data["userId"] = evaluation_context.targeting_key
    data.update(evaluation_context.attributes)
    return Context.from_dict(data)


def _error(
    default_value: T, code: ErrorCode, message: str, variant: str | None = None
) -> FlagResolutionDetails[T]:
    return FlagResolutionDetails(
        default_value, error_code=code, error_message=message, reason=Reason.ERROR, variant=variant
    )


def _as_string(name: str, payload_type: str | None, text: str) -> str:
    if payload_type is None:
        return name
    if payload_type != "string":
        raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"variant {name!r} holds a {payload_type}, not a string")
    return text


def _as_integer(name: str, payload_type: str | None, text: str) -> int | None:
    number = _as_float(name, payload_type, text)
    if number is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"variant {name!r} holds {text!r}, not an integer") from None


def _as_float(name: str, payload_type: str | None, text: str) -> float | None:
    if payload_type is None:
        return None
    if payload_type != "number":
        raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"variant {name!r} holds a {payload_type}, not a number")
    try:
        return float(text)
    except ValueError:
        raise _Mismatch(ErrorCode.PARSE_ERROR, f"variant {name!r} holds {text!r}, not a number") from None


def _as_object(name: str, payload_type: str | None, text: str) -> ObjectValue | None:
    if payload_type is None:
        return None
    if payload_type == "csv":
        return [item.strip() for item in text.split(",")] if text.strip() else []
    if payload_type != "json":
        raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"variant {name!r} holds a {payload_type}, not an object")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _Mismatch(ErrorCode.PARSE_ERROR, f"variant {name!r} holds invalid JSON: {exc}") from None
    if not isinstance(value, dict | list):
        raise _Mismatch(ErrorCode.TYPE_MISMATCH, f"variant {name!r} holds a JSON {type(value).__name__}")
    result: ObjectValue = value
    return result


def _changed_flags(before: Snapshot, after: Snapshot) -> list[str]:
    old = {feature.name: feature for feature in before.features}
    new = {feature.name: feature for feature in after.features}
    return sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
