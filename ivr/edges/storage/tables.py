"""The tables as the migrations leave them (for queries; ``migrations`` is the schema), and how
values are stored in them.

Times arrive as timezone-aware datetimes and are stored as ISO-8601 text. Calls (their
``arrived_at`` is written by the IVR in UTC), sessions, audit entries, bulletins and operator
states are stored in UTC with milliseconds (``utc_text``), so text order is time order and
windows ("active now", "expired") are plain comparisons. Cases keep the offset they were
created with (``local_text``: the hotline's local time). Lists and mappings are JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, Float, Integer, MetaData, Table, Text

metadata = MetaData()
calls = Table(
    "calls", metadata,
    Column("call_id", Text, primary_key=True), Column("channel", Text),
    Column("caller", Text), Column("caller_name", Text), Column("language", Text),
    Column("arrived_at", Text), Column("ended_at", Text), Column("path", Text),
    Column("queue", Text), Column("priority", Integer), Column("outcome", Text),
    Column("hangup_node", Text), Column("ivr_ms", Integer), Column("flow_version", Integer),
    Column("variables", Text), Column("survey_score", Integer), Column("route_reasons", Text),
    Column("operator", Text), Column("answered_at", Text), Column("wait_seconds", Float),
    Column("talk_seconds", Float), Column("skill", Text), Column("queue_outcome", Text),
    Column("recording", Text), Column("recording_status", Text),
)
cases = Table(
    "cases", metadata,
    Column("number", Text, primary_key=True), Column("call_id", Text), Column("caller", Text),
    Column("category", Text), Column("department", Text), Column("description", Text),
    Column("status", Text), Column("created_at", Text), Column("updated_at", Text),
    Column("satisfaction", Integer), Column("urgency", Text), Column("dispatched_at", Text),
    Column("responded_at", Text), Column("resolved_at", Text), Column("question", Text),
    Column("reply", Text), Column("returned_from", Text), Column("return_reason", Text),
    Column("respond_by", Text), Column("resolve_by", Text), Column("remind_at", Text),
    Column("reminded_at", Text), Column("escalated_at", Text), Column("visit_status", Text),
    Column("visit_attempts", Integer), Column("visit_next_at", Text),
    Column("visit_resolved", Integer), Column("visit_satisfaction", Integer),
    Column("visit_at", Text), Column("place", Text), Column("suggested_department", Text),
    Column("suggestion_reason", Text), Column("suggestion_kept", Integer),
    Column("merged_into", Text),
)
case_sequence = Table(
    "case_sequence", metadata, Column("day", Text, primary_key=True), Column("last", Integer),
)
case_events = Table(
    "case_events", metadata,
    Column("id", Integer, primary_key=True), Column("number", Text), Column("at", Text),
    Column("actor", Text), Column("status", Text), Column("note", Text),
    Column("action", Text),
)
flow_versions = Table(
    "flow_versions", metadata,
    Column("id", Integer, primary_key=True), Column("flow", Text), Column("version", Text),
    Column("digest", Text), Column("text", Text), Column("published_by", Text),
    Column("published_at", Text), Column("note", Text), Column("kind", Text),
)
callbacks = Table(
    "callbacks", metadata,
    Column("id", Integer, primary_key=True), Column("call_id", Text), Column("number", Text),
    Column("skill", Text), Column("priority", Integer), Column("position", Integer),
    Column("arrived_at", Text), Column("requested_at", Text), Column("status", Text),
    Column("attempts", Text),
)
users = Table(
    "users", metadata,
    Column("username", Text, primary_key=True), Column("role", Text),
    Column("password_hash", Text), Column("created_at", Text), Column("operator_id", Text),
    Column("disabled", Boolean(create_constraint=False)), Column("department", Text),
    Column("language", Text),
)
sessions = Table(
    "web_sessions", metadata,
    Column("token_hash", Text, primary_key=True), Column("username", Text),
    Column("csrf_token", Text), Column("created_at", Text), Column("expires_at", Text),
)
api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True), Column("name", Text), Column("role", Text),
    Column("department", Text), Column("token_hash", Text), Column("created_by", Text),
    Column("created_at", Text), Column("expires_at", Text), Column("revoked_at", Text),
    Column("last_used_at", Text),
)
audit = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True), Column("at", Text), Column("actor", Text),
    Column("action", Text), Column("target", Text), Column("detail", Text),
)
bulletins = Table(
    "bulletins", metadata,
    Column("id", Integer, primary_key=True), Column("texts", Text), Column("starts_at", Text),
    Column("expires_at", Text), Column("created_by", Text), Column("created_at", Text),
    Column("withdrawn_at", Text),
)
operator_states = Table(
    "operator_states", metadata,
    Column("id", Integer, primary_key=True), Column("operator_id", Text),
    Column("state", Text), Column("reason", Text), Column("at", Text),
)
operator_logins = Table(
    "operator_logins", metadata,
    Column("operator_id", Text, primary_key=True), Column("reason", Text), Column("at", Text),
)
call_reviews = Table(
    "call_reviews", metadata,
    Column("call_id", Text, primary_key=True), Column("arrived_at", Text),
    Column("reviewer", Text),
    Column("operator", Text), Column("marks", Text), Column("points", Integer),
    Column("max_points", Integer), Column("percent", Float),
    Column("passed", Boolean(create_constraint=False)), Column("missed", Text),
    Column("comment", Text), Column("reviewed_at", Text),
)
log_cursors = Table(
    "log_cursors", metadata,
    Column("name", Text, primary_key=True), Column("byte_offset", Integer),
    Column("inode", Integer), Column("updated_at", Text),
)


def utc_text(moment: datetime) -> str:
    """Sortable UTC text: the same length and offset for every stored moment."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware times")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def local_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the store needs timezone-aware times")
    return moment.isoformat(timespec="seconds")


def json_text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
