"""Tells employees what became of their reports: mail, Slack, Teams."""
