# Copyright 2026 The hf_rmt Authors. Licensed under the Apache License, Version 2.0.
"""Helpers that every layer may use: argument validation, the package's module graph, remote-code export."""
