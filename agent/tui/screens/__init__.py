"""Screens shown over the conversation."""
