"""The loop behind the phone, in the shell: deadlines watched (reminders, escalation, the
supervisors' alerts) and, later, return visits."""
