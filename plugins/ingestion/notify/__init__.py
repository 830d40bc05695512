"""Alerts to Microsoft Teams (Adaptive Card to a Workflows webhook) and Slack (the provider's webhook notifier)."""
