"""Telephone numbers the hotline dials: what a flow may transfer to, who may be called back,
what an operator may transfer a caller to."""

from __future__ import annotations

import re

EXTERNAL_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
"""A number outside the hotline: a flow's transfer target, a citizen to call back."""
DEPARTMENT_NUMBER = re.compile(r"[0-9]{2,15}")
"""What the dialplan's transfer context (its ``_X!`` pattern) takes: a department's number,
digits only (``fullmatch``)."""
