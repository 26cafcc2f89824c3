"""Shared capabilities every service builds on; core never imports services."""
